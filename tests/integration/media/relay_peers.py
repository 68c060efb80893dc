"""Upper platforms for the relay tests: loopback receivers of PS over RTP, and what they saw.

Each upper takes what a relay sends the way an upper platform does (UDP datagrams; RFC 4571
framed RTP over a TCP connection it accepts or makes), keeps every RTP packet as parsed by
`RtpPacket` and, for the verdict, decodes the PS the payloads make up with PyAV (FFmpeg's
own MPEG-PS demuxer and H.264 decoder: an independent peer).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from typing import cast

import av

from farmwatch.media.rfc4571 import Framing, Rfc4571Deframer
from farmwatch.media.rtp import RtpPacket, is_rtcp
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.stream_core import CloseReason
from tests.integration.media.media_peers import FRAME_TICKS, pattern_loop

UPPER_HOST = "127.0.0.1"
KEY = "34020000001320000001"
SSRC = 200_000_777
"""The device's."""
UPPER_SSRC = 100_000_123
"""The upper's `y=`: what the relays send under."""


class Device:
    """A camera sending the test pattern to the stream's port, paced faster than real time."""

    def __init__(self, transport: asyncio.DatagramTransport, port: int) -> None:
        self._transport = transport
        self._port = port
        self._packetizer = RtpPacketizer(SSRC, first_sequence=65500)
        self.frames_sent = 0

    async def send(self, count: int, pace: float = 0.004) -> None:
        frames = pattern_loop().frames
        for _ in range(count):
            number = self.frames_sent
            frame = frames[number % len(frames)]
            pts = number * FRAME_TICKS
            for packet in self._packetizer.packetize(frame.ps.shifted(pts - frame.pts), pts):
                self._transport.sendto(packet, ("127.0.0.1", self._port))
            self.frames_sent += 1
            await asyncio.sleep(pace)


def check_rtp(upper: Upper, ssrc: int) -> None:
    """What an upper platform expects of a GB/T 28181 PS stream (§8.1)."""
    packets = upper.packets
    assert packets and {p.ssrc for p in packets} == {ssrc}
    assert {p.payload_type for p in packets} == {96}
    assert all(0 < len(p.payload) <= 1400 for p in packets)
    for before, after in zip(packets, packets[1:], strict=False):
        assert after.sequence_number == (before.sequence_number + 1) & 0xFFFF
        if before.marker:  # a new frame, one frame interval later
            assert (after.timestamp - before.timestamp) & 0xFFFFFFFF == FRAME_TICKS
        else:  # the same frame goes on
            assert after.timestamp == before.timestamp
    assert packets[-1].marker


@dataclass
class Upper:
    """What one upper received."""

    packets: list[RtpPacket] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self, data: bytes) -> None:
        if is_rtcp(data):
            return
        self.packets.append(RtpPacket.parse(data))
        self.changed.set()

    @property
    def frames(self) -> int:
        """Frames whose last packet (marker) came."""
        return sum(1 for packet in self.packets if packet.marker)

    async def wait_frames(self, count: int, seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while self.frames < count:
                self.changed.clear()
                await self.changed.wait()

    def ps(self) -> bytes:
        return b"".join(packet.payload for packet in self.packets)

    def decoded_pictures(self) -> int:
        """Pictures PyAV decodes from the PS the payloads make up."""
        with av.open(io.BytesIO(self.ps()), format="mpeg") as container:
            stream = container.streams.video[0]
            return sum(1 for packet in container.demux(stream) for _ in packet.decode())


class UdpUpper(asyncio.DatagramProtocol):
    """An upper taking the relay on a UDP port (and able to send RTCP back to it)."""

    def __init__(self) -> None:
        self.upper = Upper()
        self.transport: asyncio.DatagramTransport | None = None
        self.source: tuple[str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.source = (str(addr[0]), int(addr[1]))
        self.upper.received(data)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send_rtcp(self, data: bytes) -> None:
        assert self.transport is not None and self.source is not None
        self.transport.sendto(data, self.source)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def udp_upper() -> UdpUpper:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(UdpUpper, local_addr=(UPPER_HOST, 0))
    return protocol


class _TcpUpperConnection(asyncio.Protocol):
    def __init__(self, owner: TcpUpper) -> None:
        self._owner = owner
        self._deframer = Rfc4571Deframer(framing=Framing.RFC4571)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner.connected(transport)

    def data_received(self, data: bytes) -> None:
        for packet in self._deframer.feed(data):
            self._owner.upper.received(packet)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.lost()


class TcpUpper:
    """An upper taking the relay over TCP: it listens (`a=setup:passive`: the relay
    connects) or connects to the relay's port (`a=setup:active`)."""

    def __init__(self) -> None:
        self.upper = Upper()
        self.server: asyncio.Server | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.is_connected = asyncio.Event()
        self.is_lost = asyncio.Event()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def connected(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.is_connected.set()

    def lost(self) -> None:
        self.is_lost.set()

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _TcpUpperConnection(self), UPPER_HOST, 0)

    async def connect(self, port: int, *, source: str = UPPER_HOST) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(
            lambda: _TcpUpperConnection(self), UPPER_HOST, port, local_addr=(source, 0)
        )

    def hang_up(self) -> None:
        """The upper closes its end (its BYE, or it went away)."""
        assert self.transport is not None
        self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.server is not None:
            self.server.close()


@dataclass
class RelayEvents:
    """The platform's `NodeListener`: streams and relays that ended by themselves."""

    closed_streams: list[tuple[str, CloseReason]] = field(default_factory=list)
    closed_relays: list[tuple[str, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        self.closed_streams.append((stream_key, reason))
        self.changed.set()

    def keyframe_needed(self, stream_key: str) -> None:
        pass

    def output_closed(self, output_id: str) -> None:
        pass

    def segment_closed(self, stream_key: str, segment: object) -> None:
        pass

    def relay_closed(self, relay_id: str, reason: str) -> None:
        self.closed_relays.append((relay_id, reason))
        self.changed.set()

    async def wait_relay_closed(self, relay_id: str, seconds: float = 10.0) -> str:
        async with asyncio.timeout(seconds):
            while True:
                for closed, reason in self.closed_relays:
                    if closed == relay_id:
                        return reason
                self.changed.clear()
                await self.changed.wait()
