"""Record search results: device times read in the one zone, slices, merged spans (pure).

Owns the rules of gb28181.md §4.7 and field-notes §1.4 for what a search returns: devices
speak local time without a zone, read with the platform's one configured zone (never the
host's, pitfall 18); a long range is asked in slices (LiveGBS asks 6 h at a time: devices
stop at a maximum count, WVP#2232); the records of all slices are de-duplicated, clipped to
the asked range, merged where they overlap (a record reported by two slices, or twice with
another end second) and split at midnight, so that a day's timeline holds that day only.
Records that merely touch (08:00:00–08:59:59 and 09:00:00–09:59:59) stay two records: each
is a device file. Of merged records the earliest keeps its fields; the merged span's
`file_size` is the sum when all are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from farmwatch.sipserver.gb.manscdp import RecordItem

__all__ = [
    "DEVICE_TIME_FORMAT",
    "RecordSource",
    "RecordSpan",
    "device_time",
    "format_device_time",
    "merge_spans",
    "parse_device_time",
    "slice_range",
    "spans_from_items",
]

DEVICE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
# `2024-01-01T08:00:00`, with a space instead of T, fractions or a trailing Z/offset as some
# firmwares add (ignored: the device's zone is the configured one, whatever it writes).
_DEVICE_TIME = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.\d{1,6})?"
    r"(?:Z|[+-]\d{2}:?\d{2})?\s*"
)


class RecordSource(StrEnum):
    DEVICE = "device"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class RecordSpan:
    """A recorded span of one channel, aware times in the platform's zone; `end` exclusive
    of nothing: it is the last recorded second as the device said it."""

    start: datetime
    end: datetime
    source: RecordSource
    name: str | None = None
    file_path: str | None = None
    address: str | None = None
    record_type: str | None = None
    secrecy: int | None = None
    recorder_id: str | None = None
    file_size: int | None = None
    stream_number: int | None = None
    record_location: str | None = None


def parse_device_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A device's local time as an aware datetime in `zone`; None when unreadable."""
    if text is None:
        return None
    match = _DEVICE_TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def device_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` (aware) as the wall time of `zone`, for sending to devices."""
    return moment.astimezone(zone)


def format_device_time(moment: datetime, zone: ZoneInfo) -> str:
    """`YYYY-MM-DDTHH:MM:SS` in `zone`, as RecordInfo queries carry it."""
    return moment.astimezone(zone).strftime(DEVICE_TIME_FORMAT)


def slice_range(
    start: datetime, end: datetime, length: timedelta
) -> list[tuple[datetime, datetime]]:
    """[start, end] cut into consecutive slices of `length`, in order; each slice ends one
    second before the next begins (device times have whole seconds)."""
    if length <= timedelta(0):
        raise ValueError("the slice length must be positive")
    slices: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor <= end:
        stop = min(cursor + length - timedelta(seconds=1), end)
        slices.append((cursor, stop))
        cursor = stop + timedelta(seconds=1)
    return slices


def spans_from_items(
    items: Iterable[RecordItem], zone: ZoneInfo, source: RecordSource = RecordSource.DEVICE
) -> tuple[list[RecordSpan], int]:
    """The readable records as spans, and how many were dropped as unreadable (no or bad
    times, or an end before the start)."""
    spans: list[RecordSpan] = []
    unreadable = 0
    for item in items:
        start = parse_device_time(item.start_time, zone)
        end = parse_device_time(item.end_time, zone)
        if start is None or end is None or end < start:
            unreadable += 1
            continue
        spans.append(
            RecordSpan(
                start,
                end,
                source,
                name=item.name,
                file_path=item.file_path,
                address=item.address,
                record_type=item.record_type,
                secrecy=item.secrecy,
                recorder_id=item.recorder_id,
                file_size=item.file_size,
                stream_number=item.stream_number,
                record_location=item.record_location,
            )
        )
    return spans, unreadable


def merge_spans(spans: Sequence[RecordSpan], start: datetime, end: datetime) -> list[RecordSpan]:
    """De-duplicated, clipped to [start, end], overlaps merged, split at midnight; sorted.

    Spans of different sources or stream numbers are never merged with each other.
    """
    clipped = list(
        {
            replace(span, start=max(span.start, start), end=min(span.end, end))
            for span in spans
            if span.end >= start and span.start <= end
        }
    )
    clipped.sort(key=lambda s: (s.source, s.stream_number or 0, s.start, s.end))
    merged: list[RecordSpan] = []
    for span in clipped:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.source, last.stream_number) == (span.source, span.stream_number)
            # Overlapping, contained or starting together; files that only touch
            # (08:00:00–09:00:00 | 09:00:00–10:00:00) stay two.
            and (span.start < last.end or span.end <= last.end or span.start == last.start)
        ):
            merged[-1] = replace(last, end=max(last.end, span.end),
                                 file_size=_sum(last.file_size, span.file_size))  # fmt: skip
        else:
            merged.append(span)
    days = [piece for span in merged for piece in _split_at_midnight(span)]
    days.sort(key=lambda s: (s.start, s.source, s.stream_number or 0))
    return days


def _sum(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None or a < 0 or b < 0 else a + b


def _split_at_midnight(span: RecordSpan) -> list[RecordSpan]:
    pieces: list[RecordSpan] = []
    current = span
    while True:
        midnight = datetime.combine(
            current.start.date() + timedelta(days=1), time(0), tzinfo=current.start.tzinfo
        )
        if current.end <= midnight:  # ending at midnight sharp is ending that day
            break
        pieces.append(replace(current, end=midnight - timedelta(seconds=1), file_size=None))
        current = replace(current, start=midnight, file_size=None)
    pieces.append(current)
    return pieces
