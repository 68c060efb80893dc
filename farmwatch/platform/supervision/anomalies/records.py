"""What the anomaly work stores and hands out: frozen records, no rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farmwatch.platform.supervision.anomalies.states import AnomalyState, EvidenceState

__all__ = [
    "MAX_CATEGORY",
    "MAX_DESCRIPTION",
    "Anomaly",
    "AnomalyFilter",
    "EvidenceLink",
    "FollowUp",
    "HistoryEntry",
    "NewAnomaly",
    "ViewMode",
]

MAX_DESCRIPTION = 2048
MAX_CATEGORY = 64


class ViewMode(StrEnum):
    """Where the anomaly was seen: live, or in a recording played back."""

    LIVE = "live"
    PLAYBACK = "playback"


@dataclass(frozen=True, slots=True)
class NewAnomaly:
    farm_id: int
    channel_id: str
    reporter: str
    reporter_user_id: int | None
    reported_at: datetime
    seen_at: datetime
    """The moment seen: now for live view, the recorded time for a playback."""
    mode: ViewMode
    category: str | None
    description: str


@dataclass(frozen=True, slots=True)
class Anomaly:
    id: int
    farm_id: int
    channel_id: str
    reporter: str
    reporter_user_id: int | None
    reported_at: datetime
    seen_at: datetime
    mode: ViewMode
    category: str | None
    description: str
    state: AnomalyState
    evidence_state: EvidenceState
    evidence_error: str | None
    order: str | None
    deadline: datetime | None
    ordered_by: str | None
    ordered_at: datetime | None
    case_number: str | None
    closed_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    anomaly_id: int
    at: datetime
    by: str
    from_state: AnomalyState | None
    """None for the report itself."""
    to_state: AnomalyState
    remark: str


@dataclass(frozen=True, slots=True)
class EvidenceLink:
    anomaly_id: int
    clip_id: str
    attached_at: datetime
    attached_by: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A monitoring record that followed the anomaly up (its ID, not checked here)."""

    anomaly_id: int
    monitoring_record_id: int
    linked_at: datetime
    linked_by: str


@dataclass(frozen=True, slots=True)
class AnomalyFilter:
    """What `AnomalyRepository.find` returns; `farms` None: every farm."""

    farms: frozenset[int] | None = None
    state: AnomalyState | None = None
    farm_id: int | None = None
    after_id: int | None = None
