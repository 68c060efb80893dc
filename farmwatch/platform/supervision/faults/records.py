"""What the fault tickets are made of, as the repository hands them out (frozen records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from farmwatch.platform.supervision.faults.states import FaultKind, FaultState

__all__ = ["FaultFilter", "FaultTicket", "FaultTransition", "NewFault"]

AUTO = "auto"
"""The `by` of a transition the platform made itself."""


@dataclass(frozen=True, slots=True)
class FaultTransition:
    """One row of a ticket's history: from which state to which, who, when, why."""

    source: FaultState | None
    """None for the row that opened the ticket."""
    target: FaultState
    by: str
    at: datetime
    remark: str | None


@dataclass(frozen=True, slots=True)
class NewFault:
    """A fault to open (or, when one of the channel and kind is open, to update)."""

    farm_id: int | None
    device_id: str
    channel_id: str
    kind: FaultKind
    since: datetime
    """When the fault began (the device went offline, the start failed)."""
    detail: str | None
    opened_by: str


@dataclass(frozen=True, slots=True)
class FaultTicket:
    id: int
    farm_id: int | None
    device_id: str
    channel_id: str
    kind: FaultKind
    state: FaultState
    since: datetime
    opened_at: datetime
    opened_by: str
    detail: str | None
    updated_at: datetime
    fixed_at: datetime | None
    ended_at: datetime | None
    """When it was verified or closed."""
    reminders_sent: int
    last_reminded_at: datetime | None
    escalated_at: datetime | None
    occurrences: int
    """How many times the fault was reported while this ticket was open."""
    history: tuple[FaultTransition, ...] = ()

    @property
    def is_escalated(self) -> bool:
        return self.escalated_at is not None

    @property
    def repaired_at(self) -> datetime | None:
        """When the fault ended: fixed by the farm, else (closed by itself) closed."""
        return self.fixed_at or self.ended_at


@dataclass(frozen=True, slots=True)
class FaultFilter:
    """What `FaultRepository.find` returns: all set conditions hold. `farms` None: every
    farm (and tickets of devices placed on none); else only tickets of these farms."""

    state: FaultState | None = None
    kind: FaultKind | None = None
    farm_id: int | None = None
    farms: frozenset[int] | None = None
    channel_id: str | None = None
    device_id: str | None = None
    is_open: bool | None = None
