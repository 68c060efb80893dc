"""Downloads into one MP4 file through a node in this process: from a device's RTP/PS on
127.0.0.1 and from a playback of platform recordings at 4× (the file outlives its stream);
PyAV reads back what was written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import pytest

from farmwatch.media.errors import MediaError
from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import DownloadResult
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream_core import CloseReason
from tests.integration.media.media_peers import open_udp_sender, pattern_loop, rtp_frames, send_udp
from tests.integration.media.recorded_media import (
    GOP,
    HEIGHT,
    WIDTH,
    Platform,
    Recording,
    mp4_samples,
    record,
    until,
)

SSRC = 300_000_401
DEVICE = ["127.0.0.1"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return record(tmp_path_factory.mktemp("recordings"), seconds=8, segment_seconds=3)


@asynccontextmanager
async def local_node(**settings: Any) -> AsyncIterator[tuple[LocalMediaNode, Platform]]:
    platform = Platform()
    media = MediaSettings(host="127.0.0.1", port_range="21760-21779", **settings)
    node = LocalMediaNode(media, platform)
    await node.start()
    try:
        yield node, platform
    finally:
        await node.close()


def container_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration / 1_000_000)


async def test_a_device_stream_downloaded_into_one_file(tmp_path: Path) -> None:
    target = tmp_path / "downloads" / "part.mp4"
    target.parent.mkdir()
    async with local_node() as (node, _):
        opened = await node.open_stream("dl-1", MediaTransport.UDP, SSRC, DEVICE)
        await node.start_download("dl-1", str(target))
        with pytest.raises(MediaError, match="already"):
            await node.start_download("dl-1", str(tmp_path / "second.mp4"))
        sender = await open_udp_sender()
        try:
            await send_udp(sender, opened.port, rtp_frames(pattern_loop(), SSRC, 50))
        finally:
            sender.close()

        async def all_in() -> bool:
            return (await node.stream_progress("dl-1")).video_frames == 50

        await until(all_in)
        result = await node.finish_download("dl-1")
        with pytest.raises(MediaError, match="no download"):
            await node.finish_download("dl-1")

    assert result == DownloadResult(
        path=str(target),
        duration_seconds=2.0,
        frame_count=50,
        byte_count=target.stat().st_size,
        width=320,
        height=180,
    )
    assert len(mp4_samples(target)) == 50
    assert container_seconds(target) == pytest.approx(2.0, abs=0.05)


async def test_a_download_outlives_its_stream(recording: Recording, tmp_path: Path) -> None:
    """A playback of platform recordings at 4× ends by itself at the recording's end (as a
    device's MediaStatus 121 ends its stream); the file is finished afterwards."""
    target = tmp_path / "copy.mp4"
    async with local_node() as (node, platform):
        await node.open_recorded_stream("dl-2", recording.parts(), recording.at(2.5).isoformat())
        await node.set_scale("dl-2", 4)
        await node.start_download("dl-2", str(target))
        await platform.wait_for(lambda: bool(platform.closed))
        assert platform.closed == [("dl-2", CloseReason.END_OF_RECORDING)]

        result = await node.finish_download("dl-2")

    assert result is not None
    assert (result.frame_count, result.width, result.height) == (150, WIDTH, HEIGHT)
    assert result.duration_seconds == pytest.approx(1.5)  # 6 s recorded, timestamps at 4×
    samples = mp4_samples(target)
    assert [recording.index_of(sample.data) for sample in samples] == list(range(2 * GOP, 200))
    assert container_seconds(target) == pytest.approx(1.5, abs=0.05)


async def test_a_download_without_video_gives_no_file_and_an_aborted_one_is_removed(
    tmp_path: Path,
) -> None:
    async with local_node() as (node, _):
        opened = await node.open_stream("dl-3", MediaTransport.UDP, SSRC, DEVICE)
        await node.start_download("dl-3", str(tmp_path / "empty.mp4"))
        assert await node.finish_download("dl-3") is None
        assert not (tmp_path / "empty.mp4").exists()

        aborted = tmp_path / "aborted.mp4"
        await node.start_download("dl-3", str(aborted))
        sender = await open_udp_sender()
        try:
            await send_udp(sender, opened.port, rtp_frames(pattern_loop(), SSRC, 30))
        finally:
            sender.close()
        await until(lambda: exists(aborted))  # the first GOP is written
        await node.abort_download("dl-3")
        await node.abort_download("dl-3")  # none left: nothing to do
        assert not aborted.exists()
        with pytest.raises(MediaError):
            await node.start_download("nothing-here", str(tmp_path / "x.mp4"))


async def exists(path: Path) -> bool:
    return path.exists()
