"""A relay's TCP connection to the upper (RFC 4571 framing): we connect, or we listen.

Owns the TCP transports of a relay (gb28181.md §6.5, §9.2 item 3; field-notes §2.3 item 1),
named from our side as `RelayTransport` names them:

* **Connect** (the upper offered `a=setup:passive`): the socket is bound on the relay's pool
  port at `open` (the port of our `m=`), and dials the upper's `c=`:`m=` at once, retrying
  `attempts` times `interval` apart (GB/T 28181-2022: ≥ 3, ≥ 1 s); all failing →
  `CONNECT_FAILED`.
* **Listen** (the upper offered `a=setup:active`): the relay's port listens from `open` on,
  so it is open before our 200 OK names it; the first connection from the upper's host is
  taken and the listening socket closed; connections from any other host are closed at once
  and counted. The relay times out an upper that never connects (`RelayLiveness`).

The upper closing or resetting the connection ends the relay (`PEER_CLOSED`). What it sends
us (RTCP, RFC 4571-framed) is read and ignored, unless an `on_data` takes the stream (the
device's voice in two-way talk). Frames are written whole; `backlog` is what
the transport has not handed to the kernel yet, which the relay keeps bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import cast

from farmwatch.media.relay.sender import SenderListener
from farmwatch.media.relay.spec import RelayEndReason
from farmwatch.media.source_filter import normalize_host
from farmwatch.media.tcp_socket import bind_tcp_socket

__all__ = ["TcpConnectSender", "TcpListenSender"]

log = logging.getLogger(__name__)

CONNECT_ATTEMPT_TIMEOUT = 5.0


class _Connection(asyncio.Protocol):
    """The relay's TCP connection: reports its end, ignores what the upper sends."""

    def __init__(self, owner: _TcpSender) -> None:
        self._owner = owner
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport does not subclass asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        self._owner.connection_made(self)

    def data_received(self, data: bytes) -> None:
        """RTCP from the upper (ignored: the connection says it all), or two-way talk's
        RTP from the device (to `on_data`)."""
        self._owner.data_received(data)

    def eof_received(self) -> bool:
        return False  # close our side too: the upper is gone

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.connection_lost(self, exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _TcpSender:
    """What both directions share: the one connection, writing, its end."""

    def __init__(
        self, host: str, port: int, *, local_host: str, local_port: int,
        listener: SenderListener, label: str, on_data: Callable[[bytes], None] | None = None,
    ) -> None:  # fmt: skip
        self._peer = (host, port)
        self._on_data = on_data
        self._local_host = local_host
        self._local_port = local_port
        self._listener = listener
        self._label = label
        self._connection: _Connection | None = None
        self._is_closed = False

    @property
    def local_port(self) -> int:
        return self._local_port

    @property
    def backlog(self) -> int:
        connection = self._connection
        if connection is None or connection.transport is None:
            return 0
        return connection.transport.get_write_buffer_size()

    def send_packets(self, packets: list[bytes]) -> int:
        raise TypeError("a TCP relay writes framed packets (write)")

    def write(self, data: bytes) -> None:
        connection = self._connection
        if connection is not None and connection.transport is not None:
            connection.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self._on_data is not None:
            self._on_data(data)

    def connection_made(self, connection: _Connection) -> None:
        if self._is_closed or self._connection is not None:
            connection.close()
            return
        self._connection = connection
        log.info("%s: connected to the upper", self._label)
        self._listener.sender_connected()

    def connection_lost(self, connection: _Connection, exc: Exception | None) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        if not self._is_closed:
            log.info("%s: the upper closed the connection (%s)", self._label, exc or "EOF")
            self._listener.sender_ended(RelayEndReason.PEER_CLOSED)

    async def close(self) -> None:
        self._is_closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class TcpConnectSender(_TcpSender):
    """`RelaySender` that dials the upper from the relay's port."""

    def __init__(
        self, host: str, port: int, *, local_host: str, local_port: int,
        listener: SenderListener, label: str, attempts: int, interval: float,
        on_data: Callable[[bytes], None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(
            host, port, local_host=local_host, local_port=local_port, listener=listener,
            label=label, on_data=on_data,
        )  # fmt: skip
        self._attempts = attempts
        self._interval = interval
        self._socket: socket.socket | None = None
        self._dialing: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._socket = self._bound_socket()  # the port is ours now, for the answer's m=
        self._dialing = asyncio.get_running_loop().create_task(self._dial())

    async def close(self) -> None:
        await super().close()
        if self._dialing is not None:
            self._dialing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dialing
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _bound_socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._peer[0] else socket.AF_INET
        sock = bind_tcp_socket(self._local_host, self._local_port, family)
        self._local_port = int(sock.getsockname()[1])
        return sock

    async def _dial(self) -> None:
        loop = asyncio.get_running_loop()
        error: OSError | None = None
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._interval)  # the standard's pause between attempts
            sock = self._socket if self._socket is not None else self._bound_socket()
            self._socket = None
            try:
                async with asyncio.timeout(CONNECT_ATTEMPT_TIMEOUT):
                    await loop.sock_connect(sock, self._peer)
                await loop.create_connection(lambda: _Connection(self), sock=sock)
                return
            except (OSError, TimeoutError) as failure:
                sock.close()
                error = failure if isinstance(failure, OSError) else OSError("timed out")
                log.info("%s: connecting to %s:%d failed (attempt %d): %s", self._label,
                         *self._peer, attempt + 1, failure)  # fmt: skip
        log.warning("%s: could not connect to the upper at %s:%d: %s", self._label, *self._peer,
                    error)  # fmt: skip
        if not self._is_closed:
            self._listener.sender_ended(RelayEndReason.CONNECT_FAILED)


class TcpListenSender(_TcpSender):
    """`RelaySender` that listens on the relay's port for the upper's connection."""

    def __init__(
        self, host: str, port: int, *, local_host: str, local_port: int,
        listener: SenderListener, label: str, on_data: Callable[[bytes], None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(
            host, port, local_host=local_host, local_port=local_port, listener=listener,
            label=label, on_data=on_data,
        )  # fmt: skip
        self._expected = normalize_host(host)
        self._server: asyncio.AbstractServer | None = None
        self.rejected_connections = 0
        """Connections closed at once: from another host than the upper's, or extra ones."""

    async def open(self) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Connection(self), self._local_host, self._local_port,
            reuse_address=True, backlog=4,
        )  # fmt: skip
        self._local_port = int(self._server.sockets[0].getsockname()[1])

    def connection_made(self, connection: _Connection) -> None:
        transport = connection.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        host = normalize_host(str(peer[0])) if peer else None
        if host is None or host != self._expected or self._connection is not None:
            self.rejected_connections += 1
            log.warning("%s: connection from %s refused: not the upper's address %s",
                        self._label, peer, self._peer[0])  # fmt: skip
            connection.close()
            return
        self._stop_listening()
        super().connection_made(connection)

    async def close(self) -> None:
        self._stop_listening()
        await super().close()

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
