"""The platform's own recordings as RecordInfo items for an upper platform."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from farmwatch.platform.recordings.record_spans import RecordSource, RecordSpan, merge_spans
from farmwatch.platform.sharing.forwarding import record_item
from farmwatch.sipserver.gb.manscdp_build import build_record_info_responses
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNEL = "44010000001310000001"


def _span(start: datetime, end: datetime, size: int) -> RecordSpan:
    return RecordSpan(start, end, RecordSource.PLATFORM, file_path=f"/r/{start:%H%M%S}.ps",
                      record_type="time", file_size=size, stream_number=0,
                      record_location="0")  # fmt: skip


def test_segments_become_merged_items_in_local_time_split_at_midnight() -> None:
    day = datetime(2026, 12, 4, tzinfo=SHANGHAI)
    segments = [
        _span(day.replace(hour=23, minute=50), day.replace(hour=23, minute=59, second=59), 10),
        _span(day.replace(hour=23, minute=55), datetime(2026, 12, 5, 0, 5, tzinfo=SHANGHAI), 20),
    ]
    start, end = day.replace(hour=22), datetime(2026, 12, 5, 1, tzinfo=SHANGHAI)
    items = [record_item(CHANNEL, span) for span in merge_spans(segments, start, end)]
    assert [(i.start_time, i.end_time) for i in items] == [
        ("2026-12-04T23:50:00", "2026-12-04T23:59:59"),
        ("2026-12-05T00:00:00", "2026-12-05T00:05:00"),
    ]
    assert all(i.device_id == CHANNEL and i.record_location == "0" for i in items)
    (body,) = build_record_info_responses(CHANNEL, 5, items, items_per_message=5)
    answer = parse_manscdp(body)
    assert answer.items == tuple(items)  # type: ignore[union-attr]
