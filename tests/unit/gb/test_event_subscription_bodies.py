"""The bodies of alarm and mobile-position subscriptions (gb28181.md §4.10-4.11, §5.1):
what we write is read back the same in every charset, the standard's element names are
written, a device's variants are read, and each subscription kind asks what `[registrar]`
says with the Event header devices expect."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.gb.manscdp import AlarmQuery, MobilePositionQuery
from farmwatch.sipserver.gb.manscdp_event_query import (
    build_alarm_query,
    build_mobile_position_query,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.settings import RegistrarSettings
from farmwatch.sipserver.subscription_kinds import ALARMS, CATALOG, POSITIONS, event_kinds

DEVICE = "34020000001320000001"


@pytest.mark.parametrize("charset", list(ManscdpCharset))
def test_an_alarm_query_is_read_back_as_written(charset: ManscdpCharset) -> None:
    query = AlarmQuery(
        DEVICE, 12, start_priority=1, end_priority=4, method="0", alarm_type="2",
        start_time="2026-12-05T08:00:00", end_time="2026-12-05T09:00:00",
    )  # fmt: skip
    body = build_alarm_query(query, charset=charset)
    for name in (b"<StartAlarmPriority>1<", b"<EndAlarmPriority>4<", b"<AlarmMethod>0<",
                 b"<StartAlarmTime>", b"<EndAlarmTime>", b"<Query>"):  # fmt: skip
        assert name in body
    assert parse_manscdp(body) == query


@pytest.mark.parametrize("charset", [ManscdpCharset.GB18030, ManscdpCharset.UTF8])
def test_a_position_query_is_read_back_as_written(charset: ManscdpCharset) -> None:
    query = MobilePositionQuery(DEVICE, 3, interval=5)
    body = build_mobile_position_query(query, charset=charset)
    assert b"<Interval>5</Interval>" in body
    assert parse_manscdp(body) == query


def test_variants_of_the_queries_are_read() -> None:
    text = (
        '<?xml version="1.0" encoding="GB18030"?>\r\n<Query><cmdtype> Alarm </cmdtype><SN>4</SN>'
        f"<DeviceID>{DEVICE}</DeviceID><startalarmpriority> 2 </startalarmpriority>"
        "<EndAlarmPriority>x</EndAlarmPriority><StartTime>2026-12-05T08:00:00</StartTime>"
        "<Note>全部报警</Note></Query>"
    )
    assert parse_manscdp(text.encode("gb18030")) == AlarmQuery(
        DEVICE, 4, start_priority=2, start_time="2026-12-05T08:00:00"
    )
    for interval, expected in (("<Interval>0</Interval>", None), ("", None),
                               ("<Interval> 10 </Interval>", 10)):  # fmt: skip
        body = (
            f"<Query><CmdType>MobilePosition</CmdType><SN>1</SN><DeviceID>{DEVICE}</DeviceID>"
            f"{interval}</Query>"
        ).encode()
        assert parse_manscdp(body) == MobilePositionQuery(DEVICE, 1, expected)


def test_each_kind_asks_what_the_settings_say() -> None:
    settings = RegistrarSettings(subscribe_positions=True, position_interval=7,
                                 event_subscription_expires=600)  # fmt: skip
    assert event_kinds(settings) == (POSITIONS,)
    assert event_kinds(RegistrarSettings()) == ()
    assert event_kinds(RegistrarSettings(subscribe_alarms=True, subscribe_positions=True)) == (
        ALARMS, POSITIONS,
    )  # fmt: skip
    assert CATALOG.event(9) == "Catalog;id=9"
    assert ALARMS.event(9) == POSITIONS.event(9) == "presence"
    assert (POSITIONS.expires(settings), CATALOG.expires(settings)) == (600, 3600)
    position = parse_manscdp(POSITIONS.body(5, DEVICE, ManscdpCharset.GB18030, settings))
    assert position == MobilePositionQuery(DEVICE, 5, 7)
    alarm = parse_manscdp(ALARMS.body(6, DEVICE, ManscdpCharset.UTF8, settings))
    assert alarm == AlarmQuery(DEVICE, 6, start_priority=1, end_priority=4, method="0")
