"""Legacy MP4 segments read back: recordings made before segments were kept as PS.

Owns reading the fragmented MP4 segment files (`{HHMMSS}-{HHMMSS}.mp4`) that platform
recording wrote until it kept the camera's PS as received, so recordings already on disk
still play, download and clip until retention removes them. PyAV demuxes a file and yields
its video access units in Annex-B form (ISO/IEC 14496-15 length prefixes turned into start
codes, parameter sets put before key frames by the `h264_mp4toannexb` / `hevc_mp4toannexb`
bitstream filters), from the key frame at or before a time into the file, as
`RecordedUnit`s for `recording_reader.py`. Blocking (file I/O, demuxing): worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.bitstream

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec
from farmwatch.media.recorded_ps import RecordedUnit

__all__ = ["read_mp4_segment"]

log = logging.getLogger(__name__)

_CODECS = {"h264": Codec.H264, "hevc": Codec.H265}
_FILTERS = {Codec.H264: "h264_mp4toannexb", Codec.H265: "hevc_mp4toannexb"}


def read_mp4_segment(path: Path, target: int | None) -> Iterator[RecordedUnit]:
    """The video of an MP4 segment from the key frame at or before `target` (90 kHz ticks
    into it; None: from its start), none if it ends before `target`. Raises `MediaError`
    when the file cannot be opened or holds no H.264/H.265 video; stops early (logged) where
    it is damaged."""
    try:
        container: Any = av.open(str(path))
    except (OSError, av.error.FFmpegError) as error:
        raise MediaError(f"recording {path} cannot be read: {error}") from error
    with container:
        stream = container.streams.video[0] if container.streams.video else None
        codec = _CODECS.get(stream.codec_context.name) if stream is not None else None
        if stream is None or codec is None:
            raise MediaError(f"recording {path} holds no H.264/H.265 video")
        try:
            yield from _units(container, stream, codec, target)
        except av.error.FFmpegError as error:  # damaged past what it yielded
            raise MediaError(f"recording {path} cannot be read on: {error}") from error


def _units(container: Any, stream: Any, codec: Codec, target: int | None) -> Iterator[RecordedUnit]:
    time_base: Fraction = stream.time_base
    first_dts = stream.start_time or 0
    position = None
    if target is not None:
        position = first_dts + int(target / TIMESTAMP_CLOCK_RATE / time_base)
        container.seek(position, stream=stream, backward=True)
    bitstream = av.bitstream.BitStreamFilterContext(_FILTERS[codec], stream)
    for packet in _with_flush(_from_keyframe(container.demux(stream), position)):
        for filtered in bitstream.filter(packet):
            if filtered.dts is None:
                continue
            ticks = _ticks(filtered.dts - first_dts, time_base)
            pts = ticks if filtered.pts is None else _ticks(filtered.pts - first_dts, time_base)
            yield RecordedUnit(codec, bytes(filtered), ticks, pts, filtered.is_keyframe, False)


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
