"""A stranger's RTP never becomes the farm's picture (issue 13 item 5).

Real sockets on loopback: the device sends from 127.0.0.1 (the address the platform knows it
by), a stranger from 127.0.0.2 (Linux routes all of 127/8 to the loopback interface). The
stranger sends a 160x96 picture, the device 320x180: PyAV decoding what the stream delivers
tells whose video the viewer would see.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from farmwatch.media.manager import MediaManager, MediaTransport
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.rfc4571 import frame as rfc4571_frame
from farmwatch.media.stream import Stream
from farmwatch.media.udp_receiver import SharedPortDemux
from tests.integration.media.media_peers import (
    CHANNEL_B,
    decode_sizes,
    pattern_loop,
    rtp_frames,
    send_udp,
)
from tests.integration.media.test_receivers import DEVICE, FRAMES, SETTINGS, SSRC, collect

STRANGER = "127.0.0.2"
CAMERA_SIZE = {(320, 180)}


class _Sender(asyncio.DatagramProtocol):
    pass


async def udp_sender(host: str) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Sender, local_addr=(host, 0))
    return transport


async def send_paced(
    transport: asyncio.DatagramTransport, port: int, frames: list[list[bytes]]
) -> None:
    """Frames 20 ms apart: the foreign-SSRC grace counts time, not packets."""
    for packets in frames:
        for packet in packets:
            transport.sendto(packet, ("127.0.0.1", port))
        await asyncio.sleep(0.02)


def strangers_frames(ssrc: int, count: int = FRAMES) -> list[list[bytes]]:
    return list(rtp_frames(pattern_loop(CHANNEL_B, 160, 96), ssrc, count))


async def test_a_stranger_sending_the_expected_ssrc_first_is_never_locked_onto() -> None:
    """Before: the expected SSRC (the 1st, 2nd... of a guessable sequence) from anywhere
    locked the stream onto the stranger, and the camera was the one refused."""
    manager = MediaManager(SETTINGS)
    camera, stranger = await udp_sender("127.0.0.1"), await udp_sender(STRANGER)
    try:
        opened = await manager.open_stream("ch", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE)
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        fake = strangers_frames(SSRC)
        await send_udp(stranger, opened.port, iter(fake[:5]))  # the stranger comes first
        await asyncio.gather(
            send_udp(camera, opened.port, rtp_frames(pattern_loop(), SSRC, FRAMES)),
            send_udp(stranger, opened.port, iter(fake[5:])),
        )
        sizes = decode_sizes(await collect(sink, FRAMES - 1))
        assert len(sizes) >= 50 and set(sizes) == CAMERA_SIZE
        stats = manager.receiver_stats("ch")
        assert stats is not None and stats.rejected_source > 0
        assert stats.source is not None and stats.source[0] == "127.0.0.1"
    finally:
        camera.close()
        stranger.close()
        await manager.close()


async def test_a_foreign_ssrc_is_adopted_from_the_device_only() -> None:
    """Before: a stranger's SSRC, alone on the port for a second, became the farm's picture."""
    manager = MediaManager(replace(SETTINGS, foreign_ssrc_grace=0.3))
    camera, stranger = await udp_sender("127.0.0.1"), await udp_sender(STRANGER)
    try:
        opened = await manager.open_stream("ch", MediaTransport.UDP, SSRC, allowed_hosts=DEVICE)
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        await send_paced(stranger, opened.port, strangers_frames(999, 25))  # 0.5 s alone
        assert sink.queued_frames == 0 and opened.stream.media is None
        # A camera that ignores `y=` (gb28181.md §6.3) is still adopted, from its address.
        await asyncio.gather(
            send_paced(camera, opened.port, list(rtp_frames(pattern_loop(), 4242, FRAMES))),
            send_paced(stranger, opened.port, strangers_frames(999, FRAMES)),
        )
        sizes = decode_sizes(await collect(sink, 20))
        assert sizes and set(sizes) == CAMERA_SIZE
        assert opened.stream.media is not None and opened.stream.media.ssrc == 4242
    finally:
        camera.close()
        stranger.close()
        await manager.close()


async def test_the_answers_address_is_added_to_the_devices_hosts() -> None:
    """The device's SIP comes from one address, its media from the one its answer's `c=`
    names (a multi-homed NVR, a cascaded platform's media server)."""
    manager = MediaManager(SETTINGS)
    camera = await udp_sender("127.0.0.1")
    try:
        opened = await manager.open_stream(
            "ch", MediaTransport.UDP, SSRC, allowed_hosts=["127.0.0.3"]
        )
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        frames = rtp_frames(pattern_loop(), SSRC, FRAMES)
        await send_udp(camera, opened.port, iter([next(frames) for _ in range(5)]))
        assert opened.stream.media is None  # not (yet) one of the device's hosts
        manager.allow_source("ch", "127.0.0.1")
        await send_udp(camera, opened.port, frames)
        sizes = decode_sizes(await collect(sink, 20))
        assert sizes and set(sizes) == CAMERA_SIZE
    finally:
        camera.close()
        await manager.close()


async def test_tcp_passive_refuses_a_strangers_connection() -> None:
    manager = MediaManager(SETTINGS)
    try:
        opened = await manager.open_stream(
            "ch", MediaTransport.TCP_PASSIVE, SSRC, allowed_hosts=DEVICE
        )
        sink = QueuedSink(max_frames=500)
        opened.stream.attach(sink)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", opened.port, local_addr=(STRANGER, 0)
        )
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed at once: it never held the slot
        writer.close()
        _, device = await asyncio.open_connection("127.0.0.1", opened.port)
        for packets in rtp_frames(pattern_loop(), SSRC, FRAMES):
            device.writelines(rfc4571_frame(packet) for packet in packets)
            await device.drain()
        sizes = decode_sizes(await collect(sink, FRAMES - 1))
        assert len(sizes) >= 50 and set(sizes) == CAMERA_SIZE
        receiver_stats = manager.receiver_stats("ch")
        assert receiver_stats is not None and receiver_stats.rejected_connections == 1
        device.close()
    finally:
        await manager.close()


async def test_the_shared_port_drops_a_strangers_packets_for_a_registered_ssrc() -> None:
    demux = SharedPortDemux(SETTINGS, port=0)
    port = await demux.open()
    stream = Stream("ch", SETTINGS)
    sink = QueuedSink(max_frames=500)
    stream.attach(sink)
    receiver = demux.register(SSRC, stream, allowed_hosts=DEVICE)
    camera, stranger = await udp_sender("127.0.0.1"), await udp_sender(STRANGER)
    try:
        fake = strangers_frames(SSRC)
        await send_udp(stranger, port, iter(fake[:5]))
        await asyncio.gather(
            send_udp(camera, port, rtp_frames(pattern_loop(), SSRC, FRAMES)),
            send_udp(stranger, port, iter(fake[5:])),
        )
        sizes = decode_sizes(await collect(sink, FRAMES - 1))
        assert len(sizes) >= 50 and set(sizes) == CAMERA_SIZE
        assert receiver.stats.rejected_source > 0
    finally:
        camera.close()
        stranger.close()
        await receiver.close()
        await demux.close()
        stream.close()
