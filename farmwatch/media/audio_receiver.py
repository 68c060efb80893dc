"""G.711A from an upper platform's voice broadcast, received to be sent on to a device
(gb28181.md §4.13; issue 12).

When an upper platform broadcasts to one of our cameras we INVITE it for the audio as a
device would, and what it sends arrives here: RTP over UDP, or over TCP (RFC 4571) where
the upper connects to us. The upper answers with the format it likes, so both are taken
whatever we offered: raw A-law (payload type 8; each payload is the sound) and PS (the
audio PES of a PSM declaring G.711A, `PsDemuxer`). `G711Extractor` is the pure part (RTP
bytes in, A-law bytes out, counted); `AudioReceiver` its socket, handing every piece of
sound to `feed` (the device's `AudioSender.feed`). Packets from any host but the one
allowed (the upper's) are dropped and counted, as is anything that is not G.711A.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from farmwatch.media.errors import FramingError, RtpParseError
from farmwatch.media.frames import Codec
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.rfc4571 import Rfc4571Deframer
from farmwatch.media.rtp import RtpPacket, is_rtcp

__all__ = ["AudioReceiver", "G711Extractor"]

log = logging.getLogger(__name__)

PCMA_PAYLOAD_TYPE = 8
MAX_PACKET = 1500
"""Raw A-law payloads longer than this are not sound anyone sends (20 ms is 160 bytes)."""


class G711Extractor:
    """RTP packets in, A-law bytes out: raw PCMA by payload type 8, anything else as PS."""

    def __init__(self) -> None:
        self._demuxer: PsDemuxer | None = None
        self.packets = 0
        self.alaw_bytes = 0
        self.ignored = 0
        """Packets that carried no G.711A (RTCP, unparsable, another codec)."""

    def packet(self, data: bytes) -> list[bytes]:
        if is_rtcp(data):
            return []
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            self.ignored += 1
            return []
        self.packets += 1
        if packet.payload_type == PCMA_PAYLOAD_TYPE:
            if not packet.payload or len(packet.payload) > MAX_PACKET:
                self.ignored += 1
                return []
            sound = [bytes(packet.payload)]
        else:
            if self._demuxer is None:
                self._demuxer = PsDemuxer()
            frames = self._demuxer.feed(
                bytes(packet.payload), rtp_timestamp=packet.timestamp, marker=packet.marker
            )
            sound = [bytes(f.data) for f in frames if f.codec is Codec.G711A]
            if not sound and not frames:
                return []  # a PS packet holding a PSM or part of a frame
            if not sound:
                self.ignored += 1
        self.alaw_bytes += sum(len(piece) for piece in sound)
        return sound


class AudioReceiver:
    """One socket taking an upper's broadcast audio; see the module docstring."""

    def __init__(self, feed: Callable[[bytes], None], *, label: str) -> None:
        self._feed = feed
        self._label = label
        self.extractor = G711Extractor()
        self._deframer = Rfc4571Deframer()
        self.allowed_hosts: frozenset[str] | None = None
        """Only these hosts' packets are taken once set (None: not known yet, all taken)."""
        self.foreign = 0
        self._closers: list[Callable[[], None]] = []
        self._has_connection = False
        self.port = 0

    async def open_udp(self, host: str) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(host, 0)
        )
        self._closers.append(transport.close)
        self.port = int(transport.get_extra_info("sockname")[1])
        return self.port

    async def listen_tcp(self, host: str) -> int:
        """Listen for the upper's one connection (`a=setup:passive` offered)."""
        server = await asyncio.get_running_loop().create_server(lambda: _Stream(self), host, 0)
        self._closers.append(server.close)
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()

    def allow(self, *hosts: str) -> None:
        """Take packets (and a TCP connection) from these hosts only from now on."""
        self.allowed_hosts = frozenset(_normal(host) for host in hosts if host)

    def _allowed(self, host: str) -> bool:
        if self.allowed_hosts is None or _normal(host) in self.allowed_hosts:
            return True
        self.foreign += 1
        if self.foreign == 1:
            log.warning("%s: audio from %s dropped (expected %s)", self._label, host,
                        ", ".join(sorted(self.allowed_hosts)))  # fmt: skip
        return False

    def datagram(self, data: bytes, host: str) -> None:
        if self._allowed(host):
            self._take(data)

    def connected(self, transport: asyncio.Transport) -> bool:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        if self._has_connection or not self._allowed(host):
            transport.close()
            return False
        self._has_connection = True
        self._closers.append(transport.close)
        return True

    def stream_data(self, data: bytes) -> None:
        try:
            packets = self._deframer.feed(data)
        except FramingError as error:
            log.warning("%s: broken TCP framing: %s", self._label, error)
            self.close()
            return
        for packet in packets:
            self._take(bytes(packet))

    def _take(self, data: bytes) -> None:
        for sound in self.extractor.packet(data):
            self._feed(sound)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: AudioReceiver) -> None:
        self._receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._receiver.datagram(data, str(addr[0]))


class _Stream(asyncio.Protocol):
    def __init__(self, receiver: AudioReceiver) -> None:
        self._receiver = receiver
        self._taken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._taken = self._receiver.connected(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        if self._taken:
            self._receiver.stream_data(data)


def _normal(host: str) -> str:
    host = host.strip().strip("[]").lower()
    return host[7:] if host.startswith("::ffff:") else host
