"""Playback control on loopback: a stream at 4× hands every sink rescaled timestamps and no
sound, a paused stream outlives its timeouts, and a sink that must lose nothing holds a TCP
device back instead of dropping. Real RTP/PS over UDP and TCP on 127.0.0.1; what the fMP4
sink wrote is read back by PyAV."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from fractions import Fraction
from typing import TypeVar

from farmwatch.media.frames import EsFrame, MediaKind
from farmwatch.media.manager import MediaManager, MediaTransport
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.rfc4571 import frame as rfc4571_frame
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.settings import MediaSettings
from farmwatch.media.sinks import Fmp4Sink
from farmwatch.media.stream_core import CloseReason, StreamState
from tests.integration.media.media_peers import (
    FRAME_TICKS,
    mp4_decode_times,
    open_udp_sender,
    pattern_loop,
    rtp_frames,
    send_udp,
)

SSRC = 300_000_001
DEVICE = ["127.0.0.1"]
SILENCE = b"\xd5" * 320  # 40 ms of G.711 A-law silence


def frames_with_sound(ssrc: int, count: int) -> Iterator[list[bytes]]:
    """RTP packets of `count` video frames of the test pattern, each followed by 40 ms of
    G.711 sound, as PS the way a device with a microphone sends it (timestamps at 1×)."""
    loop = pattern_loop()
    muxer = PsMuxer(PsMuxerConfig(audio=StreamType.G711A))
    packetizer = RtpPacketizer(ssrc, max_payload=1400)
    for number in range(count):
        frame = loop.frames[number % len(loop.frames)]
        pts = number * FRAME_TICKS
        video = muxer.mux_video(frame.data, pts, is_keyframe=frame.is_keyframe)
        sound = muxer.mux_audio(SILENCE, pts)
        yield packetizer.packetize(video.data, pts) + packetizer.packetize(sound.data, pts)


async def take(sink: QueuedSink, kept: list[EsFrame], video: int, audio: int = 0) -> None:
    """Pull from `sink` into `kept` until `video` video and `audio` audio frames came."""

    def count(kind: MediaKind) -> int:
        return sum(frame.kind is kind for frame in kept)

    async with asyncio.timeout(10.0):
        while count(MediaKind.VIDEO) < video or count(MediaKind.AUDIO) < audio:
            frame = await sink.next_frame()
            assert frame is not None, sink.end_reason
            kept.append(frame)


async def test_at_4x_every_sink_gets_a_quarter_step_and_no_sound() -> None:
    settings = MediaSettings(host="127.0.0.1", port_range="21400-21419")
    manager = MediaManager(settings)
    sender = await open_udp_sender()
    try:
        opened = await manager.open_stream("pb-4x", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE)
        stream = opened.stream
        fmp4, probe = Fmp4Sink(name="fmp4"), QueuedSink(max_frames=1000, name="probe")
        stream.attach(fmp4)
        stream.attach(probe)
        chunks: list[bytes] = []
        reader = asyncio.create_task(_read(fmp4, chunks))
        packets = list(frames_with_sound(SSRC, 75))

        kept: list[EsFrame] = []
        await send_udp(sender, opened.port, iter(packets[:25]))
        await take(probe, kept, 25, audio=25)  # sound at 1×
        at_1x = len(kept)
        stream.set_scale(4)
        # The device now sends 4× faster (a frame every 10 ms), timestamps unchanged.
        loop = asyncio.get_running_loop()
        start = loop.time()
        for number, frame_packets in enumerate(packets[25:]):
            for packet in frame_packets:
                sender.sendto(packet, ("127.0.0.1", opened.port))
            await asyncio.sleep(max(0.0, start + (number + 1) * 0.01 - loop.time()))
        await take(probe, kept, 75)
        wall = loop.time() - start

        before = [frame.dts for frame in kept[:at_1x] if frame.kind is MediaKind.VIDEO]
        after = kept[at_1x:]
        assert all(frame.kind is MediaKind.VIDEO for frame in after)  # no sound at 4×
        assert _steps(before) == {FRAME_TICKS}
        assert _steps([frame.dts for frame in after]) == {FRAME_TICKS // 4}
        assert after[0].dts - before[-1] == FRAME_TICKS // 4  # continuous at the change

        await manager.close_stream("pb-4x")
        async with asyncio.timeout(10.0):
            await reader
        times = mp4_decode_times(b"".join(chunks))
        assert len(times) == 75
        assert _steps(times[:25]) == {Fraction(1, 25)}
        assert _steps(times[24:]) == {Fraction(1, 100)}  # the player shows 4×
        # 50 frames sent over ~0.5 s of wall time play for 0.5 s: at the sending pace.
        played = float(times[-1] - times[24])
        assert 0.5 < played / wall <= 1.05, (played, wall)
    finally:
        sender.close()
        await manager.close()


class ClosedStreams:
    """`MediaListener` that wakes a waiter per stream."""

    def __init__(self) -> None:
        self.reasons: dict[str, CloseReason] = {}
        self.times: dict[str, float] = {}
        self._changed = asyncio.Event()

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        self.reasons[stream_key] = reason
        self.times[stream_key] = asyncio.get_running_loop().time()
        self._changed.set()

    async def wait(self, stream_key: str, timeout: float = 5.0) -> CloseReason:
        async with asyncio.timeout(timeout):
            while stream_key not in self.reasons:
                self._changed.clear()
                await self._changed.wait()
        return self.reasons[stream_key]


async def test_a_paused_playback_outlives_its_idle_close_and_media_timeout() -> None:
    """Three streams whose device stops sending, in the order A, B, C; only A is paused.
    B (its viewer gone) closes as idle and C (still watched) as media-stopped; A's same
    deadlines came earlier, so by then A would have closed if the pause did not hold them.
    Resumed, A's timers count from the resume."""
    settings = MediaSettings(
        host="127.0.0.1", port_range="21420-21439", idle_close=0.3, media_timeout=0.5
    )
    listener = ClosedStreams()
    manager = MediaManager(settings, listener=listener)
    sender = await open_udp_sender()
    try:
        streams, subscriptions = {}, {}
        for number, key in enumerate(["pb-a", "pb-b", "pb-c"]):
            ssrc = SSRC + number
            opened = await manager.open_stream(key, MediaTransport.UDP, ssrc, allowed_hosts=DEVICE)
            streams[key] = opened.stream
            subscriptions[key] = opened.stream.attach(QueuedSink(max_frames=100))
            await send_udp(sender, opened.port, rtp_frames(pattern_loop(), ssrc, 10))
            await opened.stream.wait_live()
        streams["pb-a"].set_paused(True)
        streams["pb-a"].detach(subscriptions["pb-a"])
        streams["pb-b"].detach(subscriptions["pb-b"])

        assert await listener.wait("pb-b") is CloseReason.IDLE
        assert await listener.wait("pb-c") is CloseReason.MEDIA_STOPPED
        silent_for = streams["pb-a"].progress().seconds_since_last_frame
        assert silent_for is not None and silent_for > settings.media_timeout
        assert manager.get("pb-a") is streams["pb-a"]
        assert streams["pb-a"].state is StreamState.DRAINING and streams["pb-a"].is_paused
        assert "pb-a" not in listener.reasons

        resumed_at = asyncio.get_running_loop().time()
        streams["pb-a"].set_paused(False)
        assert await listener.wait("pb-a") is CloseReason.IDLE
        assert listener.times["pb-a"] - resumed_at >= settings.idle_close - 0.01
    finally:
        sender.close()
        await manager.close()


