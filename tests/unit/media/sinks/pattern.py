"""The simulator's encoded test-pattern loop as `EsFrame`s (and muxed into `PsFrame`s), the
input of the sink tests."""

from __future__ import annotations

from functools import cache

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.relay.es_muxing import EsToPs
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.test_pattern import EncodedLoop, TestPatternSpec, VideoCodec

CHANNEL_ID = "34020000001320000001"
WIDTH, HEIGHT = 320, 180
_CODECS = {Codec.H264: VideoCodec.H264, Codec.H265: VideoCodec.H265}


@cache
def _loop(codec: Codec, width: int = WIDTH, height: int = HEIGHT) -> EncodedLoop:
    spec = TestPatternSpec(
        channel_id=CHANNEL_ID,
        codec=_CODECS[codec],
        width=width,
        height=height,
        loop_seconds=2,
    )
    return MediaCache().get(spec)


def pattern_frames(
    codec: Codec, count: int, *, first: int = 0, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> list[EsFrame]:
    """Frames `first`..`first + count` of the loop replayed forever (continuous timestamps)."""
    loop = _loop(codec, *size)
    frames = []
    for index in range(first, first + count):
        encoded = loop.frames[index % len(loop.frames)]
        pts = encoded.pts + (index // len(loop.frames)) * loop.duration
        frames.append(
            EsFrame(
                codec=codec,
                data=encoded.data,
                pts=pts,
                dts=pts,
                is_keyframe=encoded.is_keyframe,
                stream_id=0xE0,
            )
        )
    return frames


def gop_length(codec: Codec) -> int:
    """Frames from one keyframe to the next in the loop."""
    flags = [frame.is_keyframe for frame in _loop(codec).frames]
    return flags.index(True, 1)


def restamped(frames: list[EsFrame], first_dts: int) -> list[EsFrame]:
    """`frames` with their timestamps moved so the first decodes at `first_dts` (a device that
    restarts its file at 0, or jumps its clock)."""
    shift = first_dts - frames[0].dts
    return [
        EsFrame(
            frame.codec,
            frame.data,
            frame.pts + shift,
            frame.dts + shift,
            frame.is_keyframe,
            frame.stream_id,
        )  # fmt: skip
        for frame in frames
    ]


def ps_frames(frames: list[EsFrame]) -> list[PsFrame]:
    """`frames` muxed into PS one by one (pack header, system header and PSM on key frames),
    each under its PTS as the RTP timestamp: what a camera sends and a stream hands on."""
    muxer = EsToPs()
    muxed = [muxer.mux(frame) for frame in frames]
    return [frame for frame in muxed if frame is not None]
