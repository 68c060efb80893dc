"""What a [2022] device reports it keeps, as values: its guard position (看守位), its cruise
tracks (巡航轨迹) and their points, and its storage cards (存储卡) (GB/T 28181-2022 A.2.4
HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery, SDCardStatus and their A.2.6
answers; gb28181.md §4.14).

These are what the answers carry once read: numbers a device left out or garbled are None,
a card status outside the standard's five words keeps its text in `status_raw`. The
messages that carry them are in `manscdp`; building and reading is `manscdp_device_state`.
Pure: values only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CruisePoint", "CruiseTrackEntry", "HomePosition", "SdCard", "SdCardState"]


@dataclass(frozen=True, slots=True)
class HomePosition:
    """The guard position (看守位): when `enabled`, the camera goes back to preset
    `preset_index` after `reset_time` seconds without control."""

    enabled: bool | None
    reset_time: int | None = None
    """Seconds (自动归位时间)."""
    preset_index: int | None = None


@dataclass(frozen=True, slots=True)
class CruiseTrackEntry:
    """One `CruiseTrackList/CruiseTrack`: the track's `Number` (what CruiseTrackQuery asks
    by; the standard numbers the first track 0) and its `Name`."""

    number: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CruisePoint:
    """One `CruisePointList/CruisePoint`: a preset the cruise passes, how long it stays
    there (`StayTime`, seconds) and how fast it goes on (`Speed`)."""

    preset_index: int
    stay_time: int | None = None
    speed: int | None = None


class SdCardState(enum.StrEnum):
    """`Status` of a storage card, as the standard spells it (lower case)."""

    OK = "ok"
    FORMATTING = "formatting"
    UNFORMATTED = "unformatted"
    IDLE = "idle"
    ERROR = "error"

    @classmethod
    def from_wire(cls, text: str | None) -> SdCardState | None:
        """Case-insensitive; None for a word outside the five (or none)."""
        word = (text or "").strip().lower()
        return next((member for member in cls if member.value == word), None)


@dataclass(frozen=True, slots=True)
class SdCard:
    """One `SDCardStatusInfo/Item`: the card's `ID` (the FormatSDCard number; 0 there means
    all cards), `HddName`, status, format progress (0-100, while formatting) and its
    capacity and free space in MB."""

    card_id: int
    name: str | None = None
    status: SdCardState | None = None
    status_raw: str | None = None
    """The `Status` text as sent, when it is none of the five words."""
    format_progress: int | None = None
    capacity_mb: int | None = None
    free_mb: int | None = None
