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

Writing (blocking: run it in a worker thread, a lock keeps two threads' calls apart): each
`write` call (the recorder hands over a GOP at a time) appends its frames' records to the
`.idx` file with one `write`, then their bytes to the `.ps` file with one `writev`. After a
kill, the records whose bytes are all in the `.ps` file are exactly the whole frames, however
the last write was cut (`segment_recovery` keeps those); the batch being written is lost at
most. A closed segment's files are flushed to disk (`fsync`) and renamed, the `.ps` first.
Each closed segment is a `RecordedSegment`.
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
from farmwatch.media.sinks.segment_index import HEADER, IndexEntry, encode_entries
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


class _SegmentFile:
    """One segment's two files while it is written."""

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
        os.write(self._index, HEADER)
        self._frames: list[bytes] = []
        self._entries: list[IndexEntry] = []
        self.byte_count = 0
        self.frame_count = 0
        self.last_time = 0

    def add(self, placed: PlacedFrame) -> None:
        data = placed.frame.data
        self._entries.append(IndexEntry(self.byte_count, len(data), placed.flags, placed.time))
        self._frames.append(data)
        self.byte_count += len(data)
        if placed.is_picture:
            self.frame_count += 1
            self.last_time = placed.time

    def flush(self) -> None:
        """Append what was added: the index records, then the frames' bytes."""
        if self._entries:
            entries, self._entries = self._entries, []
            _write_all(self._index, [encode_entries(entries)])
        frames, self._frames = self._frames, []
        for first in range(0, len(frames), _MAX_BUFFERS):
            _write_all(self._ps, frames[first : first + _MAX_BUFFERS])

    def close(self) -> None:
        """Flush, sync to disk and close both files."""
        try:
            self.flush()
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
    """PS frames in, segment files under `directory` out (blocking: see the module docstring).

    `write` and `finish` return the segments they closed; `abort` stops without closing the
    open segment (its temporary files stay for `segment_recovery`).
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
        self._file: _SegmentFile | None = None

    def write(self, frames: Iterable[TakenFrame]) -> list[RecordedSegment]:
        """Record frames taken at `now`, live or not (see `SegmentTimeline.feed`), and append
        them to the open segment's files."""
        closed: list[RecordedSegment] = []
        with self._lock:
            feed = self.timeline.feed
            for frame, now, is_live in frames:
                self._perform(feed(frame, now, is_live=is_live), closed)
            if self._file is not None:
                self._file.flush()
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
            if isinstance(output, PlacedFrame):
                assert self._file is not None
                self._file.add(output)
            elif isinstance(output, SegmentStarted):
                path = free_path(temporary_segment_path(self.directory, output.start))
                self._file = _SegmentFile(path, output)
            else:
                closed.append(self._close(output.end))

    def _close(self, end: datetime) -> RecordedSegment:
        file, self._file = self._file, None
        assert file is not None
        file.close()
        started = file.started
        path = free_path(segment_path(self.directory, started.start, end))
        file.path.rename(path)
        index_path(file.path).rename(index_path(path))
        size = started.size
        return RecordedSegment(
            path, started.start, end, file.frame_count, file.byte_count, started.codec,
            size.width if size is not None else 0, size.height if size is not None else 0,
        )  # fmt: skip
