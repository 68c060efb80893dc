"""The record index of one simulated channel: which files it has recorded (gb28181.md §4.7).

Owns the rule behind a simulated channel's recordings: files of `file_minutes` minutes starting
at local midnight + k × `file_minutes` in the device's zone (never the host's), cut at the next
local midnight, so no file spans two days; kept for the last `days` days (a file that began
before that has been deleted whole), the newest one still being written (it ends at `now`).
About `missing_fraction` of the files are missing and one file a day ends early; which ones
is decided per file from the channel ID and the file's start alone (BLAKE2b), so the index
for another `now` agrees wherever both cover, and every run sees the same gaps.

A RecordInfo query gives local naive times (`YYYY-MM-DDTHH:MM:SS`; a space instead of the
`T` is accepted); `query` answers with every file that overlaps [start, end], whole (as
Hikvision does), and `item` writes one as the RecordInfo `Item`. Pure: `now` is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from farmwatch.simulator.record_settings import RecordSettings
from farmwatch.sipserver.gb.manscdp import RecordItem

__all__ = ["RECORD_TYPE", "RecordFile", "RecordIndex"]

RECORD_TYPE = "time"
"""Every simulated recording is a scheduled (time) one."""
RECORD_LOCATION = "1"
"""[2022] `RecordLocation` of the files: 1 = on the device (0 would be central storage)."""
_DAY = 86_400
_SHORT_MIN, _SHORT_SPAN = 0.25, 0.5
"""A day's short file keeps between 25 % and 75 % of its slot."""


@dataclass(frozen=True, slots=True, order=True)
class RecordFile:
    """One recorded file: [start, end) in Unix seconds (UTC)."""

    start: int
    end: int

    @property
    def duration(self) -> int:
        return self.end - self.start

    def overlaps(self, start: int, end: int) -> bool:
        """True when the file has a second in [start, end] (both ends included)."""
        return self.start <= end and self.end > start


class RecordIndex:
    """The files of `channel_id` as seen at `now` (Unix seconds)."""

    def __init__(self, channel_id: str, settings: RecordSettings, now: float) -> None:
        self.channel_id = channel_id
        self.settings = settings
        self.zone: ZoneInfo = settings.zone
        self.now = int(now)
        self.window_start = self.now - settings.days * _DAY
        """No file starts before this."""

    # -- files ------------------------------------------------------------------------------

    @property
    def files(self) -> list[RecordFile]:
        """Every file of the index, oldest first."""
        return self.files_between(self.window_start, self.now)

    def files_between(self, start: int, end: int) -> list[RecordFile]:
        """The files with a second in [start, end] (Unix seconds), oldest first."""
        start, end = max(start, self.window_start), min(end, self.now)
        if end < start:
            return []
        day = self._local_date(start) - timedelta(days=1)  # a DST day may start early
        last = self._local_date(end)
        files: list[RecordFile] = []
        while day <= last:
            files += (f for f in self._files_of_day(day) if f.overlaps(start, end))
            day += timedelta(days=1)
        return files

    def query(self, start_text: str | None, end_text: str | None) -> list[RecordFile]:
        """The files overlapping a RecordInfo query's [StartTime, EndTime] (local times)."""
        if start_text is None or end_text is None:
            return []
        start, end = self.parse_local(start_text), self.parse_local(end_text)
        if start is None or end is None:
            return []
        return self.files_between(start, end)

    def _files_of_day(self, day: date) -> Iterator[RecordFile]:
        midnight = self._midnight(day)
        next_midnight = self._midnight(day + timedelta(days=1))
        step = self.settings.file_minutes * 60
        slots = list(range(midnight, next_midnight, step))
        short = int(self._fraction("short", day.isoformat()) * len(slots))
        for number, slot_start in enumerate(slots):
            if slot_start < self.window_start or slot_start >= self.now:
                continue
            if self._fraction("missing", str(slot_start)) < self.settings.missing_fraction:
                continue
            slot_end = min(slot_start + step, next_midnight)
            if number == short:
                kept = _SHORT_MIN + _SHORT_SPAN * self._fraction("short-length", day.isoformat())
                slot_end = slot_start + max(1, int((slot_end - slot_start) * kept))
            end = min(slot_end, self.now)
            if end > slot_start:
                yield RecordFile(slot_start, end)

    def _fraction(self, what: str, key: str) -> float:
        """A number in [0, 1) fixed by the channel, `what` and `key`."""
        text = f"{self.channel_id}/{what}/{key}".encode()
        digest = hashlib.blake2b(text, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    # -- local time -------------------------------------------------------------------------

    def _local_date(self, moment: int) -> date:
        return datetime.fromtimestamp(moment, self.zone).date()

    def _midnight(self, day: date) -> int:
        return int(datetime.combine(day, time(0), tzinfo=self.zone).timestamp())

    def local_text(self, moment: int) -> str:
        """`YYYY-MM-DDTHH:MM:SS` in the device's zone, as RecordInfo writes times."""
        return datetime.fromtimestamp(moment, self.zone).strftime("%Y-%m-%dT%H:%M:%S")

    def parse_local(self, text: str) -> int | None:
        """Unix seconds of a RecordInfo time (local unless it carries an offset); None if bad."""
        try:
            parsed = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.zone)
        return int(parsed.astimezone(UTC).timestamp())

    # -- RecordInfo items -------------------------------------------------------------------

    def item(
        self, file: RecordFile, *, name: str | None, address: str | None, bytes_per_second: int
    ) -> RecordItem:
        """The RecordInfo `Item` of `file`: its full bounds, 2016 and 2022 fields."""
        started = datetime.fromtimestamp(file.start, self.zone)
        return RecordItem(
            device_id=self.channel_id,
            start_time=self.local_text(file.start),
            end_time=self.local_text(file.end),
            name=name,
            file_path=f"{self.channel_id}_{started:%Y%m%d%H%M%S}",
            address=address,
            secrecy=0,
            record_type=RECORD_TYPE,
            file_size=file.duration * bytes_per_second,
            record_location=RECORD_LOCATION,
            stream_number=0,
        )
