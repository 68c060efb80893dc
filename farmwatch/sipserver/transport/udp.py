"""SIP over UDP (RFC 3261 §18.1, §18.2): one datagram is one message.

Non-SIP datagrams (CRLF keep-alive pings of RFC 5626, eXosip's `jaK`) are ignored
without a reply; malformed messages are reported as `MalformedMessage` so the
endpoint can answer 400 when the request is answerable. Nothing raised while
handling one datagram reaches the loop or affects the next datagram.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from time import perf_counter
from typing import cast

from farmwatch.sipserver.log_budget import LogBudget
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.parser import (
    MalformedMessage,
    ParserLimits,
    is_keepalive_ping,
    parse_message,
)
from farmwatch.sipserver.transport.listener import TransportListener, log_wire
from farmwatch.sipserver.transport.queue_meter import ServiceClock, queue_fill
from farmwatch.sipserver.transport.queue_probe import OverloadGate, QueueDelayProbe, QueueReading
from farmwatch.sipserver.transport.reuseport import steer_to_fronts

log = logging.getLogger(__name__)

# Where a probe reaches a socket bound to a wildcard address.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class UdpTransport(asyncio.DatagramProtocol):
    """A bound UDP socket carrying SIP; `send` never blocks."""

    def __init__(self, listener: TransportListener, limits: ParserLimits) -> None:
        self._listener = listener
        self._limits = limits
        self._transport: asyncio.DatagramTransport | None = None
        self.dropped = 0
        # Our bugs, but a peer can trigger one per datagram: tracebacks within a budget.
        self._tracebacks = LogBudget()
        self.probe: QueueDelayProbe | None = None
        self._socket: socket.socket | None = None
        self._service = ServiceClock()

    @classmethod
    async def bind(
        cls,
        host: str,
        port: int,
        listener: TransportListener,
        limits: ParserLimits,
        *,
        receive_buffer: int,
        fronts: int = 0,
    ) -> UdpTransport:
        """`fronts`: how many SIP fronts will share the port (`bind_sip_socket`)."""
        loop = asyncio.get_running_loop()
        sock = bind_sip_socket(host, port, receive_buffer=receive_buffer, fronts=fronts)
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: cls(listener, limits), sock=sock
        )
        # uvloop may call connection_made only after this returns; the transport is ours now.
        protocol._transport = transport
        protocol._socket = sock
        return protocol

    def start_probe(self, gate: OverloadGate, *, interval: float = 0.1) -> None:
        """Measure this socket's receive-queue delay into `gate` (`queue_probe.py`)."""
        host, port = self.local_address
        target = _LOOPBACK.get(host, host)
        loop = asyncio.get_running_loop()
        self.probe = QueueDelayProbe(
            (target, port), gate, interval=interval, clock=loop.time, meter=self.read_queue
        )
        self.probe.start()

    def read_queue(self) -> QueueReading:
        """This socket's receive queue as it is now (`queue_meter.py`): its estimated wait
        at the tail, and how full its buffer is."""
        if self._socket is None or self._socket.fileno() < 0:
            return QueueReading(0.0, 0.0)
        queued, size = queue_fill(self._socket)
        return QueueReading(self._service.delay(queued), queued / size if size else 0.0)

    @property
    def local_address(self) -> tuple[str, int]:
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        started = perf_counter()
        self._received(data, addr)
        self._service.add(perf_counter() - started, len(data))

    def _received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data[:1] == b"\x00" and self.probe is not None and self.probe.is_probe(data, addr):
            self.probe.received(data)
            return
        source = Address(str(addr[0]), int(addr[1]), Transport.UDP)
        if is_keepalive_ping(data):
            return
        log_wire("recv", source, data)
        try:
            if self._listener.express_received(data, source):
                return
            message = parse_message(data, limits=self._limits)
        except MalformedMessage as error:
            self._listener.malformed_received(error, source)
            return
        except RemoteProtocolError as error:
            self.dropped += 1
            log.debug("dropped an unparsable datagram from %s: %s", source, error.reason)
            return
        except Exception:
            # Isolation boundary: one datagram. The parser promises typed errors only;
            # if that promise breaks, drop this datagram and keep serving.
            self.dropped += 1
            self._log_bug("unexpected error parsing a datagram from %s", source)
            return
        try:
            self._listener.message_received(message, source)
        except Exception:
            self.dropped += 1
            self._log_bug("error handling a message from %s", source)

    def _log_bug(self, message: str, source: Address) -> None:
        """Log the exception being handled, within the budget (called from `except`)."""
        left_out = self._tracebacks.take(asyncio.get_running_loop().time())
        if left_out:
            log.exception(message + " (%d more errors not logged)", source, left_out)
        elif left_out is not None:
            log.exception(message, source)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the peer is gone; transactions time out.
        log.debug("UDP error: %s", exc)

    def send(self, data: bytes, dest: Address) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        log_wire("send", dest, data)
        self._transport.sendto(data, (dest.host, dest.port))

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()
        if self._transport is not None:
            self._transport.close()


def bind_sip_socket(
    host: str, port: int, *, receive_buffer: int, reuse_port: bool = False, fronts: int = 0
) -> socket.socket:
    """A UDP socket bound to (host, port) for SIP.

    With `reuse_port` (a front) or `fronts` (the platform, which binds first), one of a
    group sharing the port; the platform's steers the devices to the fronts
    (`reuseport.py`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port or fronts:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        _set_receive_buffer(sock, receive_buffer)
        sock.bind((host, port))
        if fronts:
            steer_to_fronts(sock, fronts)
    except OSError:
        sock.close()
        raise
    return sock


def _set_receive_buffer(sock: socket.socket, wanted: int) -> None:
    """Registration bursts overflow the default ~208 KiB buffer long before the CPU is busy.

    SO_RCVBUF is capped at net.core.rmem_max; SO_RCVBUFFORCE (root or CAP_NET_ADMIN) is
    not. Without the privilege the cap stands, and the operator is told how to lift it.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    forced = False
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, wanted)
            forced = True
        except PermissionError:
            pass  # not privileged: the capped option below
    if not forced:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    # Linux reports twice the size asked for (the other half is its bookkeeping).
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
    if granted < wanted:
        log.warning(
            "SIP UDP receive buffer is %d KiB, not the %d KiB configured "
            "([sip] udp_receive_buffer): raise the sysctl net.core.rmem_max to absorb "
            "registration bursts",
            granted // 1024,
            wanted // 1024,
        )
