"""A device's stream recorded as PS and played back, end to end through a node in this process.

RTP/PS in on 127.0.0.1 (a camera's pace), recorded by `start_recording` into PS segments with
their index, then played with `open_recorded_stream` and `seek_recorded_stream` into an fMP4
output that PyAV demuxes and decodes. Each frame the camera sent carries the simulator's
recorded-time SEI (its capture time, Unix ms), so where a playback lands is read from the
output's pictures: the frame shown first must be the key frame at or before the time asked,
on the recording's own timeline (segment start + media time), and every frame after it
must follow, none lost, across segments and after a seek.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av

from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import RecordingSpec
from farmwatch.media.ps_mux import PsMuxer
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.sinks.segment_recorder import RecordedSegment
from farmwatch.media.stream_core import CloseReason
from farmwatch.simulator import read_recorded_time
from farmwatch.simulator.recorded_time import insert_recorded_time
from farmwatch.simulator.test_pattern import VideoCodec
from tests.integration.media.media_peers import pattern_loop
from tests.integration.media.test_recorded_stream import Viewer
from tests.integration.media.test_stream_recording import (
    frames_in,
    local_node,
    send_as_a_camera,
)

SSRC = 300_000_401
FRAMES = 125  # 5 s at 25 fps, a key frame every second
GOP = 25
CAPTURED = 1_714_521_600_000
"""Capture time of frame 0 (Unix ms); frame n was captured 40 n ms later."""


def camera_frames() -> Iterator[list[bytes]]:
    """RTP packets of each frame: the test pattern with its capture time in an SEI, PS-muxed
    at PTS n × 40 ms as a camera does."""
    loop = pattern_loop()
    muxer = PsMuxer()
    packetizer = RtpPacketizer(SSRC, first_sequence=65_000)
    for number in range(FRAMES):
        encoded = loop.frames[number % len(loop.frames)]
        unit = insert_recorded_time(encoded.data, CAPTURED + 40 * number, VideoCodec.H264)
        pts = number * 3600
        packet = muxer.mux_video(unit, pts, pts, is_keyframe=encoded.is_keyframe)
        yield packetizer.packetize(packet.data, pts)


def captured(data: bytes) -> int:
    """Which frame an fMP4 sample is, from its SEI."""
    millis = read_recorded_time(data, length_prefixed=True)
    assert millis is not None
    return (millis - CAPTURED) // 40


def decoded(data: bytes) -> list[int]:
    """The frame numbers of the samples of an fMP4 byte stream, each decoded by PyAV."""
    numbers = []
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                assert len(packet.decode()) == 1
                numbers.append(captured(bytes(packet)))
    return numbers


async def record_camera(directory: Path) -> list[RecordedSegment]:
    async with local_node() as (node, platform):
        opened = await node.open_stream("cam-1", MediaTransport.UDP, SSRC, ["127.0.0.1"])
        await node.start_recording("cam-1", RecordingSpec(str(directory), "Asia/Shanghai", 2))
        await send_as_a_camera(opened.port, camera_frames())

        async def all_sent() -> bool:
            return await frames_in(node, "cam-1", FRAMES)

        async with asyncio.timeout(10):
            while not await all_sent():
                await asyncio.sleep(0.01)
        await node.stop_recording("cam-1")
    return [segment for _, segment in platform.segments]


def frame_at(segments: list[RecordedSegment], moment: datetime) -> int:
    """The frame recorded at `moment` on the recording's timeline (frame n at start + n/25)."""
    return int((moment - segments[0].start).total_seconds() * 25)


async def test_a_recorded_camera_plays_and_seeks_where_asked_in_its_recorded_time(
    tmp_path: Path,
) -> None:
    segments = await record_camera(tmp_path / "cam-1")
    assert [s.frame_count for s in segments] == [50, 50, 25]
    assert all(s.path.suffix == ".ps" and s.path.with_suffix(".idx").exists() for s in segments)
    parts = [(str(s.path), s.start.isoformat()) for s in segments]

    asked = segments[0].start + timedelta(seconds=1.7)
    sought = segments[0].start + timedelta(seconds=3.5)
    async with local_node() as (node, platform):
        await node.open_recorded_stream("pb-1", parts, asked.isoformat())
        viewer = Viewer(node, "pb-1", "viewer-1")

        async def playing() -> bool:
            return (await node.stream_progress("pb-1")).video_frames >= 10

        async with asyncio.timeout(10):
            while not await playing():
                await asyncio.sleep(0.01)
        await node.seek_recorded_stream("pb-1", sought.isoformat())
        await node.set_scale("pb-1", 4)
        await viewer.samples(15.0)  # the output ended with the recording
        await platform.wait_for(lambda: bool(platform.closed))
        assert platform.closed == [("pb-1", CloseReason.END_OF_RECORDING)]

    shown = decoded(b"".join(viewer.chunks))
    first = frame_at(segments, asked) // GOP * GOP  # the key frame at or before 1.7 s
    assert shown[0] == first == 25
    cut = next(n for n in range(1, len(shown)) if shown[n] != shown[n - 1] + 1)
    assert shown[:cut] == list(range(first, first + cut))  # nothing lost before the seek
    assert shown[cut:] == list(range(frame_at(segments, sought) // GOP * GOP, FRAMES))
