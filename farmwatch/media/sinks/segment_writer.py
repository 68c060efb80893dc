"""Recorded segments on disk: the camera's PS as received, with an index beside each file.

Owns the file side of platform recording (DESIGN.md "Growing the house": the segment
recorder). Given a channel's folder, `{storage}/recordings/{location}/{channel}` (media knows
nothing of farms), `SegmentWriter` writes

    {folder}/{YYYY-MM-DD}/{HHMMSS}-open.ps  and  .idx       while a segment is written
    {folder}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}.ps  and  .idx   once it is closed (start-end)

with dates and times in the configured `ZoneInfo`, never the host's. A name already taken
gets `_1`, `_2`... (a clock stepped back never overwrites a recording). A segment that ends
after midnight keeps its start's folder, and its end is the next day's time.

The `.ps` file holds each frame's program-stream bytes exactly as the camera sent them (pack
headers, PSM, PES packets; the bytes before and after a loss as they came), nothing
demultiplexed or rewritten: what NVRs keep, and the best evidence. The `.idx` sidecar holds
one record per frame (`segment_index.py`: offset, length, flags, 90 kHz time from the
segment's start). Where segments are cut and the frames' times come from `SegmentTimeline`.

Writing: the recorder hands over a GOP at a time. `plan` places the frames and builds their
index records (CPU only, on the event loop); `apply` (blocking: the writer thread) appends
the records to the `.idx` file with one `write`, then the frames' bytes to the `.ps` file
with one `writev`. After a kill, the records whose bytes are all in the `.ps` file are
exactly the whole frames, however the last write was cut (`segment_recovery` keeps those);
the batch being written is lost at most. A closed segment's files are flushed to disk
(`fsync`) and renamed, the `.ps` first. Each closed segment is a `RecordedSegment`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from farmwatch.media.frames import Codec
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.sinks.segment_index import HEADER, RECORD, FrameFlag
from farmwatch.media.sinks.segment_timeline import (
    DEFAULT_RESYNC_THRESHOLD,
    DEFAULT_SEGMENT_LENGTH,
    PlacedFrame,
    SegmentStarted,
    SegmentTimeline,
    TimelineOutput,
)

__all__ = [
    "INDEX_SUFFIX",
    "SEGMENT_SUFFIX",
    "TEMPORARY_MARK",
    "RecordedSegment",
    "SegmentWriter",
    "TakenFrame",
    "WritePlan",
    "free_path",
    "index_path",
    "segment_path",
    "temporary_segment_path",
]

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".ps"
INDEX_SUFFIX = ".idx"
TEMPORARY_MARK = "open"
_MAX_BUFFERS = 512
"""Buffers given to one `writev` (the system allows 1,024)."""
_RECORD = RECORD.pack
_NO_PICTURE = int(FrameFlag.NO_PICTURE)

TakenFrame = tuple[PsFrame, float, bool]
"""A frame as the recorder took it: the frame, the wall clock then, and whether it was live
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
    """Pictures (frames where a picture starts; sound and the like not counted)."""
    byte_count: int
    """Size of the segment file (the index beside it not counted)."""
    codec: Codec
    width: int
    height: int

    @property
    def duration(self) -> timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


def _day_folder(directory: Path, start: datetime) -> Path:
    return directory / start.strftime("%Y-%m-%d")


def temporary_segment_path(directory: Path, start: datetime) -> Path:
    """`{directory}/{YYYY-MM-DD}/{HHMMSS}-open.ps` of a segment being written."""
    return _day_folder(directory, start) / f"{start:%H%M%S}-{TEMPORARY_MARK}{SEGMENT_SUFFIX}"


def segment_path(directory: Path, start: datetime, end: datetime) -> Path:
    """`{directory}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}.ps` of a closed segment."""
    return _day_folder(directory, start) / f"{start:%H%M%S}-{end:%H%M%S}{SEGMENT_SUFFIX}"


def index_path(path: Path) -> Path:
    """The index beside a segment file: the same name with `.idx`."""
    return path.with_suffix(INDEX_SUFFIX)


def free_path(path: Path) -> Path:
    """`path`, or `{stem}_{n}{suffix}` with the first n such that neither it nor its index
    names a file."""
    candidate, number = path, 0
    while candidate.exists() or index_path(candidate).exists():
        number += 1
        candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
    return candidate


@dataclass(frozen=True, slots=True)
class _Open:
    """Create the files of a segment that starts."""

    started: SegmentStarted


@dataclass(frozen=True, slots=True)
class _Append:
    """Append frames to the open segment: their index records, then their bytes."""

    records: bytes
    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class _Close:
    """Close the open segment: flushed to disk, renamed by its end."""

    end: datetime
    frame_count: int
    byte_count: int


WritePlan = list[_Open | _Append | _Close]
"""The file operations `SegmentWriter.plan` decided, for `SegmentWriter.apply`."""


class _OpenSegment:
    """What the planner knows of the segment being written."""

    __slots__ = ("byte_count", "frame_count", "frames", "records")

    def __init__(self) -> None:
        self.byte_count = 0
        self.frame_count = 0
        self.records: list[bytes] = []
        self.frames: list[bytes] = []

    def add(self, placed: PlacedFrame) -> None:
        data = placed.frame.data
        self.records.append(_RECORD(self.byte_count, len(data), placed.flags, placed.time))
        self.frames.append(data)
        self.byte_count += len(data)
        if not placed.flags & _NO_PICTURE:
            self.frame_count += 1

    def take(self) -> _Append | None:
        if not self.frames:
            return None
        records, frames = b"".join(self.records), self.frames
        self.records, self.frames = [], []
        return _Append(records, frames)


