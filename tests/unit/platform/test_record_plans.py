"""Record plans (pure): what should be recording now, in the configured zone only."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.recordings.record_plans import is_due, plan_from_body, plan_view
from farmwatch.platform.recordings.records import PlanMode, WeeklyWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNEL = "34020000001320000001"
# Monday 2026-11-30 08:30 in Shanghai is 00:30 UTC: a host in UTC would think it is 00:30.
MONDAY_0830 = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)


def test_a_weekly_window_is_read_in_the_configured_zone_not_the_hosts() -> None:
    plan = plan_from_body(
        CHANNEL,
        {"mode": "weekly", "windows": [{"weekday": 0, "start": "08:00", "end": "09:00"}]},
        MONDAY_0830,
    )
    assert plan.windows == (WeeklyWindow(0, time(8), time(9)),)
    assert is_due(plan, MONDAY_0830, SHANGHAI)
    assert not is_due(plan, MONDAY_0830, ZoneInfo("UTC"))  # what a host-zone scheduler did
    assert not is_due(plan, MONDAY_0830 + timedelta(hours=1), SHANGHAI)
    assert not is_due(plan, MONDAY_0830 + timedelta(days=1), SHANGHAI)


def test_record_now_adds_to_an_off_plan_until_its_minutes_are_up() -> None:
    plan = plan_from_body(CHANNEL, {"mode": "off", "record_minutes": 5}, MONDAY_0830)
    assert plan.mode is PlanMode.OFF
    assert is_due(plan, MONDAY_0830 + timedelta(minutes=4, seconds=59), SHANGHAI)
    assert not is_due(plan, MONDAY_0830 + timedelta(minutes=5), SHANGHAI)
    continuous = plan_from_body(CHANNEL, {"mode": "continuous"}, MONDAY_0830)
    assert is_due(continuous, MONDAY_0830 + timedelta(days=300), SHANGHAI)
    view = plan_view(plan, SHANGHAI, MONDAY_0830)
    assert view["record_until"] == "2026-11-30T08:35:00" and view["recording_due"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "sometimes"}, "mode"),
        ({"mode": "weekly"}, "at least one window"),
        (
            {"mode": "weekly", "windows": [{"weekday": 7, "start": "1:00", "end": "2:00"}]},
            "weekday",
        ),
        (
            {"mode": "weekly", "windows": [{"weekday": 1, "start": "09:00", "end": "08:00"}]},
            "after",
        ),
        ({"mode": "weekly", "windows": [{"weekday": 1, "start": "nine", "end": "10:00"}]}, "start"),
        ({"mode": "weekly", "windows": "all week"}, "windows"),
        ({"mode": "off", "record_minutes": 0}, "record_minutes"),
        ({"mode": "off", "record_minutes": True}, "record_minutes"),
        ({"mode": "off", "record_minutes": 10**9}, "record_minutes"),
    ],
)
def test_bad_plans_get_a_clear_error(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan_from_body(CHANNEL, body, MONDAY_0830)


def test_a_window_may_run_to_midnight() -> None:
    plan = plan_from_body(
        CHANNEL,
        {"mode": "weekly", "windows": [{"weekday": 6, "start": "20:00", "end": "24:00"}]},
        MONDAY_0830,
    )
    sunday_2359 = datetime(2026, 12, 6, 23, 59, 30, tzinfo=SHANGHAI)
    assert is_due(plan, sunday_2359, SHANGHAI)
