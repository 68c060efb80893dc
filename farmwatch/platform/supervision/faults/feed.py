"""The console's notification feed of fault tickets: what happened to which ticket, in
order, for long polls (`GET /api/faults/events`).

Kept in memory, the latest `capacity` events: the feed rings the console's bell while it
is open; the tickets themselves, their history, reminders and escalation are in the
database. After a restart the IDs start again from 1, and a poll with a cursor beyond the
newest event starts over from the oldest one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farmwatch.platform.supervision.faults.records import FaultTicket

__all__ = ["FaultEvent", "FaultEventKind", "FaultFeed"]

MAX_WAIT = 30.0


class FaultEventKind(StrEnum):
    OPENED = "opened"
    STATE = "state"
    """Moved by a person (notified, fixed, verified, closed)."""
    CLOSED = "closed"
    """Closed by the platform: the camera is back."""
    REMINDED = "reminded"
    ESCALATED = "escalated"
    """Unfixed for `fault_escalate_after`: for the administrators."""


@dataclass(frozen=True, slots=True)
class FaultEvent:
    id: int
    kind: FaultEventKind
    at: datetime
    ticket: FaultTicket


class FaultFeed:
    def __init__(self, capacity: int = 1000) -> None:
        self._events: deque[FaultEvent] = deque(maxlen=capacity)
        self._next_id = 1
        self._added = asyncio.Event()
        self._releasing = False

    @property
    def latest_id(self) -> int:
        return self._next_id - 1

    def add(self, kind: FaultEventKind, ticket: FaultTicket, at: datetime) -> FaultEvent:
        event = FaultEvent(self._next_id, kind, at, ticket)
        self._next_id += 1
        self._events.append(event)
        added, self._added = self._added, asyncio.Event()
        added.set()
        return event

    def after(self, cursor: int, seen: Callable[[FaultEvent], bool]) -> list[FaultEvent]:
        if cursor > self.latest_id:
            cursor = 0  # a cursor of before a restart
        return [event for event in self._events if event.id > cursor and seen(event)]

    async def wait(
        self, cursor: int | None, seen: Callable[[FaultEvent], bool], wait: float
    ) -> tuple[list[FaultEvent], int]:
        """The events after `cursor` that `seen` lets through, waiting up to `wait` seconds
        for one; and the cursor of the next poll. `cursor` None: from now on."""
        cursor = self.latest_id if cursor is None else cursor
        found = self.after(cursor, seen)
        if not found and wait > 0 and not self._releasing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, MAX_WAIT)):
                    while not found and not self._releasing:
                        await self._added.wait()
                        found = self.after(cursor, seen)
        return found, (found[-1].id if found else min(cursor, self.latest_id))

    def release_waiters(self) -> None:
        """The platform is stopping: every waiting poll answers now, new ones do not wait."""
        self._releasing = True
        added, self._added = self._added, asyncio.Event()
        added.set()
