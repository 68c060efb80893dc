"""Record plans: what should be recording now, and plans read from API bodies (pure).

A channel's plan is off, continuous, or weekly windows in the platform's one zone (never the
host's: field-notes pitfall 18, WVP's scheduler records 8 h off-plan in a UTC container);
"record now for N minutes" adds `record_until` to whatever the mode says. `is_due` is the
one rule the reconciler asks every tick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.recordings.records import PlanMode, RecordPlan, WeeklyWindow

__all__ = ["MAX_RECORD_MINUTES", "is_due", "plan_from_body", "plan_view"]

MAX_RECORD_MINUTES = 7 * 24 * 60
MAX_WINDOWS = 64
_END_OF_DAY = time(23, 59, 59)


def is_due(plan: RecordPlan, now: datetime, zone: ZoneInfo) -> bool:
    """Whether the plan says "record" at `now` (aware)."""
    if plan.record_until is not None and now < plan.record_until:
        return True
    match plan.mode:
        case PlanMode.CONTINUOUS:
            return True
        case PlanMode.WEEKLY:
            local = now.astimezone(zone)
            moment = local.time()
            return any(
                w.weekday == local.weekday() and w.start <= moment <= w.end for w in plan.windows
            )
    return False


def _time(text: object, name: str) -> time:
    if not isinstance(text, str):
        raise InvalidInput(f"{name}: expected HH:MM or HH:MM:SS")
    if text in ("24:00", "24:00:00"):
        return _END_OF_DAY
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: expected HH:MM or HH:MM:SS, got {text[:12]!r}") from None


def _windows(raw: object) -> tuple[WeeklyWindow, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) > MAX_WINDOWS:
        raise InvalidInput(f"windows: expected a list of at most {MAX_WINDOWS} windows")
    windows = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"windows[{index}]: expected {{weekday, start, end}}")
        weekday = item.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise InvalidInput(f"windows[{index}].weekday: expected 0 (Monday) .. 6 (Sunday)")
        start = _time(item.get("start"), f"windows[{index}].start")
        end = _time(item.get("end"), f"windows[{index}].end")
        if end <= start:
            raise InvalidInput(f"windows[{index}]: end must be after start")
        windows.append(WeeklyWindow(weekday, start, end))
    return tuple(sorted(windows))


def plan_from_body(channel_id: str, body: Mapping[str, Any], now: datetime) -> RecordPlan:
    """`{"mode": "off"|"continuous"|"weekly", "windows"?: [...], "record_minutes"?: N}`."""
    try:
        mode = PlanMode(str(body.get("mode")))
    except ValueError:
        raise InvalidInput("mode: expected off, continuous or weekly") from None
    windows = _windows(body.get("windows", [])) if mode is PlanMode.WEEKLY else ()
    if mode is PlanMode.WEEKLY and not windows:
        raise InvalidInput("windows: a weekly plan needs at least one window")
    minutes = body.get("record_minutes")
    record_until = None
    if minutes is not None:
        if (
            not isinstance(minutes, int | float)
            or isinstance(minutes, bool)
            or not 0 < minutes <= MAX_RECORD_MINUTES
        ):
            raise InvalidInput(f"record_minutes: expected 1..{MAX_RECORD_MINUTES}")
        record_until = now + timedelta(minutes=float(minutes))
    return RecordPlan(channel_id, mode, windows, record_until, now)


def plan_view(plan: RecordPlan, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    return {
        "channel_id": plan.channel_id,
        "mode": plan.mode.value,
        "windows": [
            {"weekday": w.weekday, "start": w.start.isoformat(), "end": w.end.isoformat()}
            for w in plan.windows
        ],
        "record_until": (
            plan.record_until.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")
            if plan.record_until is not None
            else None
        ),
        "timezone": str(zone),
        "recording_due": is_due(plan, now, zone),
    }
