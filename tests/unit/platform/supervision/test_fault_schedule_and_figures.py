"""Reminders and escalation due at a moment; repair times per organisation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from farmwatch.platform.supervision.faults.figures import Period, fault_statistics
from farmwatch.platform.supervision.faults.records import FaultTicket
from farmwatch.platform.supervision.faults.schedule import (
    DueAction,
    FaultDeadlines,
    due_actions,
    next_due,
)
from farmwatch.platform.supervision.faults.states import FaultKind, FaultState

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DEADLINES = FaultDeadlines(remind_after=24 * HOUR, escalate_after=72 * HOUR)


def _ticket(
    *,
    farm: int | None = 1,
    kind: FaultKind = FaultKind.OFFLINE,
    state: FaultState = FaultState.OPEN,
    since: datetime = T0,
    opened: datetime = T0,
    fixed: datetime | None = None,
    ended: datetime | None = None,
) -> FaultTicket:
    return FaultTicket(
        id=1, farm_id=farm, device_id="34020000001320000001",
        channel_id="34020000001310000001", kind=kind, state=state, since=since,
        opened_at=opened, opened_by="auto", detail=None, updated_at=opened, fixed_at=fixed,
        ended_at=ended, reminders_sent=0, last_reminded_at=None, escalated_at=None,
        occurrences=1,
    )  # fmt: skip


def test_a_reminder_is_due_a_period_after_opening_then_after_the_last_reminder() -> None:
    ticket = _ticket()
    assert due_actions(ticket, T0 + 23 * HOUR, DEADLINES) == []
    assert due_actions(ticket, T0 + 24 * HOUR, DEADLINES) == [DueAction.REMIND]
    reminded = replace(ticket, reminders_sent=1, last_reminded_at=T0 + 25 * HOUR)
    assert due_actions(reminded, T0 + 48 * HOUR, DEADLINES) == []
    assert due_actions(reminded, T0 + 49 * HOUR, DEADLINES) == [DueAction.REMIND]
    assert next_due(reminded, DEADLINES) == T0 + 49 * HOUR


def test_escalation_is_due_once_after_its_deadline() -> None:
    ticket = replace(_ticket(), last_reminded_at=T0 + 71 * HOUR)
    assert due_actions(ticket, T0 + 72 * HOUR, DEADLINES) == [DueAction.ESCALATE]
    escalated = replace(ticket, escalated_at=T0 + 72 * HOUR)
    assert due_actions(escalated, T0 + 80 * HOUR, DEADLINES) == []
    assert next_due(escalated, DEADLINES) == T0 + 95 * HOUR


def test_nothing_is_due_once_the_farm_has_fixed_it() -> None:
    for state in (FaultState.FIXED, FaultState.VERIFIED, FaultState.CLOSED):
        ticket = _ticket(state=state)
        assert due_actions(ticket, T0 + 1000 * HOUR, DEADLINES) == []
        assert next_due(ticket, DEADLINES) is None
    notified = _ticket(state=FaultState.FARM_NOTIFIED)
    assert due_actions(notified, T0 + 100 * HOUR, DEADLINES) == [
        DueAction.REMIND, DueAction.ESCALATE,
    ]  # fmt: skip


def test_statistics_count_open_tickets_by_kind_and_repair_times_within_the_period() -> None:
    period = Period(T0, T0 + 240 * HOUR)
    tickets = [
        _ticket(farm=1, kind=FaultKind.OFFLINE),
        _ticket(farm=1, kind=FaultKind.OFFLINE, state=FaultState.FARM_NOTIFIED),
        _ticket(farm=1, kind=FaultKind.BLACK, state=FaultState.FIXED, fixed=T0 + 2 * HOUR),
        _ticket(farm=2, kind=FaultKind.FROZEN, state=FaultState.VERIFIED,
                since=T0, fixed=T0 + 10 * HOUR, ended=T0 + 12 * HOUR),
        _ticket(farm=2, kind=FaultKind.OFFLINE, state=FaultState.CLOSED,
                since=T0 + HOUR, ended=T0 + 2 * HOUR),
        _ticket(farm=2, kind=FaultKind.OFFLINE, state=FaultState.CLOSED,
                since=T0 - 10 * HOUR, ended=T0 - HOUR),  # repaired before the period
        _ticket(farm=3, kind=FaultKind.OFFLINE),  # a farm the caller does not see
        _ticket(farm=None),
    ]  # fmt: skip
    found = fault_statistics(tickets, {1: 10, 2: 20}, period)
    assert [o.organisation_id for o in found] == [10, 20]
    first, second = found
    assert first.open_by_kind == {FaultKind.OFFLINE: 2, FaultKind.BLACK: 1}
    assert first.open_total == 3
    assert (first.repaired, first.mean_repair_seconds) == (1, 2 * 3600)
    assert second.open_by_kind == {}
    assert second.repaired == 2
    assert second.mean_repair_seconds == (10 + 1) / 2 * 3600
    assert second.median_repair_seconds == (10 + 1) / 2 * 3600


def test_the_median_is_the_middle_repair_time() -> None:
    period = Period(T0, T0 + 240 * HOUR)
    tickets = [_ticket(state=FaultState.CLOSED, ended=T0 + hours * HOUR) for hours in (1, 2, 30)]
    (stats,) = fault_statistics(tickets, {1: 7}, period)
    assert stats.median_repair_seconds == 2 * 3600
    assert stats.mean_repair_seconds == 11 * 3600
    (none,) = fault_statistics([_ticket()], {1: 7}, period)
    assert none.mean_repair_seconds is None and none.median_repair_seconds is None
