"""Platform recording: one stream into MP4 segment files cut at key frames, named by wall time.

Owns the segment recorder of DESIGN.md "Growing the house" (field-notes §1 "Plans": cut on
key frames with no gap, one fixed zone). It is given a channel's folder,
`{storage}/recordings/{location}/{channel}` (media knows nothing of farms), and writes

    {folder}/{YYYY-MM-DD}/{HHMMSS}-open.mp4           while a segment is being written
    {folder}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}.mp4       once it is closed (start-end)

with dates and times in the configured `ZoneInfo`, never the host's. A name already taken
gets `_1`, `_2`... before `.mp4` (a clock stepped back never overwrites a recording). A
segment that ends after midnight keeps its start's folder, and its end is the next day's time.

Cuts (`SegmentTimeline`, pure): a segment starts on a key frame and ends where the next one
starts, at the first key frame at or after `segment_length`, at or after midnight in the zone
(so a segment spans midnight by less than a GOP), where the parameter sets change (a new
resolution needs a new `moov`), or where the recorded time has drifted from the wall clock.
Timestamps go through one `OutputClock` for the whole recording, so a device's timestamp
jump neither breaks a file nor moves the timeline; the recorded wall time of a frame is its
segment's start plus its output DTS since the segment's first frame, and a segment starts
exactly where the one before it ended (gap 0). Only the first segment's start is read from
the wall clock: from the first frame taken while nothing else was queued (the GOP a stream
hands a new sink at once was captured up to a GOP earlier), moved back by the media time
since the segment's first frame. After that the shell reports the wall clock with every live
frame; when the least offset over a GOP exceeds `resync_threshold` (a device clock running
fast or slow, a stall the timestamps did not show), the next segment starts at the wall
clock's time instead (`resyncs`), leaving a gap, or an overlap of the names, of that size.

Files (`SegmentWriter`, blocking, in a writer thread): `mp4_file.Mp4FileWriter`, fragmented
MP4 with one `moof`+`mdat` per GOP written as the next key frame arrives, so a killed
process loses the GOP in progress, and the temporary file is what `segment_recovery`
repairs. Closed files are flushed to disk (`fsync`) before the rename. Video only: audio is
not recorded (as the live fMP4 sink). Shell (`SegmentRecorder`): a `LosslessFileSink` with a
minute of queue that hands a GOP at a time to the writer thread (pass one `executor` to all
recorders); frames it drops because it fell a whole queue behind are a fault, logged and
counted (`frames_lost`). Each closed segment goes to `on_segment` as a `RecordedSegment`.
Cost: ~23 µs of CPU a frame all in for a 720p25 2 Mbit/s camera (bench/segment_writer.py),
inside issue 8's budget of half the ingest cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from functools import partial
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame, MediaKind
from farmwatch.media.nal import ParameterSets, extract_parameter_sets
from farmwatch.media.output_clock import OutputClock
from farmwatch.media.sinks.mp4_file import LosslessFileSink, Mp4FileWriter

__all__ = [
    "DEFAULT_RESYNC_THRESHOLD",
    "DEFAULT_SEGMENT_LENGTH",
    "RECORDER_QUEUE_BYTES",
    "RECORDER_QUEUE_FRAMES",
    "RecordedSegment",
    "SegmentEnded",
    "SegmentRecorder",
    "SegmentStarted",
    "SegmentTimeline",
    "SegmentWriter",
    "StampedFrame",
    "TakenFrame",
    "TimelineOutput",
    "WallClock",
    "free_path",
    "segment_path",
    "temporary_segment_path",
]

log = logging.getLogger(__name__)

DEFAULT_SEGMENT_LENGTH = timedelta(minutes=10)
DEFAULT_RESYNC_THRESHOLD = 2.0
"""Seconds the recorded time may drift from the wall clock before a segment re-syncs."""
RECORDER_QUEUE_FRAMES = 1500
"""A minute of 25 fps video: a writer thread stalled that long (a slow disk) loses nothing."""
RECORDER_QUEUE_BYTES = 64 * 1024 * 1024
TEMPORARY_MARK = "open"
_HELD_FRAMES = 256
"""Frames kept back while waiting for a live one to read the first start from."""

WallClock = Callable[[], float]
"""POSIX seconds now (`time.time` in production)."""
TakenFrame = tuple[EsFrame, float, bool]
"""A frame as the shell took it: the frame, the wall clock then, and whether it was live
(nothing else was queued behind it)."""


@dataclass(frozen=True, slots=True)
class RecordedSegment:
    """A closed segment file, as the platform indexes it."""

    path: Path
    start: datetime
    """Wall time of its first frame (aware, in the recorder's zone)."""
    end: datetime
    """Wall time where the next segment starts (or its last frame ends)."""
    frame_count: int
    byte_count: int
    codec: Codec
    width: int
    height: int

    @property
    def duration(self) -> timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


def _day_folder(directory: Path, start: datetime) -> Path:
    return directory / start.strftime("%Y-%m-%d")


def temporary_segment_path(directory: Path, start: datetime) -> Path:
    """`{directory}/{YYYY-MM-DD}/{HHMMSS}-open.mp4` of a segment being written."""
    return _day_folder(directory, start) / f"{start:%H%M%S}-{TEMPORARY_MARK}.mp4"


def segment_path(directory: Path, start: datetime, end: datetime) -> Path:
    """`{directory}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}.mp4` of a closed segment."""
    return _day_folder(directory, start) / f"{start:%H%M%S}-{end:%H%M%S}.mp4"


def free_path(path: Path) -> Path:
    """`path`, or `{stem}_{n}{suffix}` with the first n that names no file."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
    return candidate


@dataclass(frozen=True, slots=True)
class SegmentStarted:
    """A segment starts with the next frame."""

    start: datetime


@dataclass(frozen=True, slots=True)
class SegmentEnded:
    """The open segment ends before the next frame."""

    end: datetime


class StampedFrame(NamedTuple):
    """A frame and its timestamps on the recording's output timeline (`OutputClock`)."""

    frame: EsFrame
    pts: int
    dts: int


TimelineOutput = SegmentStarted | SegmentEnded | StampedFrame
"""What `SegmentTimeline` returns, in order: segment boundaries and the frames between them,
stamped on the recording's output timeline."""


@dataclass(frozen=True, slots=True)
class _Segment:
    start: float
    first_dts: int
    cut_at: float
    """POSIX time from which on a key frame ends the segment."""
    codec: Codec
    parameter_sets: ParameterSets

    def wall_time(self, dts: int) -> float:
        return self.start + (dts - self.first_dts) / TIMESTAMP_CLOCK_RATE


class SegmentTimeline:
    """Where segments start and end, and their wall times (pure: `now` is given)."""

    def __init__(
        self,
        zone: ZoneInfo,
        *,
        segment_length: timedelta = DEFAULT_SEGMENT_LENGTH,
        resync_threshold: float = DEFAULT_RESYNC_THRESHOLD,
    ) -> None:
        if segment_length <= timedelta(0) or resync_threshold <= 0:
            raise ValueError("segment_length and resync_threshold must be > 0")
        self._zone = zone
        self._length = segment_length.total_seconds()
        self._resync_threshold = resync_threshold
        self._clock = OutputClock()
        self._segment: _Segment | None = None
        self._held: list[StampedFrame] = []
        self._held_sets = ParameterSets()
        self._offset: float | None = None
        """Least (wall clock − recorded time) of the live frames since the last key frame."""
        self._latest: tuple[int, float] = (0, 0.0)
        self.frames_skipped = 0
        """Audio, other codecs, and frames before a key frame a segment can start on."""
        self.resyncs = 0
        """Segments started at the wall clock's time because the recorded time drifted."""

    def feed(self, frame: EsFrame, now: float, *, is_live: bool = True) -> list[TimelineOutput]:
        """Place one frame (decode order); `now` is the wall clock when it was taken and
        `is_live` whether nothing was queued behind it (so `now` is when it arrived)."""
        if frame.kind is not MediaKind.VIDEO or not frame.codec.is_annex_b:
            self.frames_skipped += 1
            return []
        sets, is_in_band = self._start_parameter_sets(frame)
        if sets is None and frame.codec is not self._codec:
            self.frames_skipped += 1
            return []
        pts, dts = self._clock.stamp(frame.pts, frame.dts)
        if sets is not None and not is_in_band:
            frame = _with_parameter_sets(frame, sets)
        stamped = StampedFrame(frame, pts, dts)
        self._latest = (dts, now)
        outputs: list[TimelineOutput] = []
        if self._segment is None:
            if not self._held or sets is None:
                if not self._held:
                    self._held_sets = sets or ParameterSets()
                self._held.append(stamped)
                return self._anchor(now, dts) if is_live or len(self._held) >= _HELD_FRAMES else []
            outputs = self._anchor(now, dts)  # a second key frame came before a live frame
        if sets is not None:
            outputs += self._cut_if_due(stamped, sets)
        segment = self._segment
        assert segment is not None
        if is_live:
            offset = now - segment.wall_time(dts)
            self._offset = offset if self._offset is None else min(self._offset, offset)
        outputs.append(stamped)
        return outputs

    def finish(self) -> list[TimelineOutput]:
        """The recording stops: the open segment ends one frame interval after its last frame."""
        dts, now = self._latest
        outputs = self._anchor(now, dts) if self._held else []
        if self._segment is not None:
            end = self._segment.wall_time(dts) + self._clock.frame_interval / TIMESTAMP_CLOCK_RATE
            outputs.append(SegmentEnded(self._datetime(end)))
            self._segment = None
        self._offset = None
        return outputs

    @property
    def _codec(self) -> Codec | None:
        """The codec of the open segment (or of the frames held to start one)."""
        if self._segment is not None:
            return self._segment.codec
        return self._held[0].frame.codec if self._held else None

    def _start_parameter_sets(self, frame: EsFrame) -> tuple[ParameterSets | None, bool]:
        """The parameter sets a segment starting on `frame` would have (None: it cannot start
        one), and whether the frame carries them itself."""
        if not frame.is_keyframe or frame.is_damaged:
            return None, False
        found = extract_parameter_sets(frame.codec, frame.data)
        if found.is_complete(frame.codec):
            return found, True
        segment = self._segment
        if segment is not None and segment.codec is frame.codec:
            return segment.parameter_sets, False  # a key frame without them: repeat the last
        return None, False

    def _anchor(self, now: float, dts: int) -> list[TimelineOutput]:
        """Start the first segment so that the frame stamped `dts` arrived at `now`."""
        held, self._held = self._held, []
        first = held[0]
        start = now - (dts - first.dts) / TIMESTAMP_CLOCK_RATE
        self._segment = self._open(start, first.dts, first.frame.codec, self._held_sets)
        return [SegmentStarted(self._datetime(start)), *held]

    def _cut_if_due(self, stamped: StampedFrame, sets: ParameterSets) -> list[TimelineOutput]:
        segment = self._segment
        assert segment is not None
        offset, self._offset = self._offset, None
        frame = stamped.frame
        wall = segment.wall_time(stamped.dts)
        is_drifting = offset is not None and abs(offset) > self._resync_threshold
        is_changed = frame.codec is not segment.codec or sets != segment.parameter_sets
        if not (is_drifting or is_changed or wall >= segment.cut_at):
            return []
        start = wall
        if is_drifting and offset is not None:
            start += offset
            self.resyncs += 1
        self._segment = self._open(start, stamped.dts, frame.codec, sets)
        return [SegmentEnded(self._datetime(wall)), SegmentStarted(self._datetime(start))]

    def _open(self, start: float, first_dts: int, codec: Codec, sets: ParameterSets) -> _Segment:
        day = self._datetime(start).date()
        cut_at = min(start + self._length, self._midnight_after(day))
        return _Segment(start, first_dts, cut_at, codec, sets)

    def _midnight_after(self, day: date) -> float:
        following = datetime.combine(day + timedelta(days=1), time_of_day(), tzinfo=self._zone)
        return following.timestamp()

    def _datetime(self, posix: float) -> datetime:
        return datetime.fromtimestamp(posix, self._zone)


def _with_parameter_sets(frame: EsFrame, sets: ParameterSets) -> EsFrame:
    """`frame` with `sets` put in front (a key frame that came without them)."""
    units = (sets.vps, sets.sps, sets.pps)
    data = b"".join(b"\x00\x00\x00\x01" + unit for unit in units if unit) + frame.data
    return dataclasses.replace(frame, data=data)


class SegmentWriter:
    """Frames in, segment files under `directory` out (blocking: run it in worker threads).

    `write` and `finish` return the segments they closed; `abort` stops without closing
    the open segment (its temporary file stays for `segment_recovery`). A lock keeps the
    calls of two threads apart.
    """

    def __init__(
        self,
        directory: Path,
        zone: ZoneInfo,
        *,
        segment_length: timedelta = DEFAULT_SEGMENT_LENGTH,
        resync_threshold: float = DEFAULT_RESYNC_THRESHOLD,
    ) -> None:
        self.directory = directory
        self.timeline = SegmentTimeline(
            zone, segment_length=segment_length, resync_threshold=resync_threshold
        )
        self._lock = threading.Lock()
        self._file: Mp4FileWriter | None = None
        self._start: datetime | None = None

    def write(self, frames: Iterable[TakenFrame]) -> list[RecordedSegment]:
        """Record frames taken at `now`, live or not (see `SegmentTimeline.feed`)."""
        closed: list[RecordedSegment] = []
        with self._lock:
            for frame, now, is_live in frames:
                self._perform(self.timeline.feed(frame, now, is_live=is_live), closed)
        return closed

    def finish(self) -> list[RecordedSegment]:
        """Close the open segment."""
        closed: list[RecordedSegment] = []
        with self._lock:
            self._perform(self.timeline.finish(), closed)
        return closed

    def abort(self) -> None:
        with self._lock:
            file, self._file = self._file, None
            if file is not None:
                file.abort()

    def _perform(self, outputs: list[TimelineOutput], closed: list[RecordedSegment]) -> None:
        for output in outputs:
            if isinstance(output, StampedFrame):
                assert self._file is not None
                self._file.write(output.frame, (output.pts, output.dts))
            elif isinstance(output, SegmentStarted):
                self._start = output.start
                path = free_path(temporary_segment_path(self.directory, output.start))
                self._file = Mp4FileWriter(path)
            elif (segment := self._close(output.end)) is not None:
                closed.append(segment)

    def _close(self, end: datetime) -> RecordedSegment | None:
        file, start, self._file = self._file, self._start, None
        assert file is not None and start is not None
        info = file.close()
        if info is None:  # its first key frame's parameter sets did not parse
            log.warning("segment %s: no frame could be written (%d skipped)", file.path,
                        file.frames_skipped)  # fmt: skip
            return None
        path = free_path(segment_path(self.directory, start, end))
        info.path.rename(path)
        return RecordedSegment(
            path, start, end, info.frame_count, info.byte_count, info.codec, info.width,
            info.height,
        )  # fmt: skip


class SegmentRecorder(LosslessFileSink):
    """A stream recorded into segment files under `directory` (see the module docstring).

    `await start()` (the recording task is owned here), attach it to the stream. It ends
    when the stream ends (`end`: what is queued is written and the open segment closed),
    or on `close()`, which does the same within `close_timeout` seconds and otherwise
    leaves the temporary file for recovery. A failure to write (disk full) is logged and
    closes the recorder (`is_closed`, `has_failed`); the owner decides whether to retry.
    """

    def __init__(
        self,
        directory: Path,
        *,
        zone: ZoneInfo,
        on_segment: Callable[[RecordedSegment], None],
        segment_length: timedelta = DEFAULT_SEGMENT_LENGTH,
        wall_clock: WallClock = time.time,
        resync_threshold: float = DEFAULT_RESYNC_THRESHOLD,
        close_timeout: float = 10.0,
        executor: Executor | None = None,
        max_frames: int = RECORDER_QUEUE_FRAMES,
        max_bytes: int = RECORDER_QUEUE_BYTES,
        name: str = "",
    ) -> None:
        super().__init__(max_frames=max_frames, max_bytes=max_bytes, executor=executor, name=name)
        self.writer = SegmentWriter(
            directory, zone, segment_length=segment_length, resync_threshold=resync_threshold
        )
        self._on_segment = on_segment
        self._wall_clock = wall_clock
        self._close_timeout = close_timeout
        self._task: asyncio.Task[None] | None = None
        self._is_done = False
        self.has_failed = False
        self.segments_recorded = 0

    async def start(self) -> None:
        """Start recording what the stream offers."""
        if self._task is None and not self.is_closed:
            self._task = asyncio.create_task(self._run(), name=f"recorder:{self.name}")

    @property
    def is_closed(self) -> bool:
        """Closed, or the recording ended or failed: the stream then detaches the sink."""
        return super().is_closed or self._is_done

    async def close(self) -> None:
        """Stop recording: write what is queued and close the open segment, then release."""
        self.end("recording stopped")
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=self._close_timeout)
            if not task.done():
                log.error("recorder %s: not finished after %.0f s; the temporary file is "
                          "left for recovery", self.name, self._close_timeout)  # fmt: skip
        await super().close()

    def _frames_lost(self, count: int) -> None:
        log.error("recorder %s fell a whole queue behind: frames dropped up to the next key "
                  "frame (%d lost so far)", self.name, self.frames_lost)  # fmt: skip

    def _take(self, frame: EsFrame) -> TakenFrame:
        return frame, self._wall_clock(), self.queued_frames == 0

    async def _run(self) -> None:
        is_finished = False
        try:
            while batch := await self.next_fragment(self._take):
                self._report(await self._in_writer_thread(partial(self.writer.write, batch)))
            self._report(await self._in_writer_thread(self.writer.finish))
            is_finished = True
        except Exception:
            log.exception("recorder %s: recording into %s failed", self.name, self.writer.directory)
            self.has_failed = True
        finally:
            if not is_finished:
                await self._in_writer_thread(self.writer.abort)
            self._is_done = True

    def _report(self, segments: list[RecordedSegment]) -> None:
        for segment in segments:
            self.segments_recorded += 1
            try:
                self._on_segment(segment)
            except Exception:  # the listener's bug must not stop the recording
                log.exception("recorder %s: on_segment failed for %s", self.name, segment.path)

    async def _on_close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._is_done = True
