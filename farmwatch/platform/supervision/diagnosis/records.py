"""What the diagnosis keeps per camera: its samples and its current state (frozen records;
the repository maps them to rows)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from farmwatch.platform.supervision.diagnosis.checks import Measurements, PictureFault

__all__ = ["CameraPictureState", "PictureSample", "SampleOutcome"]


class SampleOutcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    """No picture to judge: the camera did not answer, or its keyframe did not decode."""


@dataclass(frozen=True, slots=True)
class PictureSample:
    channel_id: str
    sampled_at: datetime
    outcome: SampleOutcome
    failures: tuple[PictureFault, ...] = ()
    detail: str | None = None
    """Why it was unavailable, or what failed and by how much."""
    measurements: Measurements | None = None


@dataclass(frozen=True, slots=True)
class CameraPictureState:
    """A camera's standing: its last sample, and whether its picture fails now."""

    channel_id: str
    sampled_at: datetime
    outcome: SampleOutcome
    is_failed: bool
    failures: tuple[PictureFault, ...]
    detail: str | None
    thumbnail: bytes | None
