"""Backpressure: a sink's water marks, and a stream holding its source while such a sink is
full (no sockets; the TCP side is in tests/integration/media/test_playback_control.py)."""

from __future__ import annotations

import pytest

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream


def video(number: int) -> EsFrame:
    key = number % 50 == 0
    data = b"\x00\x00\x00\x01" + (b"\x65" if key else b"\x41") + bytes(100)
    return EsFrame(Codec.H264, data, number * 3600, number * 3600, key, 0xE0)


async def test_water_marks_are_half_and_a_quarter_of_the_queue() -> None:
    sink = QueuedSink(max_frames=8)
    drained: list[int] = []
    for number in range(3):
        sink.offer(video(number))
    assert not sink.is_over_high_water
    sink.offer(video(3))
    assert sink.is_over_high_water  # 4 of 8
    sink.call_when_drained(lambda: drained.append(sink.queued_frames))
    await sink.next_frame()
    assert drained == []  # 3 queued: above a quarter
    await sink.next_frame()
    assert drained == [2]  # called once, at 2 of 8
    await sink.next_frame()
    assert drained == [2]


async def test_the_byte_bound_counts_too_and_closing_releases() -> None:
    sink = QueuedSink(max_frames=100, max_bytes=1000)
    for number in range(5):
        sink.offer(video(number))  # 105 bytes each
    assert sink.queued_frames == 5 and sink.is_over_high_water  # 525 of 1000 bytes
    released: list[bool] = []
    sink.call_when_drained(lambda: released.append(True))
    await sink.close()
    assert released == [True]


async def test_a_stream_holds_its_source_while_a_backpressure_sink_is_full() -> None:
    stream = Stream("dl-1", MediaSettings())
    changes: list[bool] = []
    stream.on_backpressure = changes.append
    download = QueuedSink(max_frames=10)
    viewer = QueuedSink(max_frames=5)  # no backpressure: it drops, and holds nothing
    stream.attach(download, backpressure=True)
    stream.attach(viewer)
    for number in range(5):
        stream.receiver_frame(video(number))
    assert changes == [True] and stream.is_holding_source
    for number in range(5, 9):  # a device still sending (UDP, or what was read)
        stream.receiver_frame(video(number))
    assert changes == [True] and download.frames_dropped == 0
    while download.queued_frames > 2:
        await download.next_frame()
    assert changes == [True, False] and not stream.is_holding_source
    stream.receiver_frame(video(9))
    assert changes == [True, False]
    assert stream.stats.source_holds == 1
    assert viewer.frames_dropped > 0  # the viewer's own queue overflowed as usual
    stream.close()


async def test_detaching_a_holding_sink_releases_the_source() -> None:
    stream = Stream("dl-2", MediaSettings())
    changes: list[bool] = []
    stream.on_backpressure = changes.append
    download = QueuedSink(max_frames=4)
    subscription = stream.attach(download, backpressure=True)
    for number in range(3):
        stream.receiver_frame(video(number))
    assert changes == [True]
    stream.detach(subscription)
    assert changes == [True, False]
    stream.close()


async def test_only_a_sink_with_water_marks_can_take_backpressure() -> None:
    class Bare:
        is_closed = False

        def offer(self, frame: EsFrame) -> None:
            pass

        def end(self, reason: str) -> None:
            pass

        async def close(self) -> None:
            pass

    stream = Stream("dl-3", MediaSettings())
    with pytest.raises(TypeError, match="backpressure"):
        stream.attach(Bare(), backpressure=True)
    assert stream.sink_count == 0
    stream.close()
