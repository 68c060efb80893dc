"""Why a farm is flagged for more on-site inspection (regulation art. 19–20: a broken or
switched-off camera, an anomaly seen on video). The farm register shows the flags; what
raises them (open faults, open anomalies) answers through `FarmFlags`, wired in `app.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

__all__ = ["FarmFlag", "FarmFlags", "FlagKind", "NoFarmFlags"]


class FlagKind(StrEnum):
    FAULT = "fault"
    """A device fault not yet fixed (art. 19)."""
    ANOMALY = "anomaly"
    """An anomaly reported and not yet closed (art. 20)."""


@dataclass(frozen=True, slots=True)
class FarmFlag:
    kind: FlagKind
    since: datetime
    reason: str
    reference: str | None = None
    """The fault's or anomaly's ID, for a link."""


class FarmFlags(Protocol):
    async def flags(self, farm_id: int) -> list[FarmFlag]: ...


class NoFarmFlags:
    """No source of flags yet: every farm is unflagged."""

    async def flags(self, farm_id: int) -> list[FarmFlag]:
        return []
