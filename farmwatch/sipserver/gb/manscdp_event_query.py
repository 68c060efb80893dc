"""The bodies of alarm and mobile-position subscriptions (GB/T 28181-2016 A.2.4 h-i, §9.11;
gb28181.md §4.10-4.11, §5.1): Query/Alarm with its priority, method, type and time filters,
and Query/MobilePosition with the reporting `Interval`.

Builders write the standard's element names (`StartAlarmPriority`, `EndAlarmPriority`,
`AlarmMethod`, `AlarmType`, `StartAlarmTime`, `EndAlarmTime`; `Interval`). Readers are
lenient: any case, padding, a number that does not read is None, and the 2022 drafts'
`StartTime`/`EndTime` are read where the `...AlarmTime` names are missing.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from farmwatch.sipserver.gb.manscdp import AlarmQuery, CmdType, MobilePositionQuery, RootKind
from farmwatch.sipserver.gb.manscdp_build import BodyWriter
from farmwatch.sipserver.gb.manscdp_element import child_text, to_int_or_none
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = [
    "ALL_METHODS",
    "DEFAULT_POSITION_INTERVAL",
    "build_alarm_query",
    "build_mobile_position_query",
    "read_alarm_query",
    "read_mobile_position_query",
]

ALL_METHODS = "0"
"""`AlarmMethod` 0: every method."""
DEFAULT_POSITION_INTERVAL = 5
"""Seconds between positions when the query names none (2016 A.2.4 h)."""

_GB2312 = ManscdpCharset.GB2312


def build_alarm_query(query: AlarmQuery, *, charset: ManscdpCharset = _GB2312) -> bytes:
    writer = BodyWriter(RootKind.QUERY, CmdType.ALARM, query.sn, query.device_id)
    writer.element("StartAlarmPriority", query.start_priority)
    writer.element("EndAlarmPriority", query.end_priority)
    writer.element("AlarmMethod", query.method)
    writer.element("AlarmType", query.alarm_type)
    writer.element("StartAlarmTime", query.start_time)
    writer.element("EndAlarmTime", query.end_time)
    return writer.finish(charset)


def read_alarm_query(root: Element, device_id: str, sn: int) -> AlarmQuery:
    return AlarmQuery(
        device_id,
        sn,
        start_priority=to_int_or_none(child_text(root, "StartAlarmPriority")),
        end_priority=to_int_or_none(child_text(root, "EndAlarmPriority")),
        method=child_text(root, "AlarmMethod"),
        alarm_type=child_text(root, "AlarmType"),
        start_time=child_text(root, "StartAlarmTime") or child_text(root, "StartTime"),
        end_time=child_text(root, "EndAlarmTime") or child_text(root, "EndTime"),
    )


def build_mobile_position_query(
    query: MobilePositionQuery, *, charset: ManscdpCharset = _GB2312
) -> bytes:
    writer = BodyWriter(RootKind.QUERY, CmdType.MOBILE_POSITION, query.sn, query.device_id)
    writer.element("Interval", query.interval)
    return writer.finish(charset)


def read_mobile_position_query(root: Element, device_id: str, sn: int) -> MobilePositionQuery:
    interval = to_int_or_none(child_text(root, "Interval"))
    return MobilePositionQuery(
        device_id, sn, interval if interval is not None and interval > 0 else None
    )
