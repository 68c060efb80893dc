"""Playback control through a real media worker process: `set_scale`, `set_paused` and
`stream_progress` over the control channel, with RTP/PS sent on 127.0.0.1 across the 33-bit
timestamp wrap and the fMP4 the worker serves read back by PyAV."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.manager import MediaTransport
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress
from tests.integration.media.media_peers import (
    FRAME_TICKS,
    mp4_decode_times,
    open_udp_sender,
    pattern_loop,
    send_udp,
)

SSRC = 300_000_101
WRAP = 1 << 33
FIRST_PTS = WRAP - 10 * FRAME_TICKS  # the device's clock wraps at the eleventh frame


class Platform:
    """The `NodeListener` the cluster reports to."""

    def __init__(self) -> None:
        self.closed: list[tuple[str, CloseReason]] = []

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        self.closed.append((stream_key, reason))

    def keyframe_needed(self, stream_key: str) -> None:
        pass

    def output_closed(self, output_id: str) -> None:
        pass


def frames_from(first: int, count: int, start: int) -> Iterator[list[bytes]]:
    """RTP packets of frames `first`..`first + count` of the pattern, stamped from `start`
    on (PS timestamps modulo 2^33, RTP's modulo 2^32, as a device's clocks run)."""
    loop = pattern_loop()
    packetizer = RtpPacketizer(SSRC, max_payload=1400, first_sequence=(first * 40) & 0xFFFF)
    for number in range(first, first + count):
        frame = loop.frames[number % len(loop.frames)]
        pts = start + number * FRAME_TICKS
        yield packetizer.packetize(frame.ps.shifted(pts - frame.pts), pts)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll `check` (a question to the worker) until it holds: progress is what the platform
    polls too."""
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.02)


async def test_scale_pause_and_progress_over_the_control_channel(tmp_path: Path) -> None:
    settings = MediaSettings(host="127.0.0.1", port_range="21440-21459")
    cluster = MediaCluster(settings, Platform(), workers=1, runtime_dir=tmp_path)
    await cluster.start()
    sender = await open_udp_sender()
    key = "pb-34020000001320000001-1"
    try:
        placement = await cluster.open_stream(key, MediaTransport.UDP, SSRC, ["127.0.0.1"])
        assert placement.node == "media-0" and placement.is_new

        chunks: list[bytes] = []

        async def read() -> None:
            async for chunk in cluster.fmp4(key, "viewer-1"):
                chunks.append(chunk)

        reader = asyncio.create_task(read())

        async def has_viewer() -> bool:
            await cluster.refresh_stats()
            return cluster.stats()[0].outputs == 1

        async def frames_in(count: int) -> bool:
            return (await cluster.stream_progress(key)).video_frames >= count

        await until(has_viewer)
        await send_udp(sender, placement.port, frames_from(0, 25, FIRST_PTS))
        await until(lambda: frames_in(25))
        await cluster.set_scale(key, 4)
        await send_udp(sender, placement.port, frames_from(25, 25, FIRST_PTS))
        await until(lambda: frames_in(50))
        await cluster.set_paused(key, True)

        progress = await cluster.stream_progress(key)
        keyframes = sum(frame.is_keyframe for frame in pattern_loop().frames[:50])
        assert progress == StreamProgress(
            video_frames=50,
            keyframes=keyframes,
            first_pts=FIRST_PTS,
            latest_pts=FIRST_PTS + 49 * FRAME_TICKS,  # past 2^33: unwrapped
            latest_keyframe_pts=progress.latest_keyframe_pts,
            seconds_since_last_frame=progress.seconds_since_last_frame,
            is_paused=True,
            scale=4.0,
        )
        assert progress.latest_keyframe_pts is not None
        assert FIRST_PTS <= progress.latest_keyframe_pts <= FIRST_PTS + 49 * FRAME_TICKS
        assert progress.seconds_since_last_frame is not None
        assert 0.0 <= progress.seconds_since_last_frame < 10.0
        assert progress.media_seconds == 49 * FRAME_TICKS / 90_000

        with pytest.raises(MediaError, match="scale"):
            await cluster.set_scale(key, 0)  # refused by the worker, the same error type
        await cluster.set_paused(key, False)
        resumed = await cluster.stream_progress(key)
        assert not resumed.is_paused and resumed.scale == 4.0

        await cluster.close_stream(key, CloseReason.REQUESTED)
        async with asyncio.timeout(10.0):
            await reader
        times = mp4_decode_times(b"".join(chunks))
        assert len(times) == 50
        steps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert set(steps[:24]) == {Fraction(1, 25)}
        assert set(steps[24:]) == {Fraction(1, 100)}  # 4×, across the wrap too
    finally:
        sender.close()
        await cluster.close()
