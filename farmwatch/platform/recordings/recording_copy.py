"""A time range of platform recordings remuxed into one MP4 file (downloads, evidence clips).

The segments (the camera's PS as received, with their index) are read and demultiplexed from
the key frame at or before the start (`RecordingReader`) and written up to the end
(`Mp4FileWriter`): one finished file, no fragments to merge, its duration the range's within
a GOP. Blocking (file I/O, demuxing): run it in a worker thread. `progress` hears the
recorded seconds copied so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from farmwatch.media.recording_reader import RecordingReader
from farmwatch.media.sinks.mp4_file import Mp4FileInfo, Mp4FileWriter

__all__ = ["SegmentFile", "copy_recording"]

_BATCH = 100


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """One segment file and the wall time of its first frame (a `RecordingPart`)."""

    path: Path
    start: datetime


def copy_recording(
    parts: Sequence[SegmentFile],
    start: datetime,
    end: datetime,
    destination: Path,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Mp4FileInfo | None:
    """Copy [start, end] of `parts` into `destination`; None when nothing was recorded then
    (no file is left; nor when cancelled or failing). Raises `OSError` and `MediaError` as
    the writer does."""
    reader = RecordingReader(parts, start)
    writer = Mp4FileWriter(destination)
    first_wall: datetime | None = None
    try:
        while batch := reader.read(_BATCH):
            for frame in batch:
                wall = reader.wall_time(frame)
                if wall > end:
                    return writer.close()
                writer.write(frame)
                first_wall = first_wall or wall
            if progress is not None and first_wall is not None:
                progress((reader.wall_time(batch[-1]) - max(first_wall, start)).total_seconds())
            if cancelled is not None and cancelled():
                _discard(writer, destination)
                return None
        return writer.close()
    except BaseException:
        _discard(writer, destination)
        raise


def _discard(writer: Mp4FileWriter, destination: Path) -> None:
    writer.abort()
    destination.unlink(missing_ok=True)