async def test_a_sink_with_backpressure_holds_a_tcp_device_instead_of_dropping() -> None:
    """A download at 4×: two devices send 1000 frames each as fast as TCP lets them. The
    download's sink (a queue of 300) is not read until the control stream, read as it comes,
    got all of its frames: by then the download's receiver would have read all 1000 too,
    and its sink dropped most, had the source not been held at the sink's high water."""
    settings = MediaSettings(host="127.0.0.1", port_range="21460-21479")
    manager = MediaManager(settings)
    writers: list[asyncio.StreamWriter] = []
    sending: list[asyncio.Task[None]] = []
    try:
        sinks = {}
        for key, sink, backpressure in [
            ("dl-held", QueuedSink(max_frames=300, name="download"), True),
            ("dl-control", QueuedSink(max_frames=2000, name="control"), False),
        ]:
            opened = await manager.open_stream(
                key, MediaTransport.TCP_PASSIVE, SSRC, allowed_hosts=DEVICE
            )
            opened.stream.attach(sink, backpressure=backpressure)
            sinks[key] = sink
            _, writer = await asyncio.open_connection("127.0.0.1", opened.port)
            writers.append(writer)
            sending.append(asyncio.create_task(_send_tcp(writer, 1000)))

        control: list[EsFrame] = []
        await take(sinks["dl-control"], control, 1000)
        stream = manager.get("dl-held")
        assert stream is not None and stream.is_holding_source
        assert sinks["dl-held"].frames_dropped == 0

        kept: list[EsFrame] = []
        await take(sinks["dl-held"], kept, 1000)  # drained: the device goes on
        assert [frame.dts for frame in kept] == [n * FRAME_TICKS for n in range(1000)]
        assert sinks["dl-held"].frames_dropped == 0
        assert stream.stats.source_holds >= 1 and not stream.is_holding_source
        async with asyncio.timeout(10.0):
            await asyncio.gather(*sending)
    finally:
        for writer in writers:
            writer.close()
        await manager.close()


async def _send_tcp(writer: asyncio.StreamWriter, count: int) -> None:
    for packets in rtp_frames(pattern_loop(), SSRC, count):
        writer.writelines(rfc4571_frame(packet) for packet in packets)
    await writer.drain()


Number = TypeVar("Number", int, Fraction)


def _steps(values: list[Number]) -> set[Number]:
    return {b - a for a, b in zip(values, values[1:], strict=False)}


async def _read(sink: Fmp4Sink, chunks: list[bytes]) -> None:
    async for chunk in sink.chunks():
        chunks.append(chunk)
