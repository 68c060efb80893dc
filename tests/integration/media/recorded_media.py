"""Recorded video for the media tests: real segment files, and what outputs made of them.

The pictures are the simulator's test pattern encoded once with a loop longer than any
recording made here, so no two frames are alike and a frame an output wrote tells which
recorded frame it was (`Recording.index_of`), hence its recorded wall time. Files are
written by the platform's own `SegmentWriter` as a live camera would have fed it (each frame
muxed into PS; frame i arrived at the start + i × 40 ms); PyAV reads back what the outputs
wrote.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import av

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import split_nal_units
from farmwatch.media.sinks.segment_recorder import RecordedSegment
from farmwatch.media.sinks.segment_writer import SegmentWriter
from farmwatch.media.stream_core import CloseReason
from farmwatch.simulator.test_pattern import EncodedLoop, TestPatternSpec, encode_test_pattern
from tests.unit.media.sinks.pattern import ps_frames

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
FPS = 25
FRAME_SECONDS = 1 / FPS
GOP = 25
"""Frames from one key frame to the next (a key frame every second)."""
WIDTH, HEIGHT = 160, 96


@cache
def unique_loop() -> EncodedLoop:
    """20 s of test pattern, no two frames alike (GOP 25)."""
    spec = TestPatternSpec(
        channel_id="34020000001320000077", width=WIDTH, height=HEIGHT, fps=FPS,
        bitrate=200_000, gop=GOP, loop_seconds=20,
    )  # fmt: skip
    return encode_test_pattern(spec)


def pattern_frames(count: int) -> list[EsFrame]:
    loop = unique_loop()
    assert count <= len(loop.frames)
    return [
        EsFrame(Codec.H264, encoded.data, encoded.pts, encoded.pts, encoded.is_keyframe, 0xE0)
        for encoded in loop.frames[:count]
    ]


def slice_of(units: list[bytes]) -> bytes:
    """The picture's coded slice: the last NAL unit of an access unit (after SPS/PPS/SEI)."""
    return units[-1]


@dataclass
class Recording:
    """Segment files of `frames` recorded from `start` on."""

    directory: Path
    start: datetime
    frames: list[EsFrame]
    segments: list[RecordedSegment]
    _index: dict[bytes, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, frame in enumerate(self.frames):
            self._index[slice_of(split_nal_units(frame.data))] = index

    def parts(self) -> list[tuple[str, str]]:
        """What the platform gives `open_recorded_stream`: (path, ISO start) in order."""
        return [(str(s.path), s.start.isoformat()) for s in self.segments]

    def wall_time(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * FRAME_SECONDS)

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def index_of(self, sample: bytes) -> int:
        """Which recorded frame an MP4 sample (4-byte length-prefixed NAL units) is."""
        units, offset = [], 0
        while offset < len(sample):
            length = int.from_bytes(sample[offset : offset + 4], "big")
            units.append(sample[offset + 4 : offset + 4 + length])
            offset += 4 + length
        return self._index[slice_of(units)]


def record(directory: Path, *, seconds: float = 10.0, segment_seconds: float = 4.0) -> Recording:
    """`seconds` of unique frames in segments of `segment_seconds`, from `START`."""
    frames = pattern_frames(round(seconds * FPS))
    writer = SegmentWriter(directory, ZONE, segment_length=timedelta(seconds=segment_seconds))
    origin = START.timestamp()
    segments: list[RecordedSegment] = []
    for index, frame in enumerate(ps_frames(frames)):
        segments += writer.write([(frame, origin + index * FRAME_SECONDS, True)])
    segments += writer.finish()
    return Recording(directory, START, frames, segments)


@dataclass(frozen=True, slots=True)
class Sample:
    """One video sample of an MP4 file or byte stream."""

    dts: Fraction
    """Decode time, seconds."""
    data: bytes
    is_keyframe: bool


def ps_samples(path: Path) -> list[Sample]:
    """The video packets PyAV demuxes from a PS segment file (its own MPEG-PS demuxer)."""
    with av.open(str(path), format="mpeg") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        return [
            Sample(packet.dts * stream.time_base, bytes(packet), packet.is_keyframe)
            for packet in container.demux(stream)
            if packet.dts is not None and packet.size
        ]


def mp4_samples(source: bytes | Path) -> list[Sample]:
    """The video samples PyAV demuxes from an (f)MP4 byte stream or file."""
    opened = av.open(io.BytesIO(source), "r", format="mp4") if isinstance(source, bytes) else (
        av.open(str(source))
    )  # fmt: skip
    with opened as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        return [
            Sample(packet.dts * stream.time_base, bytes(packet), packet.is_keyframe)
            for packet in container.demux(stream)
            if packet.dts is not None and packet.size
        ]


class Platform:
    """The `NodeListener` a node or cluster reports to: it keeps everything and wakes waiters."""

    def __init__(self) -> None:
        self.closed: list[tuple[str, CloseReason]] = []
        self.segments: list[tuple[str, RecordedSegment]] = []
        self.changed = asyncio.Event()

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        self.closed.append((stream_key, reason))
        self.changed.set()

    def keyframe_needed(self, stream_key: str) -> None:
        pass

    def output_closed(self, output_id: str) -> None:
        pass

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        self.segments.append((stream_key, segment))
        self.changed.set()

    async def wait_for(self, check: Callable[[], bool], seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while not check():
                self.changed.clear()
                await self.changed.wait()


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll `check` (a question to the node: what the platform polls too) until it holds."""
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.01)
