"""What a farm keeps (出口畜禽: pigs, poultry, cattle, sheep...): stable English values on
the wire and in the database, Chinese labels for people; anything else is `other` with the
operator's own words beside it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Species"]


class Species(StrEnum):
    PIG = "pig"
    POULTRY = "poultry"
    CATTLE = "cattle"
    SHEEP = "sheep"
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]

    @property
    def label_en(self) -> str:
        return _LABELS_EN[self]


_LABELS_ZH = {
    Species.PIG: "猪",
    Species.POULTRY: "禽",
    Species.CATTLE: "牛",
    Species.SHEEP: "羊",
    Species.OTHER: "其他",
}
_LABELS_EN = {
    Species.PIG: "Pigs",
    Species.POULTRY: "Poultry",
    Species.CATTLE: "Cattle",
    Species.SHEEP: "Sheep",
    Species.OTHER: "Other",
}
