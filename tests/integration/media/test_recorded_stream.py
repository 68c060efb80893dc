"""Playback of platform recordings through a node in this process: real segment files written
by the recorder's `SegmentWriter`, played by `LocalMediaNode.open_recorded_stream` into a
stream, and what its fMP4 output wrote read back by PyAV. Which recorded frame each output
sample is tells its recorded wall time (the pictures are all different)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from farmwatch.media.errors import MediaError
from farmwatch.media.events import RecordingEnded
from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.manager import MediaManager, MediaTransport
from farmwatch.media.node import LiveInfo
from farmwatch.media.recording_feed import RecordingFile
from farmwatch.media.settings import MediaSettings
from farmwatch.media.sinks.mp4_download import Mp4FileSink
from farmwatch.media.stream import Stream, StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress
from farmwatch.media.worker.wire import error_body, error_from_body
from tests.integration.media.recorded_media import (
    GOP,
    HEIGHT,
    WIDTH,
    Platform,
    Recording,
    Sample,
    mp4_samples,
    record,
    until,
)

KEY = "pb-platform-1"
TICKS = 3600


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """10 s in segments of 4 s: [0, 4), [4, 8), [8, 10)."""
    made = record(tmp_path_factory.mktemp("recordings"), seconds=10, segment_seconds=4)
    assert [segment.frame_count for segment in made.segments] == [100, 100, 50]
    return made


@asynccontextmanager
async def local_node(**settings: Any) -> AsyncIterator[tuple[LocalMediaNode, Platform]]:
    platform = Platform()
    media = MediaSettings(host="127.0.0.1", port_range="21700-21719", **settings)
    node = LocalMediaNode(media, platform)
    await node.start()
    try:
        yield node, platform
    finally:
        await node.close()


class Viewer:
    """An fMP4 output read to its end, as the platform's HTTP response reads it."""

    def __init__(self, node: Any, key: str, output_id: str) -> None:
        self.chunks: list[bytes] = []
        self._fragment = asyncio.Event()
        self._task = asyncio.create_task(self._read(node, key, output_id))

    async def _read(self, node: Any, key: str, output_id: str) -> None:
        async for chunk in node.fmp4(key, output_id):
            self.chunks.append(chunk)
            if b"moof" in chunk:
                self._fragment.set()

    async def first_fragment(self, seconds: float = 10.0) -> None:
        """Once a media fragment (not only the header) has reached the viewer."""
        async with asyncio.timeout(seconds):
            await self._fragment.wait()

    async def samples(self, seconds: float = 15.0) -> list[Sample]:
        """Every sample, once the output ended."""
        async with asyncio.timeout(seconds):
            await self._task
        return mp4_samples(b"".join(self.chunks))


async def progress_of(node: LocalMediaNode) -> StreamProgress:
    return await node.stream_progress(KEY)


async def frames_reach(node: LocalMediaNode, count: int) -> float:
    """Loop time when the stream has had `count` video frames."""

    async def reached() -> bool:
        return (await progress_of(node)).video_frames >= count

    await until(reached)
    return asyncio.get_running_loop().time()


async def silent_for(node: LocalMediaNode, seconds: float) -> StreamProgress:
    """The progress once no frame came for `seconds` (by the stream's own count)."""
    found: list[StreamProgress] = []

    async def silent() -> bool:
        progress = await progress_of(node)
        found[:] = [progress]
        return (progress.seconds_since_last_frame or 0.0) >= seconds

    await until(silent)
    return found[0]


def indexes(recording: Recording, samples: list[Sample]) -> list[int]:
    return [recording.index_of(sample.data) for sample in samples]


def steps(samples: list[Sample]) -> list[Fraction]:
    return [later.dts - earlier.dts for earlier, later in zip(samples, samples[1:], strict=False)]


@pytest.mark.parametrize("seconds", [0.0, 2.5, 3.99, 4.0, 7.3])
async def test_a_recording_plays_from_the_key_frame_at_or_before_the_time_to_its_end(
    recording: Recording, seconds: float
) -> None:
    async with local_node() as (node, platform):
        asked = recording.at(seconds)
        info = await node.open_recorded_stream(KEY, recording.parts(), asked.isoformat())
        assert info == LiveInfo(codec="h264", width=WIDTH, height=HEIGHT)
        await node.set_scale(KEY, 8)  # the whole recording in a second and a bit
        viewer = Viewer(node, KEY, "viewer-1")

        samples = await viewer.samples()
        await platform.wait_for(lambda: bool(platform.closed))

        assert platform.closed == [(KEY, CloseReason.END_OF_RECORDING)]
        played = indexes(recording, samples)
        began = recording.wall_time(played[0])
        assert samples[0].is_keyframe and began <= asked < began + timedelta(seconds=1)
        assert played == list(range(played[0], 250))  # every frame to the end, in order
        assert set(steps(samples)) == {Fraction(1, 25 * 8)}  # at 8×, across segments too


