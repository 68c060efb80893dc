"""QueuedSink: bounded queue, drop-to-next-keyframe overflow, end/close semantics."""

from __future__ import annotations

import asyncio

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.queue_sink import QueuedSink


def video(number: int, *, key: bool = False, size: int = 10) -> EsFrame:
    return EsFrame(Codec.H264, bytes([number % 256]) * size, number, number, key, 0xE0)


def audio(number: int) -> EsFrame:
    return EsFrame(Codec.G711A, b"a" * 160, number, number, True, 0xC0)


async def drain(sink: QueuedSink) -> list[EsFrame]:
    frames = []
    while sink.queued_frames:
        frame = await sink.next_frame()
        assert frame is not None
        frames.append(frame)
    return frames


async def test_first_video_frame_delivered_is_a_keyframe() -> None:
    sink = QueuedSink(max_frames=10)
    for frame in (video(1), video(2), video(3, key=True), video(4)):
        sink.offer(frame)
    assert [f.pts for f in await drain(sink)] == [3, 4]
    assert sink.frames_dropped == 2 and sink.frames_offered == 4


async def test_overflow_drops_until_next_keyframe_then_resumes() -> None:
    sink = QueuedSink(max_frames=3)
    sink.offer(video(0, key=True))
    for number in range(1, 6):
        sink.offer(video(number))
    assert sink.is_waiting_for_keyframe
    sink.offer(video(6, key=True))
    sink.offer(video(7))
    pts = [f.pts for f in await drain(sink)]
    # The queue was still full at the keyframe: the stale frames go, the keyframe leads.
    assert pts == [6, 7]
    assert sink.frames_dropped == 3 + 3  # 3,4,5 refused, then 0,1,2 discarded on resync
    assert not sink.is_waiting_for_keyframe


async def test_keyframe_after_consumer_caught_up_keeps_queued_frames() -> None:
    sink = QueuedSink(max_frames=2)
    for frame in (video(0, key=True), video(1), video(2)):
        sink.offer(frame)
    first = await sink.next_frame()
    assert first is not None and first.pts == 0
    sink.offer(video(3, key=True))
    assert [f.pts for f in await drain(sink)] == [1, 3]


async def test_byte_bound_applies() -> None:
    sink = QueuedSink(max_frames=100, max_bytes=25)
    for number, key in ((0, True), (1, False), (2, False)):
        sink.offer(video(number, key=key))
    assert sink.queued_frames == 2 and sink.queued_bytes == 20 and sink.frames_dropped == 1


async def test_audio_overflow_drops_only_that_frame() -> None:
    sink = QueuedSink(max_frames=1)
    sink.offer(audio(0))
    sink.offer(audio(1))
    assert sink.frames_dropped == 1
    assert [f.pts for f in await drain(sink)] == [0]


async def test_end_drains_then_none_and_iteration_stops() -> None:
    sink = QueuedSink()
    sink.offer(video(0, key=True))
    sink.offer(video(1))
    sink.end("device BYE")
    sink.offer(video(2))  # ignored after end
    assert [f.pts async for f in sink] == [0, 1]
    assert await sink.next_frame() is None
    assert sink.end_reason == "device BYE"


async def test_close_wakes_a_waiting_consumer_and_runs_hook_once() -> None:
    calls: list[str] = []

    class Recording(QueuedSink):
        async def _on_close(self) -> None:
            calls.append("closed")

    sink = Recording()
    waiter = asyncio.ensure_future(sink.next_frame())
    await asyncio.sleep(0)
    assert not waiter.done()
    await sink.close()
    await sink.close()
    async with asyncio.timeout(1):
        assert await waiter is None
    assert sink.is_closed and calls == ["closed"]


async def test_consumer_waiting_gets_the_frame_offered_later() -> None:
    sink = QueuedSink()
    waiter = asyncio.ensure_future(sink.next_frame())
    await asyncio.sleep(0)
    sink.offer(video(9, key=True))
    async with asyncio.timeout(1):
        frame = await waiter
    assert frame is not None and frame.pts == 9