class _SegmentFiles:
    """The two open files of the segment being written (in the writer thread)."""

    def __init__(self, path: Path, started: SegmentStarted) -> None:
        self.path = path
        self.started = started
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ps = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            self._index = os.open(index_path(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except BaseException:
            os.close(self._ps)
            raise
        _write_all(self._index, [HEADER])

    def append(self, append: _Append) -> None:
        """The index records first: a record whose bytes did not all reach the file is
        dropped by recovery, so none ever stands for a frame cut short."""
        _write_all(self._index, [append.records])
        frames = append.frames
        for first in range(0, len(frames), _MAX_BUFFERS):
            _write_all(self._ps, frames[first : first + _MAX_BUFFERS])

    def close(self) -> None:
        """Sync both files to disk and close them."""
        try:
            os.fsync(self._ps)
            os.fsync(self._index)
        finally:
            self.abort()

    def abort(self) -> None:
        """Close both files without writing more (what was written stays)."""
        for descriptor in (self._ps, self._index):
            if descriptor >= 0:
                os.close(descriptor)
        self._ps = self._index = -1


def _write_all(descriptor: int, buffers: list[bytes]) -> None:
    """`writev` every byte of `buffers` (a short write goes on where it stopped)."""
    remaining = sum(len(buffer) for buffer in buffers)
    while remaining:
        written = os.writev(descriptor, buffers)
        remaining -= written
        if remaining:
            views: list[bytes] = []
            for buffer in buffers:
                if written >= len(buffer):
                    written -= len(buffer)
                    continue
                views.append(memoryview(buffer)[written:])  # type: ignore[arg-type]
                written = 0
            buffers = views


class SegmentWriter:
    """PS frames in, segment files under `directory` out; see the module docstring.

    Two halves, so that the writer thread runs as little Python as possible (a thread
    contending with a busy event loop for the GIL pays several times the cost of the same
    code on the loop): `plan(frames)` places the frames on the timeline and builds their
    index records (CPU only, no I/O: the recorder calls it on the event loop), and
    `apply(plan)` performs the file operations (blocking: in the writer thread) and returns
    the segments it closed. `write` does both; `finish` closes the open segment; `abort`
    stops without closing it (its temporary files stay for `segment_recovery`). Plans are
    applied in the order they were made.
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
        self._segment: _OpenSegment | None = None
        self._lock = threading.Lock()
        self._files: _SegmentFiles | None = None

    def plan(self, frames: Iterable[TakenFrame]) -> WritePlan:
        """Place frames taken at `now`, live or not (see `SegmentTimeline.feed`)."""
        plan: WritePlan = []
        feed = self.timeline.feed
        for frame, now, is_live in frames:
            self._place(feed(frame, now, is_live=is_live), plan)
        self._take(plan)
        return plan

    def plan_finish(self) -> WritePlan:
        """The open segment closes."""
        plan: WritePlan = []
        self._place(self.timeline.finish(), plan)
        return plan

    def apply(self, plan: WritePlan) -> list[RecordedSegment]:
        """Perform a plan's file operations; the segments it closed."""
        closed: list[RecordedSegment] = []
        with self._lock:
            for operation in plan:
                if isinstance(operation, _Append):
                    assert self._files is not None
                    self._files.append(operation)
                elif isinstance(operation, _Open):
                    start = operation.started.start
                    path = free_path(temporary_segment_path(self.directory, start))
                    self._files = _SegmentFiles(path, operation.started)
                else:
                    closed.append(self._close(operation))
        return closed

    def write(self, frames: Iterable[TakenFrame]) -> list[RecordedSegment]:
        """`plan` and `apply` at once (blocking)."""
        return self.apply(self.plan(frames))

    def finish(self) -> list[RecordedSegment]:
        """Close the open segment (blocking)."""
        return self.apply(self.plan_finish())

    def abort(self) -> None:
        with self._lock:
            files, self._files = self._files, None
            if files is not None:
                files.abort()

    def _place(self, outputs: list[TimelineOutput], plan: WritePlan) -> None:
        for output in outputs:
            if isinstance(output, PlacedFrame):
                assert self._segment is not None
                self._segment.add(output)
            elif isinstance(output, SegmentStarted):
                plan.append(_Open(output))
                self._segment = _OpenSegment()
            else:
                segment, self._segment = self._segment, None
                assert segment is not None
                self._take(plan, segment)
                plan.append(_Close(output.end, segment.frame_count, segment.byte_count))

    def _take(self, plan: WritePlan, segment: _OpenSegment | None = None) -> None:
        segment = segment or self._segment
        append = segment.take() if segment is not None else None
        if append is not None:
            plan.append(append)

    def _close(self, close: _Close) -> RecordedSegment:
        files, self._files = self._files, None
        assert files is not None
        files.close()
        started = files.started
        path = free_path(segment_path(self.directory, started.start, close.end))
        files.path.rename(path)
        index_path(files.path).rename(index_path(path))
        size = started.size
        return RecordedSegment(
            path, started.start, close.end, close.frame_count, close.byte_count, started.codec,
            size.width if size is not None else 0, size.height if size is not None else 0,
        )  # fmt: skip
