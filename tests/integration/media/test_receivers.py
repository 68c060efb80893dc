"""RTP receivers on loopback: UDP, TCP passive/active, the shared port; SSRC lock; timeouts.

The simulator's H.264 test pattern is muxed to PS, packetised to RTP and sent over real
sockets; what comes out of the `Stream` is decoded by PyAV, an independent decoder.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from farmwatch.media.events import (
    MediaConnectFailed,
    MediaStarted,
    MediaStartTimedOut,
    MediaStopped,
)
from farmwatch.media.frames import Codec, EsFrame, MediaKind
from farmwatch.media.manager import MediaManager, MediaTransport
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.rfc4571 import frame as rfc4571_frame
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream, StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.udp_receiver import SharedPortDemux, UdpReceiver
from tests.integration.media.media_peers import (
    CHANNEL_B,
    FRAME_TICKS,
    RecordingListener,
    decode_sizes,
    open_on_private_port,
    open_udp_sender,
    pattern_loop,
    rtp_frames,
    send_udp,
    with_loss_and_reordering,
)

SSRC = 200_000_001
FRAMES = 75  # 3 s at 25 fps: > 50 frames after the first keyframe
SETTINGS = MediaSettings(host="127.0.0.1", port_range="21000-21099", start_timeout=5.0)
DEVICE = ["127.0.0.1"]  # where the test devices send from (a stranger: 127.0.0.2)


class ClosedStreams:
    """`MediaListener` recording what the manager reports."""

    def __init__(self) -> None:
        self.closed: list[tuple[str, CloseReason]] = []
        self.event = asyncio.Event()

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        self.closed.append((stream_key, reason))
        self.event.set()

    async def wait(self) -> tuple[str, CloseReason]:
        async with asyncio.timeout(5.0):
            await self.event.wait()
        return self.closed[0]


async def collect(sink: QueuedSink, count: int, timeout: float = 10.0) -> list[EsFrame]:
    frames: list[EsFrame] = []
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            frame = await sink.next_frame()
            if frame is None:
                break
            frames.append(frame)
    return frames


async def test_udp_stream_decodes_at_the_right_size() -> None:
    manager = MediaManager(SETTINGS)
    await manager.start()
    try:
        opened = await manager.open_stream("ch-a", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE)
        assert opened.is_new and opened.host == "127.0.0.1" and opened.port % 2 == 0
        again = await manager.open_stream("ch-a", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE)
        assert again.stream is opened.stream and not again.is_new
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        sender = await open_udp_sender()
        await send_udp(sender, opened.port, rtp_frames(pattern_loop(), SSRC, FRAMES))
        media = await opened.stream.wait_live()
        assert media.codec is Codec.H264 and media.ssrc == SSRC
        assert media.size is not None and (media.size.width, media.size.height) == (320, 180)
        frames = await collect(sink, FRAMES - 1)
        sender.close()
        sizes = decode_sizes(frames)
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
        assert frames[0].is_keyframe
    finally:
        await manager.close()
    assert manager.ports.in_use == 0 and manager.get("ch-a") is None


@pytest.mark.parametrize("framing", ["rfc4571", "interleaved"])
async def test_tcp_passive_accepts_the_device_connection(framing: str) -> None:
    manager = MediaManager(SETTINGS)
    await manager.start()
    try:
        opened = await manager.open_stream(
            "ch-tcp", MediaTransport.TCP_PASSIVE, SSRC, allowed_hosts=DEVICE
        )
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        _, writer = await asyncio.open_connection("127.0.0.1", opened.port)
        for packets in rtp_frames(pattern_loop(), SSRC, FRAMES, max_payload=8000):
            for packet in packets:
                if framing == "rfc4571":
                    writer.write(rfc4571_frame(packet))
                else:
                    writer.write(b"$\x00" + len(packet).to_bytes(2, "big") + packet)
            await writer.drain()
        frames = await collect(sink, FRAMES - 1)
        sizes = decode_sizes(frames)
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
        # One connection per stream: once media flowed, nothing else can connect.
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", opened.port)
        writer.close()
    finally:
        await manager.close()


async def test_tcp_peer_closing_closes_the_stream_and_reports_it() -> None:
    listener = ClosedStreams()
    manager = MediaManager(SETTINGS, listener=listener)
    try:
        opened = await manager.open_stream(
            "ch-tcp", MediaTransport.TCP_PASSIVE, SSRC, allowed_hosts=DEVICE
        )
        _, writer = await asyncio.open_connection("127.0.0.1", opened.port)
        for packets in rtp_frames(pattern_loop(), SSRC, 30):
            writer.writelines(rfc4571_frame(packet) for packet in packets)
        await writer.drain()
        await opened.stream.wait_live()
        writer.close()
        assert await listener.wait() == ("ch-tcp", CloseReason.PEER_CLOSED)
        assert manager.get("ch-tcp") is None and manager.ports.in_use == 0
    finally:
        await manager.close()


async def test_tcp_active_connects_to_the_device() -> None:
    served = asyncio.Event()

    async def device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for packets in rtp_frames(pattern_loop(), SSRC, FRAMES):
            writer.writelines(rfc4571_frame(packet) for packet in packets)
            await writer.drain()
        served.set()
        await reader.read()  # until the platform closes
        writer.close()

    device_server = await asyncio.start_server(device, "127.0.0.1", 0)
    device_port = device_server.sockets[0].getsockname()[1]
    manager = MediaManager(SETTINGS)
    try:
        opened = await manager.open_stream(
            "ch-active", MediaTransport.TCP_ACTIVE, SSRC, allowed_hosts=DEVICE
        )
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        manager.connect_active("ch-active", "127.0.0.1", device_port)
        frames = await collect(sink, FRAMES - 1)
        sizes = decode_sizes(frames)
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
        assert served.is_set()
    finally:
        await manager.close()
        device_server.close()
        await device_server.wait_closed()


async def test_tcp_active_listens_for_a_device_that_answered_active_too() -> None:
    manager = MediaManager(SETTINGS)
    try:
        opened = await manager.open_stream(
            "ch-active", MediaTransport.TCP_ACTIVE, SSRC, allowed_hosts=["127.0.0.1"]
        )
        with socket.socket() as other, pytest.raises(OSError):  # held from the offer on
            other.bind(("127.0.0.1", opened.port))
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        await manager.listen_active("ch-active")
        _, writer = await asyncio.open_connection("127.0.0.1", opened.port)  # the device
        for packets in rtp_frames(pattern_loop(), SSRC, FRAMES):
            writer.writelines(rfc4571_frame(packet) for packet in packets)
        await writer.drain()
        sizes = decode_sizes(await collect(sink, FRAMES - 1))
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
        with pytest.raises(ConnectionRefusedError):  # one connection per stream
            await asyncio.open_connection("127.0.0.1", opened.port)
        writer.close()
    finally:
        await manager.close()


async def test_tcp_active_retries_then_reports_the_failure() -> None:
    listener = ClosedStreams()
    settings = replace(SETTINGS, tcp_connect_attempts=3, tcp_connect_interval=0.05)
    manager = MediaManager(settings, listener=listener)
    refusing = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = refusing.sockets[0].getsockname()[1]
    refusing.close()
    await refusing.wait_closed()
    try:
        opened = await manager.open_stream(
            "ch-active", MediaTransport.TCP_ACTIVE, SSRC, allowed_hosts=DEVICE
        )
        manager.connect_active("ch-active", "127.0.0.1", dead_port)
        with pytest.raises(StreamClosedError) as closed:
            await opened.stream.wait_live()
        assert await listener.wait() == ("ch-active", CloseReason.PEER_CLOSED)
        assert opened.stream.close_reason is CloseReason.PEER_CLOSED
        cause = closed.value.cause  # what the platform tells the viewer
        assert isinstance(cause, MediaConnectFailed)
        assert cause.address == ("127.0.0.1", dead_port)
        assert cause.attempts == 3 and cause.is_refused
    finally:
        await manager.close()


async def test_shared_port_routes_by_ssrc_and_drops_unregistered() -> None:
    demux = SharedPortDemux(SETTINGS, port=0)
    port = await demux.open()
    stream_a = Stream("a", SETTINGS)
    stream_b = Stream("b", SETTINGS)
    sink_a, sink_b = QueuedSink(max_frames=500), QueuedSink(max_frames=500)
    stream_a.attach(sink_a)
    stream_b.attach(sink_b)
    receiver_a = demux.register(SSRC, stream_a)
    receiver_b = demux.register(SSRC + 1, stream_b)
    assert await receiver_a.open() == await receiver_b.open() == port
    try:
        sender_a, sender_b, stray = [await open_udp_sender() for _ in range(3)]
        small = pattern_loop(CHANNEL_B, 160, 96)
        await asyncio.gather(
            send_udp(sender_a, port, rtp_frames(pattern_loop(), SSRC, FRAMES)),
            send_udp(sender_b, port, rtp_frames(small, SSRC + 1, FRAMES)),
            send_udp(stray, port, rtp_frames(small, SSRC + 2, 20)),
        )
        frames_a, frames_b = await collect(sink_a, FRAMES - 1), await collect(sink_b, FRAMES - 1)
        sizes_a, sizes_b = decode_sizes(frames_a), decode_sizes(frames_b)
        assert len(sizes_a) >= 50 and set(sizes_a) == {(320, 180)}
        assert len(sizes_b) >= 50 and set(sizes_b) == {(160, 96)}
        assert demux.unknown_ssrc_packets > 0
        for transport in (sender_a, sender_b, stray):
            transport.close()
    finally:
        await receiver_a.close()
        await receiver_b.close()
        await demux.close()
        stream_a.close()
        stream_b.close()


async def test_loss_and_reordering_pass_damaged_frames_on_and_keep_going() -> None:
    listener = RecordingListener()
    # Gaps are skipped when 64 packets wait behind them, so the outcome does not depend on
    # how the loop is scheduled (a swapped packet must never be taken for a lost one).
    settings = replace(SETTINGS, reorder_delay=2.0)
    loop = pattern_loop()  # built before the receiver opens: its start timeout is not at stake
    sent = list(rtp_frames(loop, SSRC, 250))
    damaged, dropped = with_loss_and_reordering(
        [p for frame in sent for p in frame], loss=0.05, seed=7
    )
    assert dropped > 0
    # What the receiver passes on: from the first key frame on, every frame whose first
    # packet (PS and PES headers) arrived, damaged when any other packet is missing.
    # Before: only intact frames back to an intact key frame (8 of 250 here).
    arrived, expected = set(damaged), []
    for number, packets in enumerate(sent):
        is_key = loop.frames[number % len(loop.frames)].is_keyframe
        if packets[0] in arrived and (expected or is_key):
            expected.append((number * FRAME_TICKS, not arrived.issuperset(packets)))
    receiver, port = await open_on_private_port(
        lambda port: UdpReceiver(settings, listener, expected_ssrc=SSRC, port=port)
    )
    sender = await open_udp_sender()
    try:
        try:
            async with asyncio.timeout(15.0):
                for sent_count, packet in enumerate(damaged):
                    while sent_count - receiver.stats.packets >= 32:  # no buffer overflow
                        await asyncio.sleep(0.001)
                    sender.sendto(packet, ("127.0.0.1", port))
                while receiver.stats.packets < len(damaged) or receiver.stats.lost < dropped:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            pytest.fail(f"{receiver.stats} after {len(damaged)} sent, {dropped} left out")
        video = [f for f in listener.frames if f.kind is MediaKind.VIDEO]
        assert (receiver.stats.packets, receiver.stats.lost) == (len(damaged), dropped)
        passed_on = [(f.pts, f.is_damaged) for f in video]
        assert passed_on == expected, (
            f"first passed on {passed_on[:2]}, expected {expected[:2]}; "
            f"{len(passed_on)} of {len(expected)}; events {listener.events[:5]}; "
            f"{receiver.stats}"
        )
        assert receiver.stats.lost == dropped and len(video) >= 0.9 * 250
        sizes = decode_sizes(video)  # the decoder conceals: damaged frames give pictures too
        assert len(sizes) >= 0.8 * 250 and set(sizes) == {(320, 180)}
    finally:
        sender.close()
        await receiver.close()


async def test_other_senders_never_reach_the_stream() -> None:
    """A foreign SSRC (sending first) and a spoofed source of our SSRC are both dropped."""
    listener = RecordingListener()
    receiver, port = await open_on_private_port(
        lambda port: UdpReceiver(SETTINGS, listener, expected_ssrc=SSRC, port=port)
    )
    camera, rogue, spoof = [await open_udp_sender() for _ in range(3)]
    small = pattern_loop(CHANNEL_B, 160, 96)
    try:
        rogue_frames = rtp_frames(small, 999, FRAMES)
        for packets in [next(rogue_frames) for _ in range(3)]:  # the rogue starts first
            for packet in packets:
                rogue.sendto(packet, ("127.0.0.1", port))
        await asyncio.gather(
            send_udp(camera, port, rtp_frames(pattern_loop(), SSRC, FRAMES)),
            send_udp(rogue, port, rogue_frames),
            send_udp(spoof, port, rtp_frames(small, SSRC, FRAMES)),
        )
        async with asyncio.timeout(5.0):
            while len(listener.frames) < FRAMES - 1:
                listener.changed.clear()
                await listener.changed.wait()
        sizes = decode_sizes(listener.frames)
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
        stats = receiver.stats
        assert stats.locked_ssrc == SSRC and stats.rejected_ssrc > 0 and stats.rejected_source > 0
    finally:
        for transport in (camera, rogue, spoof):
            transport.close()
        await receiver.close()


async def test_start_timeout_then_media_stopped_events() -> None:
    settings = replace(SETTINGS, start_timeout=0.2, media_timeout=0.3)
    silent = RecordingListener()
    receiver, _ = await open_on_private_port(
        lambda port: UdpReceiver(settings, silent, expected_ssrc=SSRC, port=port)
    )
    timed_out = await silent.wait_for(MediaStartTimedOut)
    assert timed_out == MediaStartTimedOut(0.2, 0, 0)
    await receiver.close()

    listener = RecordingListener()
    receiver, port = await open_on_private_port(
        lambda port: UdpReceiver(
            replace(settings, start_timeout=5.0), listener, expected_ssrc=SSRC, port=port
        )
    )
    sender = await open_udp_sender()
    try:
        await send_udp(sender, port, rtp_frames(pattern_loop(), SSRC, 10))
        started = await listener.wait_for(MediaStarted)
        assert isinstance(started, MediaStarted) and started.source is not None
        stopped = await listener.wait_for(MediaStopped, timeout=3.0)
        assert isinstance(stopped, MediaStopped) and stopped.silent_for >= 0.3
        assert not any(isinstance(e, MediaStartTimedOut) for e in listener.events)
    finally:
        sender.close()
        await receiver.close()


async def test_manager_closes_an_idle_stream_and_reports_it() -> None:
    listener = ClosedStreams()
    manager = MediaManager(replace(SETTINGS, idle_close=0.2), listener=listener)
    sender = await open_udp_sender()
    try:
        opened = await manager.open_stream(
            "ch-idle", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE
        )
        sink = QueuedSink()
        subscription = opened.stream.attach(sink)
        await send_udp(sender, opened.port, rtp_frames(pattern_loop(), SSRC, 10))
        await opened.stream.wait_live()
        opened.stream.detach(subscription)
        assert await listener.wait() == ("ch-idle", CloseReason.IDLE)
        assert manager.get("ch-idle") is None and manager.ports.in_use == 0
        reopened = await manager.open_stream(
            "ch-idle", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE
        )
        assert reopened.is_new and reopened.stream is not opened.stream
    finally:
        sender.close()
        await manager.close()


async def test_receiver_reports_reach_the_sender() -> None:
    settings = replace(SETTINGS, rtcp_interval=0.1)
    listener = RecordingListener()
    receiver, port = await open_on_private_port(
        lambda port: UdpReceiver(settings, listener, expected_ssrc=SSRC, port=port)
    )
    reports: asyncio.Queue[bytes] = asyncio.Queue()

    class Camera(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            reports.put_nowait(data)

    loop = asyncio.get_running_loop()
    camera, _ = await loop.create_datagram_endpoint(Camera, local_addr=("127.0.0.1", 0))
    try:
        await send_udp(camera, port, rtp_frames(pattern_loop(), SSRC, 5))
        async with asyncio.timeout(3.0):
            data = await reports.get()
        from farmwatch.media.rtp import RtcpReceiverReport, parse_rtcp

        report = parse_rtcp(data)[0]
        assert isinstance(report, RtcpReceiverReport) and report.reports[0].ssrc == SSRC
    finally:
        camera.close()
        await receiver.close()


async def test_an_unwatched_stream_only_keeps_its_gop_and_a_new_viewer_starts_at_once() -> None:
    """Issue 14: no viewer, no demultiplexing; a viewer arriving gets the last GOP at once."""
    manager = MediaManager(replace(SETTINGS, idle_close=60))
    sender = await open_udp_sender()
    try:
        opened = await manager.open_stream(
            "lazy", MediaTransport.UDP, SSRC, allowed_hosts=["127.0.0.1"]
        )
        frames = list(rtp_frames(pattern_loop(), SSRC, 63))  # the loop: 2 s, GOP 25
        await send_udp(sender, opened.port, iter(frames[:60]))
        await opened.stream.wait_live()
        stats = manager.stats.ingest
        # Only the first key frame was demultiplexed (to start the stream); the rest kept.
        assert stats.packets > 60 and stats.frames == 1
        viewer = QueuedSink(max_frames=200)
        opened.stream.attach(viewer)
        first = await asyncio.wait_for(viewer.next_frame(), 1.0)
        assert first is not None and first.is_keyframe
        assert first.pts == 50 * 3600  # the key frame of the last GOP sent
        got = [first]
        for _ in range(9):
            frame = await asyncio.wait_for(viewer.next_frame(), 1.0)
            assert frame is not None
            got.append(frame)
        assert [frame.pts // 3600 for frame in got] == list(range(50, 60))
        # Watched: demultiplexing goes on.
        await send_udp(sender, opened.port, iter(frames[60:]))
        later = [await asyncio.wait_for(viewer.next_frame(), 2.0) for _ in range(3)]
        assert [frame.pts // 3600 for frame in later if frame is not None] == [60, 61, 62]
    finally:
        sender.close()
        await manager.close()
