"""Recorded segments played back as `EsFrame`s: the source of a playback of platform recordings.

Owns the reading side of platform recording (DESIGN.md "Growing the house": a playback stream
is a `Stream` like a live one; field-notes §1 "Differentiator": recordings served to uppers).
Given the segment files of one channel in time order, each with the wall time of its first
frame (`RecordedSegment` rows, `sinks/segment_recorder.py`), and a start time, it demuxes them
with PyAV and yields video access units in Annex-B form (ISO/IEC 14496-15 length prefixes
turned into start codes, parameter sets put before key frames by the `h264_mp4toannexb` /
`hevc_mp4toannexb` bitstream filters), as the PS demuxer would have: 90 kHz `pts`/`dts`,
key-frame flags, the codec.

Reading starts at the key frame at or before the start time, in the segment holding it (or in
the next segment, when the start falls in a hole). Timestamps are the recorded wall time in
90 kHz ticks since the first frame yielded, so they go on across segments, and a hole between
segments shows as a step forward of that length (an output's `OutputClock` takes it as a
jump); a segment that overlaps the one before it (a recorder re-synced to the wall clock) is
moved to start one frame after it, so they never go back. `wall_time(frame)` gives the
recorded wall time of any frame yielded. A segment that cannot be read (deleted by retention
meanwhile, damaged) is logged and skipped (`files_skipped`).

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
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import av.bitstream

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame

__all__ = ["RecordingPart", "RecordingReader"]

log = logging.getLogger(__name__)

_CODECS = {"h264": Codec.H264, "hevc": Codec.H265}
_FILTERS = {Codec.H264: "h264_mp4toannexb", Codec.H265: "hevc_mp4toannexb"}
_VIDEO_STREAM_ID = 0xE0


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
        try:
            container: Any = av.open(str(part.path))
        except (OSError, av.error.FFmpegError) as error:
            log.warning("recording %s cannot be read, skipped: %s", part.path, error)
            self.files_skipped += 1
            return
        with container:
            stream = container.streams.video[0] if container.streams.video else None
            codec = _CODECS.get(stream.codec_context.name) if stream is not None else None
            if stream is None or codec is None:
                log.warning("recording %s holds no H.264/H.265 video, skipped", part.path)
                self.files_skipped += 1
                return
            try:
                yield from self._frames_of(part, container, stream, codec)
            except av.error.FFmpegError as error:  # damaged past what it yielded
                log.warning("recording %s cannot be read on, skipped: %s", part.path, error)
                self.files_skipped += 1

    def _frames_of(
        self, part: RecordingPart, container: Any, stream: Any, codec: Codec
    ) -> Iterator[EsFrame]:
        time_base: Fraction = stream.time_base
        first_dts = stream.start_time or 0
        target = None
        if self._base is None:  # not playing yet: look for the start time in this segment
            offset = (self._target - _utc(part.start)).total_seconds()
            target = first_dts + int(offset / time_base) if offset > 0 else None
        if target is not None:
            container.seek(target, stream=stream, backward=True)
        bitstream = av.bitstream.BitStreamFilterContext(_FILTERS[codec], stream)
        self._origin = None
        for packet in _with_flush(_from_keyframe(container.demux(stream), target)):
            for filtered in bitstream.filter(packet):
                if filtered.dts is not None:
                    ticks = _ticks(filtered.dts - first_dts, time_base)
                    pts = (
                        ticks
                        if filtered.pts is None
                        else _ticks(filtered.pts - first_dts, time_base)
                    )
                    yield self._frame(part, codec, filtered, ticks, pts)

    def _frame(
        self, part: RecordingPart, codec: Codec, packet: Any, ticks: int, pts: int
    ) -> EsFrame:
        """The frame of `packet`, decoded `ticks` and presented `pts` into its segment."""
        if self._origin is None:
            self._origin = self._place(part, ticks)
        elif self._last_dts is not None:
            self._last_step = max(self._origin.dts + ticks - self._origin.ticks - self._last_dts, 1)
        shift = self._origin.dts - self._origin.ticks
        self._last_dts = ticks + shift
        return EsFrame(codec, bytes(packet), pts + shift, ticks + shift, packet.is_keyframe,
                       _VIDEO_STREAM_ID)  # fmt: skip

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


def _from_keyframe(packets: Iterator[Any], target: int | None) -> Iterator[Any]:
    """Packets from the last key frame at or before `target` (every packet if `target` is
    None), empty ones left out; none if the segment ends before `target` (a hole)."""
    held: list[Any] = []
    end = 0
    for packet in packets:
        if packet.dts is None or not packet.size:
            continue
        if target is None:
            yield packet
        elif packet.dts <= target:
            if packet.is_keyframe:
                held = [packet]
            elif held:
                held.append(packet)
            end = packet.dts + (packet.duration or 0)
        elif held or packet.is_keyframe:
            yield from held
            yield packet
            target = None
    if target is not None and target < end:
        yield from held


def _with_flush(packets: Iterator[Any]) -> Iterator[Any]:
    yield from packets
    yield None


def _ticks(value: int, time_base: Fraction) -> int:
    return round(value * time_base * TIMESTAMP_CLOCK_RATE)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
