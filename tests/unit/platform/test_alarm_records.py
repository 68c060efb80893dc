"""What is stored of a Notify/Alarm (gb28181.md §4.10, §11.11): the standard's example read
with the device's time in the platform's zone, positions outside the earth dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.services.alarm_service import alarm_from_notify, device_time
from farmwatch.sipserver.gb.manscdp import AlarmNotify
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2024, 3, 15, 2, 30, 6, tzinfo=UTC)
DEVICE = "34020000001320000001"
EXAMPLE = """<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>88</SN>
<DeviceID>34020000001340000001</DeviceID>
<AlarmPriority>2</AlarmPriority>
<AlarmMethod>5</AlarmMethod>
<AlarmTime>2024-03-15T10:30:05</AlarmTime>
<AlarmDescription>移动侦测</AlarmDescription>
<Info>
<AlarmType>2</AlarmType>
</Info>
</Notify>
""".encode("gb2312")


def test_the_standards_alarm_is_stored_with_its_time_in_the_zone() -> None:
    notify = parse_manscdp(EXAMPLE)
    assert isinstance(notify, AlarmNotify)
    alarm = alarm_from_notify(DEVICE, notify, RECEIVED, SHANGHAI)
    assert (alarm.device_id, alarm.source_id, alarm.sn) == (DEVICE, "34020000001340000001", 88)
    assert (alarm.priority, alarm.method, alarm.alarm_type) == (2, 5, 2)
    assert alarm.alarm_time == datetime(2024, 3, 15, 2, 30, 5, tzinfo=UTC)
    assert alarm.description == "移动侦测"
    assert (alarm.longitude, alarm.latitude) == (None, None)
    assert alarm.received_at == RECEIVED


def test_device_times_that_cannot_be_read_are_none() -> None:
    assert device_time(None, SHANGHAI) is None
    assert device_time("", SHANGHAI) is None
    assert device_time("2024-13-45T99:00:00", SHANGHAI) is None
    assert device_time("yesterday", SHANGHAI) is None
    # An offset the device gave wins over the zone.
    assert device_time("2024-03-15T10:30:05+00:00", SHANGHAI) == datetime(
        2024, 3, 15, 10, 30, 5, tzinfo=UTC
    )


def _notify(longitude: float | None, latitude: float | None) -> AlarmNotify:
    return AlarmNotify(DEVICE, 1, 1, 4, None, longitude=longitude, latitude=latitude)


@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_a_position_is_kept_only_on_the_earth(longitude: float, latitude: float) -> None:
    alarm = alarm_from_notify(DEVICE, _notify(longitude, latitude), RECEIVED, SHANGHAI)
    on_earth = -180 <= longitude <= 180 and -90 <= latitude <= 90
    if on_earth:
        assert (alarm.longitude, alarm.latitude) == (longitude, latitude)
    else:
        assert (alarm.longitude, alarm.latitude) == (None, None)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_a_device_time_round_trips_through_the_zone(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    read = device_time(text, SHANGHAI)
    assert read is not None
    assert read.astimezone(SHANGHAI).replace(tzinfo=None) == moment
