"""The six key areas a farm camera watches (regulation art. 11–17, MISSION.md): stable
English values on the wire and in the database, the regulation's Chinese terms for people."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["KeyArea"]


class KeyArea(StrEnum):
    FARM_ENTRANCE = "farm_entrance"
    DRUG_STORE = "drug_store"
    FEED_STORE = "feed_store"
    DRUG_PREPARATION = "drug_preparation"
    FEEDING_POINT = "feeding_point"
    ANIMAL_HOUSE = "animal_house"

    @property
    def label_zh(self) -> str:
        """The regulation's own term (what the console shows in Chinese)."""
        return _LABELS_ZH[self]

    @property
    def label_en(self) -> str:
        return _LABELS_EN[self]


_LABELS_ZH = {
    KeyArea.FARM_ENTRANCE: "场区",
    KeyArea.DRUG_STORE: "药库",
    KeyArea.FEED_STORE: "料库",
    KeyArea.DRUG_PREPARATION: "药品配置间",
    KeyArea.FEEDING_POINT: "饲料投放处",
    KeyArea.ANIMAL_HOUSE: "畜禽舍",
}
_LABELS_EN = {
    KeyArea.FARM_ENTRANCE: "Farm entrance",
    KeyArea.DRUG_STORE: "Drug store",
    KeyArea.FEED_STORE: "Feed store",
    KeyArea.DRUG_PREPARATION: "Drug preparation room",
    KeyArea.FEEDING_POINT: "Feeding point",
    KeyArea.ANIMAL_HOUSE: "Animal house",
}
