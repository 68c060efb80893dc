"""Platform recording through a node in this process: a device's RTP/PS on 127.0.0.1, paced as
a camera sends it, recorded by `start_recording` into segment files that PyAV reads back;
`segment_closed` and `recording_keys` checked against the files and the stream's fate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from farmwatch.media.errors import MediaError
from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import RecordingSpec
from farmwatch.media.settings import MediaSettings
from farmwatch.media.sinks.segment_recorder import RecordedSegment, segment_path
from farmwatch.media.sinks.segment_writer import index_path
from farmwatch.media.stream_core import CloseReason
from tests.integration.media.media_peers import open_udp_sender, pattern_loop, rtp_frames
from tests.integration.media.recorded_media import Platform, ps_samples, until

SSRC = 300_000_301
DEVICE = ["127.0.0.1"]
FRAME_SECONDS = 0.04


@asynccontextmanager
async def local_node(**settings: Any) -> AsyncIterator[tuple[LocalMediaNode, Platform]]:
    platform = Platform()
    media = MediaSettings(host="127.0.0.1", port_range="21740-21759", **settings)
    node = LocalMediaNode(media, platform)
    await node.start()
    try:
        yield node, platform
    finally:
        await node.close()


async def send_as_a_camera(port: int, frames: Iterator[list[bytes]]) -> None:
    """Each frame's packets, one frame every 40 ms of the loop's clock (a camera's pace: the
    recorder reads wall time from live frames)."""
    sender = await open_udp_sender()
    loop = asyncio.get_running_loop()
    begin = loop.time()
    try:
        for number, packets in enumerate(frames):
            delay = begin + number * FRAME_SECONDS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for packet in packets:
                sender.sendto(packet, ("127.0.0.1", port))
    finally:
        sender.close()


async def frames_in(node: LocalMediaNode, key: str, count: int) -> bool:
    """The stream has had its `count`th video frame (the last ones pass the reorder delay),
    told by its PTS (`rtp_frames` stamps frame n at n × 40 ms)."""
    latest = (await node.stream_progress(key)).latest_pts
    return latest is not None and latest >= (count - 1) * 3600


def spec(directory: Path, seconds: float = 1.0) -> RecordingSpec:
    return RecordingSpec(str(directory), "Asia/Shanghai", seconds)


def check_files(
    directory: Path, segments: list[RecordedSegment], *, zone_offset: timedelta = timedelta(hours=8)
) -> None:
    """Each segment is a file named by its times in the zone, holding its frames; one
    segment starts where the one before it ended."""
    for segment in segments:
        assert segment.path == segment_path(directory, segment.start, segment.end)
        assert segment.start.utcoffset() == zone_offset
        samples = ps_samples(segment.path)
        assert len(samples) == segment.frame_count and samples[0].is_keyframe
        assert segment.path.stat().st_size == segment.byte_count
        assert index_path(segment.path).stat().st_size == 16 + 24 * segment.frame_count
    for earlier, later in zip(segments, segments[1:], strict=False):
        assert later.start == earlier.end
    assert sorted(path for path in directory.rglob("*.ps")) == [s.path for s in segments]


async def test_a_recorder_alone_keeps_the_stream_open_and_writes_reported_segments(
    tmp_path: Path,
) -> None:
    async with local_node(idle_close=0.5) as (node, platform):
        recorded = await node.open_stream("cam-1", MediaTransport.UDP, SSRC, DEVICE)
        await node.start_recording("cam-1", spec(tmp_path / "cam-1"))
        await node.start_recording("cam-1", spec(tmp_path / "elsewhere"))  # records already
        stream = node.manager.get("cam-1")
        # A PS sink: it keeps the stream open, and nothing demultiplexes the stream for it.
        assert stream is not None and (stream.ps_sink_count, stream.sink_count) == (1, 0)
        assert await node.recording_keys() == {"cam-1"}
        # The same stream without a sink closes after idle_close: the setting bites.
        await node.open_stream("cam-2", MediaTransport.UDP, SSRC + 1, DEVICE)

        await send_as_a_camera(recorded.port, rtp_frames(pattern_loop(), SSRC, 75))  # 3 s
        await until(lambda: frames_in(node, "cam-1", 75))
        # Two segments closed at the key frames at 1 s and 2 s; the third one is open.
        await platform.wait_for(lambda: len(platform.segments) == 2)
        assert platform.closed == [("cam-2", CloseReason.IDLE)]
        assert await node.recording_keys() == {"cam-1"}

        await node.stop_recording("cam-1")
        assert len(platform.segments) == 3  # the open segment, closed and reported
        assert await node.recording_keys() == set()
        await node.stop_recording("cam-1")  # none: nothing to do
        # Without its recorder the stream has no sink left: it idles out now.
        await platform.wait_for(lambda: ("cam-1", CloseReason.IDLE) in platform.closed)

    assert {key for key, _ in platform.segments} == {"cam-1"}
    segments = [segment for _, segment in platform.segments]
    assert [segment.frame_count for segment in segments] == [25, 25, 25]
    assert all(segment.codec.value == "h264" for segment in segments)
    assert {(segment.width, segment.height) for segment in segments} == {(320, 180)}
    assert all(s.end - s.start == timedelta(seconds=1) for s in segments)
    check_files(tmp_path / "cam-1", segments)
    assert not (tmp_path / "elsewhere").exists()


async def test_recording_ends_with_its_stream_and_its_last_segment_is_reported(
    tmp_path: Path,
) -> None:
    async with local_node() as (node, platform):
        opened = await node.open_stream("cam-1", MediaTransport.UDP, SSRC, DEVICE)
        await node.start_recording("cam-1", spec(tmp_path, seconds=600))
        await send_as_a_camera(opened.port, rtp_frames(pattern_loop(), SSRC, 50))
        await until(lambda: frames_in(node, "cam-1", 50))
        await node.close_stream("cam-1", CloseReason.REQUESTED)  # the device's BYE

        assert await node.recording_keys() == set()
        await platform.wait_for(lambda: len(platform.segments) == 1)
        with pytest.raises(MediaError):
            await node.start_recording("cam-1", spec(tmp_path))  # no such stream any more

    [(key, segment)] = platform.segments
    assert key == "cam-1" and segment.frame_count == 50
    check_files(tmp_path, [segment])


async def test_a_recorder_that_cannot_write_is_not_recording(tmp_path: Path) -> None:
    """The folder cannot be made (a file is in the way, as a full or read-only disk refuses
    writes): the recorder fails at its first file and is no longer counted as recording."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    async with local_node() as (node, platform):
        opened = await node.open_stream("cam-1", MediaTransport.UDP, SSRC, DEVICE)
        await node.start_recording("cam-1", spec(blocker / "cam-1"))
        assert await node.recording_keys() == {"cam-1"}
        sending = asyncio.create_task(
            send_as_a_camera(opened.port, rtp_frames(pattern_loop(), SSRC, 50))
        )

        async def nothing_records() -> bool:
            return await node.recording_keys() == set()

        try:
            await until(nothing_records)
        finally:
            await sending
        assert platform.segments == [] and platform.closed == []
        # A new recorder takes over from the failed one once asked (the reconciler's retry).
        await node.start_recording("cam-1", spec(tmp_path / "cam-1", seconds=600))
        assert await node.recording_keys() == {"cam-1"}
