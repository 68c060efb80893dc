"""Recorded segments played back as `EsFrame`s: the source of a playback of platform recordings.

Owns the reading side of platform recording (DESIGN.md "Growing the house": a playback stream
is a `Stream` like a live one; field-notes §1 "Differentiator": recordings served to uppers).
Given the segment files of one channel in time order, each with the wall time of its first
frame (`RecordedSegment` rows, `sinks/segment_writer.py`), and a start time, it yields video
access units in Annex-B form with 90 kHz `pts`/`dts`, key-frame flags and the codec, as the
PS demuxer gives them for a live stream. A segment is the camera's PS as received with an
index beside it (`recorded_ps.py`: demultiplexed here, only when somebody plays it); a legacy
`.mp4` segment, recorded before segments were kept as PS, is read with PyAV
(`recorded_mp4.py`).

Reading starts at the key frame at or before the start time, in the segment holding it (or in
the next segment, when the start falls in a hole). Timestamps are the recorded wall time in
90 kHz ticks since the first frame yielded, so they go on across segments, and a hole between
segments shows as a step forward of that length (an output's `OutputClock` takes it as a
jump); a segment that overlaps the one before it (a recorder re-synced to the wall clock) is
moved to start one frame after it, so they never go back. `wall_time(frame)` gives the
recorded wall time of any frame yielded. A segment that cannot be read (deleted by retention
meanwhile, damaged) is logged and skipped (`files_skipped`); one cut shorter than its index
gives what it holds (`files_damaged`).

Blocking: opening and demuxing do file I/O and CPU work. Iterate `frames()` or call
`read(max_frames)` from a worker thread (`await asyncio.to_thread(reader.read, 50)`), one
thread at a time, never from the event loop.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, EsFrame
from farmwatch.media.recorded_ps import RecordedUnit, read_ps_segment

__all__ = ["RecordingPart", "RecordingReader"]

log = logging.getLogger(__name__)

_VIDEO_STREAM_ID = 0xE0
_LEGACY_SUFFIX = ".mp4"


class RecordingPart(Protocol):
    """One segment file and the wall time of its first frame (a `RecordedSegment` is one)."""

    @property
    def path(self) -> Path: ...

    @property
    def start(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where one segment's frames sit on the output timeline: its first frame yielded."""

    dts: int
    """Output DTS of that frame."""
    ticks: int
    """Its decode time in the segment, 90 kHz ticks from the segment's start."""
    wall_time: datetime
    """Its recorded wall time (UTC)."""
    zone: tzinfo | None
    """The zone of the segment's start, for `wall_time` answers."""


class RecordingReader:
    """Frames of `parts` (in time order) from the key frame at or before `start` (aware)."""

    def __init__(self, parts: Sequence[RecordingPart], start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self._parts = list(parts)
        self._target = _utc(start)
        self._origins: list[_Origin] = []
        self._origin_dts: list[int] = []
        self._base: datetime | None = None
        """Wall time of output DTS 0: the first frame yielded."""
        self._last_dts: int | None = None
        self._last_step = TIMESTAMP_CLOCK_RATE // 25
        self._origin: _Origin | None = None
        """The segment being read."""
        self._iterator: Iterator[EsFrame] | None = None
        self.files_skipped = 0
        self.files_damaged = 0

    def frames(self) -> Iterator[EsFrame]:
        """Every frame from the start on (blocking: see the module docstring)."""
        first = max(
            (i for i, part in enumerate(self._parts) if _utc(part.start) <= self._target),
            default=0,
        )
        for part in self._parts[first:]:
            yield from self._read_part(part)

    def read(self, max_frames: int) -> list[EsFrame]:
        """The next frames, at most `max_frames`; [] once every segment was read."""
        if self._iterator is None:
            self._iterator = self.frames()
        batch: list[EsFrame] = []
        for frame in self._iterator:
            batch.append(frame)
            if len(batch) >= max_frames:
                break
        return batch

    def wall_time(self, frame: EsFrame) -> datetime:
        """The recorded wall time of a frame this reader yielded (in its segment's zone)."""
        if not self._origins:
            raise ValueError("no frame was yielded yet")
        index = max(bisect.bisect_right(self._origin_dts, frame.dts) - 1, 0)
        origin = self._origins[index]
        seconds = (frame.dts - origin.dts) / TIMESTAMP_CLOCK_RATE
        return (origin.wall_time + timedelta(seconds=seconds)).astimezone(origin.zone)

    def _read_part(self, part: RecordingPart) -> Iterator[EsFrame]:
        target = None
        if self._base is None:  # not playing yet: look for the start time in this segment
            offset = (self._target - _utc(part.start)).total_seconds()
            target = round(offset * TIMESTAMP_CLOCK_RATE) if offset > 0 else None
        self._origin = None
        if part.path.suffix == _LEGACY_SUFFIX:
            from farmwatch.media.recorded_mp4 import read_mp4_segment  # PyAV: legacy files only

            units = read_mp4_segment(part.path, target)
        else:
            units = read_ps_segment(part.path, target, self._damaged)
        try:
            for unit in units:
                yield self._frame(part, unit)
        except MediaError as error:
            log.warning("%s, skipped", error)
            self.files_skipped += 1

    def _damaged(self) -> None:
        self.files_damaged += 1

    def _frame(self, part: RecordingPart, unit: RecordedUnit) -> EsFrame:
        """The frame of `unit`, decoded `unit.ticks` into its segment."""
        ticks = unit.ticks
        if self._origin is None:
            self._origin = self._place(part, ticks)
        elif self._last_dts is not None:
            self._last_step = max(self._origin.dts + ticks - self._origin.ticks - self._last_dts, 1)
        shift = self._origin.dts - self._origin.ticks
        self._last_dts = ticks + shift
        return EsFrame(unit.codec, unit.data, unit.pts + shift, ticks + shift, unit.is_keyframe,
                       _VIDEO_STREAM_ID, unit.is_damaged)  # fmt: skip

    def _place(self, part: RecordingPart, ticks: int) -> _Origin:
        """Put a segment's first frame yielded (at `ticks` into it) on the output timeline."""
        wall = _utc(part.start) + timedelta(seconds=ticks / TIMESTAMP_CLOCK_RATE)
        if self._base is None:
            self._base = wall
        dts = round((wall - self._base).total_seconds() * TIMESTAMP_CLOCK_RATE)
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + self._last_step  # overlaps the segment before: never go back
        origin = _Origin(dts, ticks, wall, part.start.tzinfo)
        self._origins.append(origin)
        self._origin_dts.append(dts)
        return origin


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
