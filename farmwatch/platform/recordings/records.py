"""Frozen records of recorded video as the repositories hand them out (no SQLAlchemy rows).

Times are timezone-aware UTC datetimes in storage; services show them in the platform's
one zone. Paths of files are relative to the storage folder, so a moved storage folder
keeps its index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum

__all__ = [
    "ClipState",
    "DownloadState",
    "DownloadTask",
    "EvidenceClip",
    "PlanMode",
    "RecordPlan",
    "SegmentData",
    "SegmentRecord",
    "WeeklyWindow",
]


@dataclass(frozen=True, slots=True)
class SegmentData:
    """A closed platform recording segment to index."""

    channel_id: str
    device_id: str
    location: str
    path: str
    start_at: datetime
    end_at: datetime
    bytes: int
    frames: int
    codec: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    id: int
    channel_id: str
    device_id: str
    location: str
    path: str
    start_at: datetime
    end_at: datetime
    bytes: int
    frames: int
    codec: str | None
    width: int | None
    height: int | None
    is_locked: bool
    created_at: datetime

    @property
    def duration(self) -> float:
        return (self.end_at - self.start_at).total_seconds()


class PlanMode(StrEnum):
    OFF = "off"
    CONTINUOUS = "continuous"
    WEEKLY = "weekly"


@dataclass(frozen=True, slots=True, order=True)
class WeeklyWindow:
    """Recording on `weekday` (0 Monday … 6 Sunday) from `start` to `end` (local time of
    the platform's zone; `end` after `start`, 24:00 written as 23:59:59)."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """What should be recording for a channel; `record_until` ("record now for N minutes")
    adds to the mode until then."""

    channel_id: str
    mode: PlanMode
    windows: tuple[WeeklyWindow, ...]
    record_until: datetime | None
    updated_at: datetime


class DownloadState(StrEnum):
    PENDING = "pending"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (DownloadState.COMPLETED, DownloadState.FAILED, DownloadState.CANCELLED)


@dataclass(frozen=True, slots=True)
class DownloadTask:
    id: str
    channel_id: str
    device_id: str
    source: str
    start_at: datetime
    end_at: datetime
    speed: int
    state: DownloadState
    progress: float
    path: str | None
    bytes: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ClipState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EvidenceClip:
    id: str
    channel_id: str
    start_at: datetime
    end_at: datetime
    reason: str
    source: str
    state: ClipState
    path: str | None
    sha256: str | None
    bytes: int | None
    error: str | None
    created_at: datetime
