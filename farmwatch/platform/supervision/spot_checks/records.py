"""What a spot check is once drawn: the draw (who, when, the seed, the population it was
drawn from) and each camera drawn with the result the inspector recorded for it. Frozen
values; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.supervision.monitoring_records import Outcome, PointAnswer, ViewMode
from farmwatch.platform.supervision.spot_checks.draw import Candidate

__all__ = [
    "MAX_COUNT",
    "MAX_PERIOD",
    "FarmTally",
    "ItemResult",
    "ItemState",
    "SpotCheck",
    "SpotCheckItem",
    "SpotCheckReport",
    "Verification",
]

MAX_COUNT = 100
"""Cameras one spot check may draw."""
MAX_PERIOD = 64
"""Characters of a period label ("2026-12", "2026 Q4")."""


class ItemState(StrEnum):
    PENDING = "pending"
    RECORDED = "recorded"
    """Watched, and the checklist answered."""
    UNPLAYABLE = "unplayable"
    """The camera would not play (live or playback); the remark says why."""

    @property
    def label_zh(self) -> str:
        return {"pending": "待检查", "recorded": "已记录", "unplayable": "无法播放"}[self.value]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What the inspector recorded for one drawn camera."""

    state: ItemState
    key_area: KeyArea | None
    answers: tuple[PointAnswer, ...]
    remark: str
    outcome: Outcome | None
    mode: ViewMode | None
    recorded_by: str
    recorded_user_id: int | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class SpotCheckItem:
    position: int
    channel_id: str
    device_id: str
    farm_key: str
    farm_name: str
    weight: float
    state: ItemState
    key_area: KeyArea | None
    """The recorded one, else the camera's local key area when it was drawn (a default)."""
    answers: tuple[PointAnswer, ...] = ()
    remark: str = ""
    outcome: Outcome | None = None
    mode: ViewMode | None = None
    recorded_by: str | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SpotCheck:
    id: int
    organisation_id: int
    drawn_by: str
    drawn_by_user_id: int | None
    drawn_at: datetime
    requested: int
    seed: str
    """16 hex digits: the 64-bit seed of `draw.draw`."""
    population_digest: str
    period: str | None
    items: tuple[SpotCheckItem, ...]
    population: tuple[Candidate, ...] = ()
    """Only read for a verification (a check's own page does not need it)."""

    @property
    def seed_value(self) -> int:
        return int(self.seed, 16)


@dataclass(frozen=True, slots=True)
class Verification:
    """A stored draw run again: whether the population still hashes to its digest and the
    same seed draws the same cameras in the same order."""

    digest_matches: bool
    draw_matches: bool
    population: int
    """Cameras in the stored population."""
    expected: tuple[str, ...]
    """The channel IDs the stored seed draws from the stored population, in order."""

    @property
    def ok(self) -> bool:
        return self.digest_matches and self.draw_matches


@dataclass(frozen=True, slots=True)
class FarmTally:
    farm_key: str
    farm_name: str
    drawn: int = 0
    recorded: int = 0
    unplayable: int = 0
    pending: int = 0
    not_compliant: int = 0
    """Records with at least one point not compliant."""
    not_compliant_points: int = 0


@dataclass(frozen=True, slots=True)
class SpotCheckReport:
    """The spot checks drawn in a period (`since` inclusive, `until` exclusive)."""

    since: datetime | None
    until: datetime | None
    checks: int
    total: FarmTally
    farms: tuple[FarmTally, ...]
