"""RTP over UDP: one receiver per port, or one shared port demultiplexed by SSRC.

Owns the UDP sockets of media ingest (gb28181.md §6.2, §8.1, §10 items 3-4): a socket bound
with a multi-megabyte SO_RCVBUF (an I-frame is a burst of ~100 datagrams), RTP (and RTCP muxed
on the same port) fed to the session's `RtpIngest` (reorder buffer, SSRC/source lock, PS demux),
and receiver reports sent from the RTP port to the locked source. `SharedPortDemux` is the
optional single port (`MediaSettings.shared_port`): datagrams are routed by SSRC to registered
sessions, and only registered SSRCs are ever delivered. Either way only the device's hosts
(`allowed_hosts`, `allow_host`) are listened to (issue 13 item 5).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable
from typing import cast

from farmwatch.media.events import Address, ReceiverListener
from farmwatch.media.ingest import IngestStats, RtpIngest
from farmwatch.media.receiver import IngestSession, OneStreamReceiver
from farmwatch.media.rtp import is_rtcp
from farmwatch.media.settings import MediaSettings

__all__ = ["SharedPortDemux", "SharedPortReceiver", "UdpReceiver", "bind_udp_socket"]

log = logging.getLogger(__name__)

DatagramHandler = Callable[[bytes, Address], None]


def bind_udp_socket(host: str, port: int, receive_buffer: int) -> socket.socket:
    """A non-blocking UDP socket with SO_RCVBUF set before `bind`; raises `OSError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: DatagramHandler) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        # IPv4 addresses come as (host, port) already: no new tuple per packet for them.
        if len(addr) != 2:
            addr = (str(addr[0]), int(addr[1]))
        self.on_datagram(data, cast(Address, addr))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP media socket error: %s", exc)  # ICMP port unreachable for our RTCP


async def _open_endpoint(
    settings: MediaSettings, host: str, port: int, handler: DatagramHandler
) -> tuple[asyncio.DatagramTransport, int]:
    sock = bind_udp_socket(host, port, settings.udp_receive_buffer)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _DatagramProtocol(handler), sock=sock
    )
    return transport, int(sock.getsockname()[1])


class UdpReceiver(OneStreamReceiver):
    """One stream's RTP port (`Receiver`)."""

    def __init__(
        self,
        settings: MediaSettings,
        listener: ReceiverListener,
        *,
        expected_ssrc: int | None,
        allowed_hosts: Iterable[str] | None = None,
        port: int = 0,
        host: str | None = None,
        label: str = "udp",
    ) -> None:
        super().__init__(
            settings,
            listener,
            expected_ssrc=expected_ssrc,
            allowed_hosts=allowed_hosts,
            port=port,
            host=host,
            label=label,
        )
        self._transport: asyncio.DatagramTransport | None = None

    async def open(self) -> int:
        if self._transport is not None:
            return self._port
        self._transport, self._port = await _open_endpoint(
            self._settings, self._host, self._port, self._datagram
        )
        self._start_session(tcp=False, send_rtcp=self._send)
        return self._port

    @property
    def stats(self) -> IngestStats:
        assert self._session is not None, "open() first"
        return self._session.core.stats

    async def close(self) -> None:
        if self._session is not None:
            self._session.close()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _datagram(self, data: bytes, source: Address) -> None:
        if self._session is not None:
            self._session.packet(data, source)

    def _send(self, data: bytes, destination: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, destination)


class SharedPortDemux:
    """One UDP port for many streams, routed by SSRC (only registered SSRCs are delivered)."""

    def __init__(self, settings: MediaSettings, *, port: int, host: str | None = None) -> None:
        self._settings = settings
        self._host = settings.host if host is None else host
        self._port = port
        self._transport: asyncio.DatagramTransport | None = None
        self._sessions: dict[int, IngestSession] = {}
        self.unknown_ssrc_packets = 0
        """Datagrams dropped because no stream registered their SSRC."""

    @property
    def local_port(self) -> int:
        return self._port

    async def open(self) -> int:
        if self._transport is None:
            self._transport, self._port = await _open_endpoint(
                self._settings, self._host, self._port, self._datagram
            )
        return self._port

    def register(
        self, ssrc: int, listener: ReceiverListener, *, allowed_hosts: Iterable[str] | None = None
    ) -> SharedPortReceiver:
        """A receiver for `ssrc` (from `allowed_hosts` only, when given) on the shared port;
        raises `ValueError` when taken."""
        if self._transport is None:
            raise RuntimeError("SharedPortDemux.open() first")
        if ssrc in self._sessions:
            raise ValueError(f"SSRC {ssrc} is already registered on the shared port")
        receiver = SharedPortReceiver(self, ssrc, listener, allowed_hosts)
        self._sessions[ssrc] = receiver.session
        return receiver

    def rekey(self, old: int, new: int) -> None:
        if new in self._sessions and self._sessions[new] is not self._sessions.get(old):
            raise ValueError(f"SSRC {new} is already registered on the shared port")
        session = self._sessions.pop(old, None)
        if session is not None:
            self._sessions[new] = session

    def unregister(self, ssrc: int) -> None:
        session = self._sessions.pop(ssrc, None)
        if session is not None:
            session.close()

    async def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def new_session(
        self, ssrc: int, listener: ReceiverListener, allowed_hosts: Iterable[str] | None = None
    ) -> IngestSession:
        now = asyncio.get_running_loop().time()
        core = RtpIngest(
            self._settings,
            expected_ssrc=ssrc,
            now=now,
            accept_foreign_ssrc=False,
            allowed_hosts=allowed_hosts,
        )
        return IngestSession(
            core, listener, label=f"shared:{self._port}:{ssrc}", send_rtcp=self._send
        )

    def _datagram(self, data: bytes, source: Address) -> None:
        if len(data) < 12:
            self.unknown_ssrc_packets += 1
            return
        at = 4 if is_rtcp(data) else 8  # RTCP: the sender's SSRC; RTP: the header's
        session = self._sessions.get(int.from_bytes(data[at : at + 4], "big"))
        if session is None:
            self.unknown_ssrc_packets += 1
            return
        session.packet(data, source)

    def _send(self, data: bytes, destination: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, destination)


class SharedPortReceiver:
    """One stream's view of the shared port (`Receiver`)."""

    def __init__(
        self,
        demux: SharedPortDemux,
        ssrc: int,
        listener: ReceiverListener,
        allowed_hosts: Iterable[str] | None = None,
    ) -> None:
        self._demux = demux
        self._ssrc = ssrc
        self.session = demux.new_session(ssrc, listener, allowed_hosts)

    @property
    def local_port(self) -> int:
        return self._demux.local_port

    async def open(self) -> int:
        return self._demux.local_port

    def set_watched(self, watched: bool) -> None:
        self.session.set_watched(watched)

    def set_relayed(self, relayed: bool) -> None:
        self.session.set_relayed(relayed)

    def set_paused(self, paused: bool) -> None:
        self.session.set_paused(paused)

    def hold(self, held: bool) -> None:
        """A UDP device cannot be held back: nothing to do."""

    def expect_ssrc(self, ssrc: int) -> None:
        if ssrc == self._ssrc:
            return
        self._demux.rekey(self._ssrc, ssrc)
        self._ssrc = ssrc
        self.session.core.expect_ssrc(ssrc)

    def allow_host(self, host: str) -> bool:
        return self.session.core.allow_host(host)

    @property
    def stats(self) -> IngestStats:
        return self.session.core.stats

    async def close(self) -> None:
        self._demux.unregister(self._ssrc)
        self.session.close()
