"""A simulated channel's record index: gaps fixed by the channel, local days, RecordInfo ranges."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from farmwatch.simulator import RecordFile, RecordIndex, RecordSettings

CHANNEL = "34020000001310000001"
OTHER_CHANNEL = "34020000001310000002"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = int(datetime(2024, 1, 8, 15, 20, 7, tzinfo=SHANGHAI).timestamp())
"""2024-01-08T15:20:07 in Beijing: the index covers 2024-01-01T15:20:07 on."""
HOUR = 3600


def _at(text: str, zone: ZoneInfo = SHANGHAI) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp())


def _index(channel: str = CHANNEL, now: float = NOW, **settings: object) -> RecordIndex:
    return RecordIndex(channel, RecordSettings(**settings), now)  # type: ignore[arg-type]


@pytest.fixture
def host_in_los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's own zone is neither the device's nor UTC (the index must not use it)."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_seven_days_of_hour_files_up_to_now_with_a_few_gaps() -> None:
    files = _index().files
    assert files[0].start >= NOW - 7 * 86_400
    assert files[0].start - (NOW - 7 * 86_400) < HOUR
    assert files[-1] == RecordFile(_at("2024-01-08T15:00:00"), NOW)  # still being written
    assert all(f.start % HOUR == 0 for f in files)  # Beijing hours are UTC hours
    assert all(f.duration <= HOUR for f in files)
    slots = (files[-1].start - files[0].start) // HOUR + 1
    missing = slots - len(files)
    assert 2 <= missing <= 20  # about 5 % of 168
    assert files == sorted(files)
    assert all(a.end <= b.start for a, b in pairwise(files))


def test_each_day_has_one_short_file_unless_its_slot_is_missing() -> None:
    files = _index().files
    by_day: dict[str, list[RecordFile]] = {}
    for file in files[:-1]:  # the last one is cut by now
        day = datetime.fromtimestamp(file.start, SHANGHAI).date().isoformat()
        by_day.setdefault(day, []).append(file)
    short_counts = [sum(f.duration < HOUR for f in day) for day in by_day.values()]
    assert all(count <= 1 for count in short_counts)
    assert sum(short_counts) >= 5
    shorts = [f for f in files[:-1] if f.duration < HOUR]
    assert all(HOUR // 4 <= f.duration <= HOUR * 3 // 4 for f in shorts)


def test_gaps_are_fixed_by_the_channel_not_by_now() -> None:
    earlier = _index(now=NOW - 5 * HOUR)
    later = _index(now=NOW + 30 * HOUR)
    both = [f for f in earlier.files if f.start >= later.window_start and f.end < earlier.now]
    assert len(both) > 100
    assert both == [f for f in later.files if f.start >= later.window_start and f.end < earlier.now]
    assert _index().files == _index().files
    other = _index(OTHER_CHANNEL).files
    assert {f.start for f in other} != {f.start for f in _index().files}


def test_no_missing_files_when_asked_for_none() -> None:
    files = _index(missing_fraction=0.0).files
    slots = (files[-1].start - files[0].start) // HOUR + 1
    assert len(files) == slots


def test_a_query_returns_the_overlapping_files_whole() -> None:
    index = _index(missing_fraction=0.0)
    files = index.query("2024-01-05T08:30:00", "2024-01-05T10:15:00")
    assert files == [
        RecordFile(_at(f"2024-01-05T{hour:02d}:00:00"), _at(f"2024-01-05T{hour:02d}:00:00") + HOUR)
        for hour in (8, 9, 10)
    ]
    assert index.query("2024-01-05 08:30:00", "2024-01-05 10:15:00") == files
    assert index.query(" 2024-01-05T08:30:00 ", "2024-01-05T10:15:00") == files


def test_the_end_second_is_included_and_a_file_ending_at_the_start_is_not() -> None:
    index = _index(missing_fraction=0.0)
    starts = {f.start for f in index.files}
    hour = next(s for s in sorted(starts) if s + HOUR in starts and s - HOUR in starts)
    local = datetime.fromtimestamp(hour, SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")
    assert [f.start for f in index.query(local, local)] == [hour]


def test_unreadable_or_reversed_ranges_find_nothing() -> None:
    index = _index()
    assert index.query("yesterday", "2024-01-05T10:00:00") == []
    assert index.query(None, "2024-01-05T10:00:00") == []
    assert index.query("2024-01-05T10:00:00", "2024-01-05T09:00:00") == []
    assert index.query("2023-01-01T00:00:00", "2023-01-01T23:59:59") == []


def test_a_query_over_midnight_gets_both_days_and_no_file_spans_midnight() -> None:
    index = _index(missing_fraction=0.0, file_minutes=7)
    files = index.query("2024-01-05T23:50:00", "2024-01-06T00:10:00")
    midnight = _at("2024-01-06T00:00:00")
    assert files == [
        RecordFile(midnight - 12 * 60, midnight - 5 * 60),
        RecordFile(midnight - 5 * 60, midnight),  # 1440 = 205 × 7 + 5: the day's last is cut
        RecordFile(midnight, midnight + 7 * 60),
        RecordFile(midnight + 7 * 60, midnight + 14 * 60),
    ]
    assert not any(f.start < midnight < f.end for f in index.files)


def test_files_follow_the_device_zone_not_the_host_zone(host_in_los_angeles: None) -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local hours are half past in UTC
    index = _index(time_zone="Asia/Kolkata", missing_fraction=0.0)
    assert all(f.start % HOUR == 30 * 60 for f in index.files)
    [file] = [f for f in index.query("2024-01-05T08:00:00", "2024-01-05T08:00:00")]
    assert file.start == _at("2024-01-05T08:00:00", kolkata)
    assert index.local_text(file.start) == "2024-01-05T08:00:00"
    assert _index().local_text(file.start) == "2024-01-05T10:30:00"  # the same instant in Beijing
    utc_eight = _at("2024-01-05T08:00:00", ZoneInfo("UTC"))
    assert index.parse_local("2024-01-05T08:00:00+00:00") == utc_eight


def test_a_daylight_saving_day_has_23_files_and_none_crosses_midnight() -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2024, 4, 2, 12, 0, tzinfo=zone).timestamp()
    index = _index(time_zone="Europe/Berlin", now=now, missing_fraction=0.0)
    day = [f for f in index.files if index.local_text(f.start).startswith("2024-03-31")]
    assert len(day) == 23
    assert index.local_text(day[0].start) == "2024-03-31T00:00:00"
    assert index.local_text(day[-1].end) == "2024-04-01T00:00:00"
    assert sum(f.duration for f in day) < 23 * HOUR  # the day's short file


def test_an_item_carries_the_file_bounds_and_the_2022_fields() -> None:
    index = _index()
    file = next(f for f in index.files if f.duration == HOUR)
    item = index.item(file, name="场区入口1号", address="场区入口", bytes_per_second=125_000)
    start = datetime.fromtimestamp(file.start, SHANGHAI)
    assert item.device_id == CHANNEL
    assert item.start_time == start.strftime("%Y-%m-%dT%H:%M:%S")
    assert item.end_time == (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert (item.name, item.address) == ("场区入口1号", "场区入口")
    assert item.file_path == f"{CHANNEL}_{start:%Y%m%d%H%M%S}"
    assert (item.secrecy, item.record_type, item.file_size) == (0, "time", 450_000_000)
    assert (item.record_location, item.stream_number) == ("1", 0)


def test_the_window_follows_now() -> None:
    index = _index(days=1)
    assert all(f.start >= NOW - 86_400 for f in index.files)
    assert datetime.fromtimestamp(index.files[-1].end, UTC) == datetime.fromtimestamp(NOW, UTC)


@pytest.mark.parametrize(
    ("name", "value"),
    [("days", 0), ("file_minutes", 0), ("file_minutes", 1441), ("missing_fraction", 1.0),
     ("items_per_message", 0), ("time_zone", "Mars/Olympus_Mons")],
)  # fmt: skip
def test_bad_settings_are_refused(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        RecordSettings(**{name: value})  # type: ignore[arg-type]
