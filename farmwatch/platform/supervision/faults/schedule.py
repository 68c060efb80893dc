"""When an unfixed ticket reminds the farm again and when it is escalated (pure).

A ticket that is neither fixed nor finished reminds every `remind_after` seconds, counted
from its opening and then from its last reminder; once it has been open `escalate_after`
seconds it is escalated, once, to the administrators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from farmwatch.platform.supervision.faults.records import FaultTicket

__all__ = ["DueAction", "FaultDeadlines", "due_actions", "next_due"]


class DueAction(StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class FaultDeadlines:
    remind_after: timedelta
    escalate_after: timedelta


def _next_reminder(ticket: FaultTicket, deadlines: FaultDeadlines) -> datetime:
    return (ticket.last_reminded_at or ticket.opened_at) + deadlines.remind_after


def due_actions(ticket: FaultTicket, now: datetime, deadlines: FaultDeadlines) -> list[DueAction]:
    """What is due for `ticket` at `now` (nothing once it is fixed, verified or closed)."""
    if not ticket.state.awaits_farm:
        return []
    due: list[DueAction] = []
    if now >= _next_reminder(ticket, deadlines):
        due.append(DueAction.REMIND)
    if ticket.escalated_at is None and now >= ticket.opened_at + deadlines.escalate_after:
        due.append(DueAction.ESCALATE)
    return due


def next_due(ticket: FaultTicket, deadlines: FaultDeadlines) -> datetime | None:
    """The next moment something becomes due for `ticket`; None when nothing will."""
    if not ticket.state.awaits_farm:
        return None
    moments = [_next_reminder(ticket, deadlines)]
    if ticket.escalated_at is None:
        moments.append(ticket.opened_at + deadlines.escalate_after)
    return min(moments)
