"""The voice broadcast's sender on real sockets: frames paced by the 20 ms audio clock, raw
over UDP and PS over TCP (RFC 4571) to a listening device, the device that should connect
and never does, and a live source kept from lagging."""

from __future__ import annotations

import asyncio
import socket

import pytest

from farmwatch.media.audio_sender import AudioSender, AudioTarget
from farmwatch.media.g711_packetizer import G711Framing
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.relay.spec import RelayEndReason, RelayTransport
from farmwatch.media.rfc4571 import Rfc4571Deframer
from farmwatch.media.rtp import RtpPacket

SSRC = 100000009


class _Ended:
    def __init__(self) -> None:
        self.reasons: list[RelayEndReason] = []
        self.event = asyncio.Event()

    def audio_sender_ended(self, reason: RelayEndReason) -> None:
        self.reasons.append(reason)
        self.event.set()


async def test_raw_frames_go_out_over_udp_one_every_20_ms() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    port = receiver.getsockname()[1]
    target = AudioTarget("127.0.0.1", port, RelayTransport.UDP, SSRC, G711Framing.PCMA, 8)
    sender = AudioSender(target, local_host="127.0.0.1", listener=_Ended(), label="test")
    loop = asyncio.get_running_loop()
    try:
        await sender.open()
        sender.start()
        started = loop.time()
        sender.feed(bytes(range(256)) * 15 + b"\x01" * 160)  # 25 frames: 0.5 s
        sender.end_of_input()
        async with asyncio.timeout(3):
            await sender.drained.wait()
        elapsed = loop.time() - started
        packets = []
        while True:
            try:
                packets.append(RtpPacket.parse(receiver.recv(2048)))
            except BlockingIOError:
                break
    finally:
        await sender.close()
        receiver.close()
    assert elapsed >= 0.45  # 25 frames at 20 ms, not a burst
    assert len(packets) == 25 == sender.frames_sent
    assert [p.timestamp for p in packets] == [160 * i for i in range(25)]
    assert [p.sequence_number for p in packets] == list(range(25))
    assert {(p.ssrc, p.payload_type, len(p.payload)) for p in packets} == {(SSRC, 8, 160)}
    assert packets[0].marker and not any(p.marker for p in packets[1:])


async def test_ps_over_tcp_to_a_device_that_listens() -> None:
    received = bytearray()
    got_all = asyncio.Event()

    async def device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while len(received) < 1000:
            data = await reader.read(4096)
            if not data:
                break
            received.extend(data)
        got_all.set()
        writer.close()

    server = await asyncio.start_server(device, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = AudioTarget("127.0.0.1", port, RelayTransport.TCP_CONNECT, SSRC, G711Framing.PS, 96)
    sender = AudioSender(target, local_host="127.0.0.1", listener=_Ended(), label="test")
    try:
        await sender.open()
        sender.start()
        sender.feed(b"\x55" * 800)  # 5 frames
        async with asyncio.timeout(3):
            await got_all.wait()
    finally:
        await sender.close()
        server.close()
    demuxer = PsDemuxer()
    frames = []
    for raw in Rfc4571Deframer().feed(bytes(received)):
        packet = RtpPacket.parse(raw)
        assert (packet.ssrc, packet.payload_type) == (SSRC, 96)
        frames += demuxer.feed(packet.payload, rtp_timestamp=packet.timestamp,
                               marker=packet.marker)  # fmt: skip
    assert len(frames) >= 4 and all(f.data == b"\x55" * 160 for f in frames)


async def test_a_device_that_never_connects_ends_the_sender() -> None:
    ended = _Ended()
    target = AudioTarget("127.0.0.1", 0, RelayTransport.TCP_LISTEN, SSRC, G711Framing.PS, 96)
    sender = AudioSender(target, local_host="127.0.0.1", listener=ended, label="test",
                         connect_timeout=0.3)  # fmt: skip
    try:
        assert await sender.open() > 0
        sender.start()
        async with asyncio.timeout(3):
            await ended.event.wait()
    finally:
        await sender.close()
    assert ended.reasons == [RelayEndReason.CONNECT_TIMEOUT]


@pytest.mark.parametrize("backlog", [800, None])
async def test_a_live_source_is_kept_from_lagging(backlog: int | None) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    target = AudioTarget("127.0.0.1", receiver.getsockname()[1], RelayTransport.UDP, SSRC,
                         G711Framing.PCMA, 8)  # fmt: skip
    sender = AudioSender(target, local_host="127.0.0.1", listener=_Ended(), label="test",
                         max_backlog=backlog)  # fmt: skip
    try:
        await sender.open()
        for _ in range(20):
            sender.feed(b"\x00" * 160)  # a burst of 20 frames before the clock starts
    finally:
        await sender.close()
        receiver.close()
    assert sender.bytes_dropped == (3200 - backlog if backlog else 0)
