"""Stream: the state machine in virtual time, fan-out, GOP start, slow sinks, faulty sinks."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from farmwatch.media.events import (
    MediaConnectFailed,
    MediaStarted,
    MediaStopped,
    VideoInterrupted,
)
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import VideoSize
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream, StreamClosedError
from farmwatch.media.stream_core import (
    BecameLive,
    CloseReason,
    KeyframeNeeded,
    StreamClosed,
    StreamCore,
    StreamState,
)

STARTED = MediaStarted(Codec.H264, VideoSize(320, 180), 1, ("127.0.0.1", 5000))
SPS_PPS = b"\x00\x00\x00\x01\x67\x42\xc0\x14" + b"\x00\x00\x00\x01\x68\xce\x3c\x80"
IDR = b"\x00\x00\x00\x01\x65\x88"
P_SLICE = b"\x00\x00\x00\x01\x41\x9a"


def video(number: int, *, key: bool = False, with_headers: bool = True) -> EsFrame:
    data = (SPS_PPS if with_headers else b"") + IDR if key else P_SLICE + bytes([number % 256])
    return EsFrame(Codec.H264, data, number * 3600, number * 3600, key, 0xE0)


def core(**kwargs: float) -> StreamCore:
    return StreamCore(now=0.0, idle_close=30.0, **kwargs)  # type: ignore[arg-type]


# ---- the pure core, virtual time ----


def test_opening_to_live_to_draining_to_closed_after_idle() -> None:
    stream = core()
    assert stream.sink_attached(1.0) == []
    assert stream.receiver_event(STARTED, 2.0) == [BecameLive(STARTED)]
    assert stream.state is StreamState.LIVE and stream.next_deadline() is None
    assert stream.sink_detached(5.0) == []
    assert stream.state is StreamState.DRAINING and stream.next_deadline() == 35.0
    assert stream.tick(34.9) == []
    assert stream.tick(35.0) == [StreamClosed(CloseReason.IDLE)]
    assert stream.state is StreamState.CLOSED and stream.next_deadline() is None


def test_a_sink_attaching_while_draining_cancels_the_idle_close() -> None:
    stream = core()
    stream.receiver_event(STARTED, 0.0)
    assert stream.state is StreamState.DRAINING  # live, nobody watching yet
    stream.frame_received(video(0, key=True))
    stream.sink_attached(10.0)
    assert stream.state is StreamState.LIVE and stream.tick(100.0) == []


def test_failures_close_with_their_reason() -> None:
    stream = core()
    stream.sink_attached(0.0)
    stream.receiver_event(STARTED, 0.0)
    assert stream.receiver_event(MediaStopped(15.0), 20.0) == [
        StreamClosed(CloseReason.MEDIA_STOPPED)
    ]
    assert stream.receiver_event(STARTED, 21.0)[1:] == []  # closed stays closed
    assert stream.close(CloseReason.REQUESTED, 22.0) == []
    assert stream.close_cause == MediaStopped(15.0)


def test_a_failed_tcp_connection_closes_the_stream_and_is_kept_as_its_cause() -> None:
    stream = core()
    failed = MediaConnectFailed(("192.0.2.9", 15060), 3, True, "[Errno 111] refused")
    assert stream.receiver_event(failed, 3.0) == [StreamClosed(CloseReason.PEER_CLOSED)]
    assert stream.close_cause is failed
    asked = core()
    assert asked.close(CloseReason.REQUESTED, 1.0) and asked.close_cause is None


def test_gop_cache_starts_at_last_keyframe_and_is_bounded() -> None:
    stream = core(gop_cache_frames=5)
    for number in range(3):
        stream.frame_received(video(number))
    assert not stream.has_keyframe  # nothing before the first keyframe is kept
    stream.frame_received(video(3, key=True))
    stream.frame_received(video(4))
    assert [f.pts // 3600 for f in stream.cached_start()] == [3, 4]
    for number in range(5, 9):
        stream.frame_received(video(number))
    assert not stream.has_keyframe  # longer than the bound: wait for the next keyframe


def test_keyframe_without_parameter_sets_gets_the_cached_ones() -> None:
    stream = core()
    stream.frame_received(video(0, key=True))
    stream.frame_received(video(25, key=True, with_headers=False))
    start = stream.cached_start()[0]
    assert start.data.startswith(SPS_PPS) and start.data.endswith(IDR)
    assert stream.parameter_sets is not None and stream.parameter_sets.sps is not None


def test_a_damaged_keyframe_never_starts_the_gop_cache() -> None:
    stream = core()
    stream.frame_received(video(0, key=True))
    stream.frame_received(video(1))
    damaged = dataclasses.replace(video(2, key=True), is_damaged=True)
    stream.frame_received(damaged)  # RTP loss cut it short: not a start for a new sink
    stream.frame_received(video(3))
    assert [f.pts // 3600 for f in stream.cached_start()] == [0, 1, 2, 3]
    fresh = core()
    fresh.frame_received(damaged)
    fresh.frame_received(video(3))
    assert not fresh.has_keyframe and fresh.parameter_sets is None


def test_keyframe_requests_are_rate_limited() -> None:
    stream = core(keyframe_request_interval=2.0)
    stream.receiver_event(STARTED, 0.0)
    assert stream.sink_attached(1.0) == [KeyframeNeeded()]  # live, nothing cached
    assert stream.sink_fell_behind(2.5) == []
    assert stream.sink_fell_behind(3.0) == [KeyframeNeeded()]
    assert stream.keyframe_requests == 2


def test_lost_video_asks_for_a_keyframe_and_does_not_close_the_stream() -> None:
    stream = core(keyframe_request_interval=2.0)
    stream.receiver_event(STARTED, 0.0)
    assert stream.receiver_event(VideoInterrupted(3), 1.0) == [KeyframeNeeded()]
    assert stream.receiver_event(VideoInterrupted(1), 1.5) == []  # rate-limited
    assert stream.receiver_event(VideoInterrupted(1), 3.0) == [KeyframeNeeded()]
    assert stream.state is not StreamState.CLOSED


# ---- the shell with fake sinks ----


class FaultySink(QueuedSink):
    def offer(self, frame: EsFrame) -> None:
        raise RuntimeError("broken output")


async def test_new_sink_starts_at_the_cached_keyframe_immediately() -> None:
    stream = Stream("k", MediaSettings())
    stream.receiver_event(STARTED)
    for number in range(5):
        stream.receiver_frame(video(number, key=number == 2))
    sink = QueuedSink()
    stream.attach(sink)
    assert sink.queued_frames == 3
    first = await sink.next_frame()
    assert first is not None and first.is_keyframe and first.pts == 2 * 3600
    assert await stream.wait_live() == STARTED
    stream.close()


async def test_slow_sink_drops_to_next_keyframe_while_fast_sink_gets_everything() -> None:
    requests: list[str] = []
    stream = Stream("k", MediaSettings(), on_keyframe_needed=lambda: requests.append("IFame"))
    fast, slow = QueuedSink(max_frames=1000), QueuedSink(max_frames=10)
    stream.attach(fast)
    stream.attach(slow)
    stream.receiver_event(STARTED)
    sent = [video(number, key=number % 25 == 0) for number in range(100)]
    for frame in sent:
        stream.receiver_frame(frame)
    assert [frame async for frame in _drain(fast)] == sent
    got = [frame async for frame in _drain(slow)]
    assert got[0].is_keyframe and slow.frames_dropped > 0
    assert [f.pts for f in got] == [f.pts for f in sent[75:85]]  # the latest GOP's start
    assert requests == ["IFame"]  # rate-limited: one request for the whole burst
    stats = stream.stats.sinks
    assert [s.frames_dropped for s in stats] == [0, slow.frames_dropped]


async def test_a_faulty_sink_is_detached_and_closed_without_affecting_others() -> None:
    stream = Stream("k", MediaSettings())
    faulty, good = FaultySink(), QueuedSink()
    stream.attach(faulty)
    stream.attach(good)
    stream.receiver_event(STARTED)
    stream.receiver_frame(video(0, key=True))
    stream.receiver_frame(video(1))
    assert stream.sink_count == 1 and good.queued_frames == 2
    await stream.aclose()
    assert faulty.is_closed


async def test_closing_ends_sinks_and_fails_wait_live() -> None:
    closed: list[CloseReason] = []
    stream = Stream("k", MediaSettings(), on_closed=lambda s, reason: closed.append(reason))
    sink = QueuedSink()
    stream.attach(sink)
    stream.close(CloseReason.PEER_CLOSED)
    assert sink.end_reason == "peer-closed" and await sink.next_frame() is None
    with pytest.raises(StreamClosedError):
        await stream.wait_live()
    with pytest.raises(StreamClosedError):
        stream.attach(QueuedSink())
    assert closed == [CloseReason.PEER_CLOSED]


async def test_idle_close_fires_on_the_loop_timer() -> None:
    closed = asyncio.Event()
    stream = Stream("k", MediaSettings(idle_close=0.05), on_closed=lambda s, r: closed.set())
    stream.receiver_event(STARTED)
    async with asyncio.timeout(2.0):
        await closed.wait()
    assert stream.close_reason is CloseReason.IDLE


async def _drain(sink: QueuedSink):  # type: ignore[no-untyped-def]
    while sink.queued_frames:
        frame = await sink.next_frame()
        assert frame is not None
        yield frame