async def test_scale_pause_seek_and_progress_in_recorded_time(recording: Recording) -> None:
    async with local_node() as (node, platform):
        await node.open_recorded_stream(KEY, recording.parts(), recording.at(1.2).isoformat())
        # Nobody watches yet: the first key frame is held, the recording does not advance.
        waiting = await silent_for(node, 0.2)
        assert waiting.video_frames == 1 and waiting.first_pts == 0

        viewer = Viewer(node, KEY, "viewer-1")
        begun = await frames_reach(node, 5)
        at_1x = await frames_reach(node, 30) - begun  # 25 frames at 1×
        await node.set_scale(KEY, 4)
        fast_from = await frames_reach(node, 35)
        at_4x = await frames_reach(node, 135) - fast_from  # 100 frames at 4×
        # Frames per wall second: 25 at 1×, 100 at 4× (a busy machine only slows both).
        assert 3.0 < (100 / at_4x) / (25 / at_1x) < 5.0
        assert 0.8 < at_1x < 2.0

        await node.set_paused(KEY, True)
        paused = await silent_for(node, 0.3)  # a dozen frame intervals at 4×
        again = await progress_of(node)
        assert paused.is_paused and again.video_frames == paused.video_frames

        # Seek while paused: the key frame at or before the time is shown at once, alone.
        await node.seek_recorded_stream(KEY, recording.at(3.3).isoformat())
        sought = await progress_of(node)
        assert sought.video_frames == paused.video_frames + 1
        # Source timestamps are recorded time since the first frame played (1 s): 3 s is at 2 s.
        assert sought.latest_pts == sought.latest_keyframe_pts == 2 * 90_000
        assert sought.first_pts == 0

        await node.set_paused(KEY, False)
        samples = await viewer.samples()
        await platform.wait_for(lambda: bool(platform.closed))
        assert platform.closed == [(KEY, CloseReason.END_OF_RECORDING)]

    played = indexes(recording, samples)
    assert played[0] == GOP  # the key frame at 1 s
    cut = next(n for n in range(1, len(played)) if played[n] != played[n - 1] + 1)
    assert played[:cut] == list(range(GOP, GOP + cut))
    assert played[cut:] == list(range(3 * GOP, 250))  # from the key frame at 3 s to the end
    gaps = steps(samples)
    fast = gaps.index(Fraction(1, 100))
    assert fast in (29, 30)  # the scale changed once the stream had had 30 frames (or 31)
    assert set(gaps[:fast]) == {Fraction(1, 25)}
    assert set(gaps[fast:]) == {Fraction(1, 100)}  # and the seek shows no jump


async def test_what_a_recorded_stream_refuses(recording: Recording) -> None:
    async with local_node() as (node, platform):
        parts = recording.parts()
        with pytest.raises(MediaError, match="no recorded frame"):
            await node.open_recorded_stream(KEY, parts, recording.at(30).isoformat())
        with pytest.raises(MediaError, match="UTC offset"):
            await node.open_recorded_stream(KEY, parts, "2024-05-01T08:00:02")
        await node.open_recorded_stream(KEY, parts, recording.at(9.0).isoformat())
        with pytest.raises(MediaError, match="open already"):
            await node.open_recorded_stream(KEY, parts, recording.at(2).isoformat())
        with pytest.raises(MediaError, match="forward"):
            await node.set_scale(KEY, -2)
        assert (await progress_of(node)).scale == 1.0
        with pytest.raises(MediaError, match="plays a recording"):
            await node.open_stream(KEY, MediaTransport.UDP, None, None)


async def test_seeking_past_the_end_ends_the_stream(recording: Recording) -> None:
    async with local_node() as (node, platform):
        await node.open_recorded_stream(KEY, recording.parts(), recording.at(1).isoformat())
        await node.seek_recorded_stream(KEY, recording.at(60).isoformat())
        await platform.wait_for(lambda: bool(platform.closed))

        assert platform.closed == [(KEY, CloseReason.END_OF_RECORDING)]
        with pytest.raises(MediaError):
            await node.stream_progress(KEY)


async def test_a_lossless_sink_holds_the_recording_back_instead_of_losing_frames(
    recording: Recording, tmp_path: Path
) -> None:
    """A download whose writer thread stalls (a slow disk) while the recording plays at 64×:
    the feed waits for it rather than overflow its queue."""
    disk = ThreadPoolExecutor(1, thread_name_prefix="slow-disk")
    stalled = threading.Event()
    disk.submit(stalled.wait, 30.0)  # the writer's first call queues behind this
    manager = MediaManager(MediaSettings(host="127.0.0.1", port_range="21720-21739"))
    try:
        parts = [RecordingFile(segment.path, segment.start) for segment in recording.segments]
        stream = await manager.open_recorded_stream(KEY, parts, recording.at(2))
        stream.set_scale(64)
        # High water at 30 frames: over a GOP, so the writer is handed whole GOPs.
        sink = Mp4FileSink(tmp_path / "download.mp4", max_frames=60, executor=disk, name="dl")
        await sink.start()
        stream.attach(sink, backpressure=True)

        async def held() -> bool:
            return stream.is_holding_source

        await until(held)
        offered = stream.progress().video_frames
        assert offered <= 60  # what the queue holds, nothing dropped
        assert (await silent_until(stream, 0.1)).video_frames == offered  # 160 frames' time
        stalled.set()
        async with asyncio.timeout(15):
            info = await sink.wait_finished()  # the stream ended: the file is finished
    finally:
        stalled.set()
        await manager.close()
        disk.shutdown()

    assert sink.failure is None and sink.frames_lost == 0 and stream.stats.source_holds >= 1
    assert stream.close_reason is CloseReason.END_OF_RECORDING
    samples = mp4_samples(info.path)
    assert indexes(recording, samples) == list(range(2 * GOP, 250))
    assert info.frame_count == 200


async def silent_until(stream: Stream, seconds: float) -> StreamProgress:
    async def silent() -> bool:
        return (stream.progress().seconds_since_last_frame or 0.0) >= seconds

    await until(silent)
    return stream.progress()


def test_the_end_of_a_recording_crosses_the_worker_boundary_as_itself() -> None:
    status, body = error_body(StreamClosedError(CloseReason.END_OF_RECORDING, RecordingEnded(7)))
    error = error_from_body(body)

    assert status == 409 and isinstance(error, StreamClosedError)
    assert (error.reason, error.cause) == (CloseReason.END_OF_RECORDING, RecordingEnded(7))
