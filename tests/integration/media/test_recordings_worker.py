"""Recording, downloads and playback of platform recordings through a real media worker
process (`MediaCluster(workers=1)`): every call over the control channel, every segment and
stream end back over its events; RTP/PS sent on 127.0.0.1 and the files and fMP4 the worker
wrote read back by PyAV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.frames import Codec
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import LiveInfo, RecordingSpec
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import StreamClosedError
from farmwatch.media.stream_core import CloseReason
from tests.integration.media.media_peers import pattern_loop, rtp_frames
from tests.integration.media.recorded_media import (
    GOP,
    HEIGHT,
    WIDTH,
    Platform,
    mp4_samples,
    record,
    until,
)
from tests.integration.media.test_recorded_stream import Viewer
from tests.integration.media.test_stream_recording import check_files, send_as_a_camera

SSRC = 300_000_501


@asynccontextmanager
async def cluster_of_one(runtime: Path) -> AsyncIterator[tuple[MediaCluster, Platform]]:
    platform = Platform()
    settings = MediaSettings(host="127.0.0.1", port_range="21780-21799", idle_close=1.0)
    cluster = MediaCluster(settings, platform, workers=1, runtime_dir=runtime)
    await cluster.start()
    try:
        yield cluster, platform
    finally:
        await cluster.close()


async def test_a_recording_played_and_downloaded_in_a_worker(tmp_path: Path) -> None:
    recording = record(tmp_path / "recordings", seconds=8, segment_seconds=3)
    async with cluster_of_one(tmp_path / "run") as (cluster, platform):
        asked = recording.at(4.4)
        info = await cluster.open_recorded_stream("pb-1", recording.parts(), asked.isoformat())
        assert info == LiveInfo("h264", WIDTH, HEIGHT)
        assert cluster.stream_node("pb-1") == "media-0"
        with pytest.raises(MediaError, match="forward"):
            await cluster.set_scale("pb-1", -1)  # refused in the worker, the same error type
        await cluster.set_scale("pb-1", 4)
        viewer = Viewer(cluster, "pb-1", "viewer-1")
        progress = await cluster.stream_progress("pb-1")
        assert progress.first_pts == 0 and progress.scale == 4.0
        # The viewer has its first frames (from the key frame at 4 s) before the seek: on a
        # loaded machine they could otherwise come after it, from 6 s.
        await viewer.first_fragment()
        await cluster.seek_recorded_stream("pb-1", recording.at(6.0).isoformat())

        samples = await viewer.samples()
        await platform.wait_for(lambda: bool(platform.closed))
        assert platform.closed == [("pb-1", CloseReason.END_OF_RECORDING)]
        with pytest.raises(StreamClosedError):
            await cluster.stream_progress("pb-1")

        # The same recording downloaded at 4×: the file is finished after the stream ended.
        target = tmp_path / "download.mp4"
        await cluster.open_recorded_stream("dl-1", recording.parts(), recording.at(5).isoformat())
        await cluster.set_scale("dl-1", 4)
        await cluster.start_download("dl-1", str(target))
        await platform.wait_for(lambda: len(platform.closed) == 2)
        result = await cluster.finish_download("dl-1")

    played = [recording.index_of(sample.data) for sample in samples]
    assert played[0] == 4 * GOP  # the key frame at 4 s, at or before 4.4 s
    cut = played.index(6 * GOP, 1)  # the seek to 6 s, a key frame
    assert played[:cut] == list(range(4 * GOP, 4 * GOP + cut))
    assert played[cut:] == list(range(6 * GOP, 200))
    gaps = {later.dts - earlier.dts for earlier, later in zip(samples, samples[1:], strict=False)}
    assert gaps == {Fraction(1, 100)}

    assert platform.closed[1] == ("dl-1", CloseReason.END_OF_RECORDING)
    assert result is not None and result.path == str(target)
    assert (result.frame_count, result.duration_seconds) == (75, pytest.approx(0.75))
    downloaded = [recording.index_of(sample.data) for sample in mp4_samples(target)]
    assert downloaded == list(range(5 * GOP, 200))


async def test_a_device_stream_recorded_in_a_worker(tmp_path: Path) -> None:
    folder, other = tmp_path / "recordings" / "cam-1", tmp_path / "other" / "cam-1"
    spec = RecordingSpec(str(folder), "Asia/Shanghai", 1.0)
    async with cluster_of_one(tmp_path / "run") as (cluster, platform):
        with pytest.raises(MediaError):
            await cluster.start_recording("cam-1", spec)  # no such stream
        placement = await cluster.open_stream("cam-1", MediaTransport.UDP, SSRC, ["127.0.0.1"])
        await cluster.start_recording("cam-1", spec)
        await cluster.start_recording("cam-1", spec)  # records already: nothing more
        assert await cluster.recording_keys() == {"cam-1"}

        await send_as_a_camera(placement.port, rtp_frames(pattern_loop(), SSRC, 60))  # 2.4 s
        await platform.wait_for(lambda: len(platform.segments) == 2)  # at 1 s and 2 s
        # The recorder alone held the stream open past idle_close (1 s).
        assert platform.closed == []

        async def all_in() -> bool:  # the last frame came (frame n has PTS n × 40 ms)
            return (await cluster.stream_progress("cam-1")).latest_pts == 59 * 3600

        await until(all_in)
        await cluster.stop_recording("cam-1")
        await platform.wait_for(lambda: len(platform.segments) == 3)
        assert await cluster.recording_keys() == set()

        # Recording again, until the stream closes: its last segment comes with the end. It
        # starts with the key frame the stream holds (at 2 s: 10 frames to the last one).
        await cluster.start_recording("cam-1", RecordingSpec(str(other), "UTC", 600))
        assert await cluster.recording_keys() == {"cam-1"}
        await cluster.close_stream("cam-1", CloseReason.REQUESTED)
        await platform.wait_for(lambda: len(platform.segments) == 4)
        assert await cluster.recording_keys() == set()
        await cluster.stop_recording("cam-1")  # the stream is gone: nothing to do

    keys = {key for key, _ in platform.segments}
    segments = [segment for _, segment in platform.segments]
    assert keys == {"cam-1"}
    assert all(isinstance(s.path, Path) and s.codec is Codec.H264 for s in segments)
    assert all(isinstance(s.start, datetime) for s in segments)
    assert [s.frame_count for s in segments[:3]] == [25, 25, 10]
    check_files(folder, segments[:3])
    last = segments[3]
    assert last.start.utcoffset() == timedelta(0) and last.frame_count == 10
    assert (last.width, last.height) == (320, 180)
    check_files(other, [last], zone_offset=timedelta(0))
