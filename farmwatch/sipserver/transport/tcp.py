"""SIP over TCP (RFC 3261 §18.3): stream framing by Content-Length, connection reuse.

A connection a device opened is kept and used for every request towards that device
(it is usually behind NAT; GB/T 28181-2022 §9.1.1 f). Each connection owns a bounded
`StreamParser`: an endless header block or an oversized body closes that connection
only. Each framed message is offered to the express path first, as over UDP, and parsed
only when that declines it. Requests towards a TCP address with no open connection open
one. When a
connection closes, the listener hears of it (`connection_closed`): a device registered
over it is offline (GB/T 28181-2022 §9.1.1 f).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.parser import (
    MalformedMessage,
    ParserLimits,
    StreamParser,
    parse_message,
)
from farmwatch.sipserver.transport.listener import TransportListener, log_wire

log = logging.getLogger(__name__)

# Above this much unsent data a peer is not reading; drop it rather than grow without bound.
MAX_WRITE_BUFFER = 4 * 1024 * 1024


class TcpConnection(asyncio.Protocol):
    """One TCP connection carrying SIP in either direction."""

    def __init__(
        self,
        listener: TransportListener,
        limits: ParserLimits,
        on_open: Callable[[TcpConnection], None],
        on_close: Callable[[TcpConnection], None],
    ) -> None:
        self._listener = listener
        self._parser = StreamParser(limits)
        self._limits = limits
        self._on_open = on_open
        self._on_close = on_close
        self._transport: asyncio.Transport | None = None
        self.remote: Address | None = None
        self.last_activity = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.remote = Address(str(host), int(port), Transport.TCP)
        self.last_activity = asyncio.get_running_loop().time()
        self._on_open(self)

    def data_received(self, data: bytes) -> None:
        assert self.remote is not None
        self.last_activity = asyncio.get_running_loop().time()
        log_wire("recv", self.remote, data)
        try:
            frames = self._parser.feed_frames(data)
        except RemoteProtocolError as error:
            log.warning("closing TCP connection from %s: %s", self.remote, error.reason)
            self.close()
            return
        for frame in frames:
            self._deliver(frame)

    def _deliver(self, frame: bytes) -> None:
        """One framed message: the express path first, as over UDP, else parsed."""
        remote = self.remote
        assert remote is not None
        try:
            if self._listener.express_received(frame, remote):
                return
            try:
                message = parse_message(frame, limits=self._limits)
            except MalformedMessage as error:
                self._listener.malformed_received(error, remote)
                return
            self._listener.message_received(message, remote)
        except Exception:
            # Isolation boundary: one message on one connection.
            log.exception("error handling a message from %s", remote)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_close(self)

    def send(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("peer %s is not reading; closing its connection", self.remote)
            transport.abort()
            return False
        assert self.remote is not None
        log_wire("send", self.remote, data)
        transport.write(data)
        return True

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    @property
    def local_host(self) -> str | None:
        if self._transport is None:
            return None
        return str(self._transport.get_extra_info("sockname")[0])


class TcpTransport:
    """The listening socket plus every open connection, keyed by the peer's address."""

    def __init__(
        self,
        listener: TransportListener,
        limits: ParserLimits,
        *,
        max_connections: int,
        idle_timeout: float,
    ) -> None:
        self._listener = listener
        self._limits = limits
        self._max_connections = max_connections
        self._idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: dict[tuple[str, int], TcpConnection] = {}
        self._connecting: dict[tuple[str, int], asyncio.Task[TcpConnection | None]] = {}
        self._idle_timer: asyncio.TimerHandle | None = None
        self._is_closing = False

    async def listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection, host, port, reuse_address=True, backlog=1024
        )
        self._schedule_idle_check()

    @property
    def local_address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def connection_to(self, dest: Address) -> TcpConnection | None:
        return self._connections.get((dest.host, dest.port))

    def _new_connection(self) -> TcpConnection:
        return TcpConnection(self._listener, self._limits, self._opened, self._closed)

    def _opened(self, connection: TcpConnection) -> None:
        assert connection.remote is not None
        if len(self._connections) >= self._max_connections:
            log.warning("too many TCP connections; refusing %s", connection.remote)
            connection.close()
            return
        self._connections[(connection.remote.host, connection.remote.port)] = connection

    def _closed(self, connection: TcpConnection) -> None:
        if connection.remote is None:
            return
        key = (connection.remote.host, connection.remote.port)
        if self._connections.get(key) is not connection:
            # Refused at once (too many connections), or displaced by a newer connection
            # from the same address: whatever is bound to that address lives on.
            return
        del self._connections[key]
        if self._is_closing:
            return  # our own shutdown, not the peer going away
        try:
            self._listener.connection_closed(connection.remote)
        except Exception:
            # Isolation boundary: one connection's close.
            log.exception("error handling the close of the connection from %s", connection.remote)

    def send(self, data: bytes, dest: Address) -> None:
        connection = self._connections.get((dest.host, dest.port))
        if connection is not None and connection.send(data):
            return
        self._send_after_connect(data, dest)

    def _send_after_connect(self, data: bytes, dest: Address) -> None:
        key = (dest.host, dest.port)
        task = self._connecting.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._connect(dest))
            self._connecting[key] = task
            task.add_done_callback(lambda _: self._connecting.pop(key, None))

        def send_when_open(done: asyncio.Task[TcpConnection | None]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            connection = done.result()
            if connection is not None:
                connection.send(data)

        task.add_done_callback(send_when_open)

    async def _connect(self, dest: Address) -> TcpConnection | None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    self._new_connection, dest.host, dest.port
                )
        except (OSError, TimeoutError) as exc:
            # The transaction's timer reports the failure to whoever is waiting.
            log.warning("cannot connect to %s: %s", dest, exc)
            return None
        return connection

    _connect_timeout = 5.0

    def _schedule_idle_check(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(1.0, min(60.0, self._idle_timeout / 4))
        self._idle_timer = loop.call_later(interval, self._close_idle)

    def _close_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for connection in list(self._connections.values()):
            if now - connection.last_activity > self._idle_timeout:
                log.info("closing idle TCP connection from %s", connection.remote)
                connection.close()
        self._schedule_idle_check()

    async def close(self) -> None:
        self._is_closing = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        for task in list(self._connecting.values()):
            task.cancel()
        for connection in list(self._connections.values()):
            connection.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
