"""Record search results: device times, slices, merged spans (record_spans, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.recordings.record_spans import (
    RecordSource,
    RecordSpan,
    format_device_time,
    merge_spans,
    parse_device_time,
    slice_range,
    spans_from_items,
)
from farmwatch.sipserver.gb.manscdp import RecordItem

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNEL = "34020000001310000001"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def span(start: str, end: str, **fields: object) -> RecordSpan:
    return RecordSpan(at(start), at(end), RecordSource.DEVICE, **fields)  # type: ignore[arg-type]


def test_device_times_are_read_in_the_configured_zone_whatever_the_host_says() -> None:
    moment = parse_device_time("2024-01-01T08:00:00", SHANGHAI)
    assert moment is not None
    assert moment.timestamp() == 1704067200  # gb28181.md §6.8: 08:00 Beijing
    for variant in ("2024-01-01 08:00:00", "2024-01-01T08:00:00.000", " 2024-1-1T8:00:00Z"):
        assert parse_device_time(variant, SHANGHAI) == moment, variant
    for garbage in (None, "", "yesterday", "2024-13-01T00:00:00", "2024-01-01T25:00:00"):
        assert parse_device_time(garbage, SHANGHAI) is None
    utc_moment = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert format_device_time(utc_moment, SHANGHAI) == "2024-01-01T08:00:00"


def test_a_day_is_asked_in_four_six_hour_slices_in_order() -> None:
    slices = slice_range(at("2024-01-01T00:00:00"), at("2024-01-01T23:59:59"), timedelta(hours=6))
    assert [
        (format_device_time(a, SHANGHAI), format_device_time(b, SHANGHAI)) for a, b in slices
    ] == [
        ("2024-01-01T00:00:00", "2024-01-01T05:59:59"),
        ("2024-01-01T06:00:00", "2024-01-01T11:59:59"),
        ("2024-01-01T12:00:00", "2024-01-01T17:59:59"),
        ("2024-01-01T18:00:00", "2024-01-01T23:59:59"),
    ]


@given(
    st.integers(0, 200_000),
    st.integers(1, 90_000),
    st.sampled_from([timedelta(hours=6), timedelta(minutes=15), timedelta(hours=1, seconds=7)]),
)
def test_slices_cover_the_range_without_gaps_or_overlaps(
    offset: int, length: int, step: timedelta
) -> None:
    start = at("2024-01-01T00:00:00") + timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    slices = slice_range(start, end, step)
    assert slices[0][0] == start and slices[-1][1] == end
    for (_, previous_end), (next_start, _) in zip(slices, slices[1:], strict=False):
        assert next_start - previous_end == timedelta(seconds=1)
    assert all(b - a < step for a, b in slices)


def test_duplicates_merge_overlaps_merge_touching_files_stay_apart() -> None:
    spans = [
        span("2024-01-01T08:00:00", "2024-01-01T08:59:59", file_path="a", file_size=10),
        span("2024-01-01T08:00:00", "2024-01-01T08:59:59", file_path="a", file_size=10),
        span("2024-01-01T08:30:00", "2024-01-01T09:10:00", file_path="b", file_size=5),
        span("2024-01-01T10:00:00", "2024-01-01T10:59:59", file_path="c"),
        span("2024-01-01T11:00:00", "2024-01-01T11:59:59", file_path="d", stream_number=1),
        span("2024-01-01T11:30:00", "2024-01-01T11:40:00", file_path="e", stream_number=0),
    ]
    merged = merge_spans(spans, at("2024-01-01T00:00:00"), at("2024-01-01T23:59:59"))
    assert [(s.start.hour, s.start.minute, s.end.hour, s.end.minute, s.file_path,
             s.file_size) for s in merged] == [
        (8, 0, 9, 10, "a", 15),
        (10, 0, 10, 59, "c", None),
        (11, 0, 11, 59, "d", None),
        (11, 30, 11, 40, "e", None),
    ]  # fmt: skip


def test_files_that_touch_stay_apart_and_a_file_ending_at_midnight_is_not_split() -> None:
    spans = [
        span("2024-01-01T08:00:00", "2024-01-01T09:00:00", file_path="a"),
        span("2024-01-01T09:00:00", "2024-01-01T10:00:00", file_path="b"),
        span("2024-01-01T23:50:00", "2024-01-02T00:00:00", file_path="c"),
    ]
    merged = merge_spans(spans, at("2024-01-01T00:00:00"), at("2024-01-02T23:59:59"))
    assert [s.file_path for s in merged] == ["a", "b", "c"]
    assert merged[2].end == at("2024-01-02T00:00:00")


def test_records_are_clipped_to_the_range_and_split_at_midnight() -> None:
    spans = [
        span("2024-01-01T23:00:00", "2024-01-02T01:00:00", file_path="night"),
        span("2023-12-31T22:00:00", "2024-01-01T00:30:00", file_path="before"),
    ]
    merged = merge_spans(spans, at("2024-01-01T00:00:00"), at("2024-01-02T00:20:00"))
    assert [(s.start.isoformat(), s.end.isoformat(), s.file_path) for s in merged] == [
        ("2024-01-01T00:00:00+08:00", "2024-01-01T00:30:00+08:00", "before"),
        ("2024-01-01T23:00:00+08:00", "2024-01-01T23:59:59+08:00", "night"),
        ("2024-01-02T00:00:00+08:00", "2024-01-02T00:20:00+08:00", "night"),
    ]


def test_unreadable_records_are_counted_not_kept() -> None:
    items = [
        RecordItem(CHANNEL, "2024-01-01T08:00:00", "2024-01-01T08:59:59", name="东门",
                   file_size=100, stream_number=0, record_location="1", record_type="time"),
        RecordItem(CHANNEL, None, "2024-01-01T08:59:59"),
        RecordItem(CHANNEL, "2024-01-01T09:00:00", "2024-01-01T08:00:00"),
        RecordItem(CHANNEL, "garbage", "2024-01-01T08:00:00"),
    ]  # fmt: skip
    spans, unreadable = spans_from_items(items, SHANGHAI)
    assert unreadable == 3
    (kept,) = spans
    assert (kept.name, kept.file_size, kept.stream_number, kept.record_location,
            kept.record_type) == ("东门", 100, 0, "1", "time")  # fmt: skip


@given(
    st.lists(st.tuples(st.integers(0, 3 * 86400), st.integers(0, 20_000)), min_size=0, max_size=30)
)
def test_merged_spans_cover_exactly_the_clipped_union(pieces: list[tuple[int, int]]) -> None:
    base = at("2024-01-01T00:00:00")
    spans = [
        RecordSpan(
            base + timedelta(seconds=a), base + timedelta(seconds=a + n), RecordSource.DEVICE
        )
        for a, n in pieces
    ]
    start, end = base + timedelta(hours=5), base + timedelta(days=2, hours=7)
    merged = merge_spans(spans, start, end)

    def covered(moment: datetime) -> bool:
        return any(s.start <= moment <= s.end for s in spans) and start <= moment <= end

    for piece in merged:
        next_midnight = datetime.combine(
            piece.start.date() + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI
        )
        assert piece.start.date() == piece.end.date() or piece.end == next_midnight
        assert start <= piece.start <= piece.end <= end
    for a, b in zip(merged, merged[1:], strict=False):
        assert a.end <= b.start  # sorted, no overlap (files may touch)
    for a, n in pieces:  # every recorded second inside the range is in a merged span
        for moment in (base + timedelta(seconds=a), base + timedelta(seconds=a + n)):
            if covered(moment):
                assert any(p.start <= moment <= p.end for p in merged)
