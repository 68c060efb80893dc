"""A PS segment read back: its frames from a key frame, demultiplexed only now, when played.

Owns reading one segment file of platform recording (`sinks/segment_writer.py`: the camera's
PS as received, `.idx` beside it) for `recording_reader.py`. The index (`read_segment_index`:
made whole from the PS when it lags or is missing) says where each frame lies and when it was
recorded; reading starts at the index's key frame at or before a time into the segment and
feeds each frame's bytes to a `PsDemuxer` as the ingest would have (a loss before a frame
resynchronises it, a frame cut short ends damaged). Each video access unit that comes out is
a `RecordedUnit` timed by its frame's index record (90 kHz ticks from the segment's start),
its composition offset kept from the PES; sound is not played. Blocking (file reads, demuxing):
worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame, MediaKind
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.sinks.segment_index import FrameFlag, find_start
from farmwatch.media.sinks.segment_recovery import read_segment_index

__all__ = ["RecordedUnit", "read_ps_segment"]

log = logging.getLogger(__name__)

_MAX_COMPOSITION_OFFSET = 2 * TIMESTAMP_CLOCK_RATE
_RTP_MASK = 0xFFFFFFFF


class RecordedUnit(NamedTuple):
    """One recorded video access unit (Annex-B), timed from its segment's start."""

    codec: Codec
    data: bytes
    ticks: int
    """Decode time, 90 kHz ticks from the segment's start."""
    pts: int
    """Presentation time, the same way."""
    is_keyframe: bool
    is_damaged: bool


def read_ps_segment(
    path: Path, target: int | None, on_damaged: Callable[[], None] | None = None
) -> Iterator[RecordedUnit]:
    """The video of a PS segment from the key frame at or before `target` (90 kHz ticks into
    it; None: from its first key frame), none if it ends before `target`. Raises
    `MediaError` when the file cannot be read; one shorter than its index gives what it
    holds (logged, and `on_damaged` told)."""
    try:
        index = read_segment_index(path)
    except OSError as error:
        raise MediaError(f"recording {path} cannot be read: {error}") from error
    if index.is_damaged:
        log.warning("recording %s is shorter than its index: playing what it holds", path)
        if on_damaged is not None:
            on_damaged()
    entries = index.entries
    first = find_start(entries, 0 if target is None else target)
    if first is None:
        return
    demuxer = PsDemuxer()
    previous = entries[first].time
    try:
        with path.open("rb") as file:
            file.seek(entries[first].offset)
            for entry in entries[first:]:
                data = file.read(entry.length)
                if len(data) < entry.length:
                    raise MediaError(f"recording {path} was cut short while it was read")
                if entry.flags & FrameFlag.AFTER_LOSS:
                    yield from _units(demuxer.mark_loss(), previous)
                complete = not entry.flags & FrameFlag.INCOMPLETE
                frames = demuxer.feed(data, rtp_timestamp=entry.time & _RTP_MASK, marker=complete)
                yield from _units(frames, entry.time)
                if entry.is_picture:
                    previous = entry.time
            yield from _units(demuxer.flush(), previous)
    except OSError as error:
        raise MediaError(f"recording {path} cannot be read on: {error}") from error


def _units(frames: list[EsFrame], ticks: int) -> Iterator[RecordedUnit]:
    for frame in frames:
        if frame.kind is MediaKind.VIDEO:
            offset = min(max(frame.pts - frame.dts, 0), _MAX_COMPOSITION_OFFSET)
            yield RecordedUnit(
                frame.codec, frame.data, ticks, ticks + offset, frame.is_keyframe, frame.is_damaged
            )
