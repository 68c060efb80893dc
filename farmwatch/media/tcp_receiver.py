"""RTP over TCP (RFC 4571; gb28181.md §6.5, §10 item 5): passive (we listen) and active (we dial).

Owns the media TCP connection of one stream. Framing (2-byte length, or `$`-interleaved) is
detected by `Rfc4571Deframer`; packets go to the session's `RtpIngest` in arrival order (a
sequence jump is loss upstream). One connection per stream (`a=connection:new`):

* **Passive** (platform offer `a=setup:passive`, the device connects — the default): listen on
  the allocated port before the INVITE; connections are taken one at a time, and only from
  the device's hosts (`allowed_hosts`, `allow_host`; issue 13 item 5): others, and extra
  ones, are closed at once and counted. When the current one delivers its first accepted
  RTP packet the listening socket closes; if it dies before that, the next one is accepted.
* **Active** (offer `a=setup:active`, answer `a=setup:passive` with the device's address): after
  the 200 OK, `connect(host, port)` dials, retrying `tcp_connect_attempts` times
  `tcp_connect_interval` apart (GB/T 28181-2022: ≥ 3 attempts, ≥ 1 s), then reports
  `MediaConnectFailed` (saying whether the device refused) if all fail. A device answering
  `a=setup:active` as well will connect to the offer's address: `listen()` takes that
  connection on the allocated port instead.

The media connection closing (or breaking its framing) is reported as `PeerClosed`. A large
read is worked off a bounded number of packets per turn of the event loop, reading paused
meanwhile, so no single callback holds the loop (issue 13 item 6). Reading also pauses while
a sink that must lose nothing holds the source (`hold`, backpressure: the device's sending
blocks on the full TCP window; a download at 4× is slowed, not cut), and the media timeout
waits meanwhile: that silence is ours.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Iterable
from typing import cast

from farmwatch.media.errors import FramingError
from farmwatch.media.events import MediaConnectFailed, PeerClosed, ReceiverListener
from farmwatch.media.ingest import IngestStats
from farmwatch.media.receiver import OneStreamReceiver
from farmwatch.media.rfc4571 import Rfc4571Deframer
from farmwatch.media.settings import MediaSettings
from farmwatch.media.tcp_socket import bind_tcp_socket

__all__ = ["TcpActiveReceiver", "TcpPassiveReceiver"]

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 5.0
_PACKETS_PER_TURN = 128
_BYTES_PER_TURN = 64 * 1024
"""One read is up to 256 kB (uvloop): thousands of tiny RTP packets. A turn of the event loop
works off at most this much, then reading pauses until the rest is done (issue 13 item 6)."""


class _MediaConnection(asyncio.Protocol):
    """One TCP media connection: deframe, feed the owner's session."""

    def __init__(self, owner: _TcpReceiver) -> None:
        self._owner = owner
        self._deframer = Rfc4571Deframer(max_frame_size=0xFFFF)
        self._transport: asyncio.Transport | None = None
        self._backlog: asyncio.Handle | None = None  # the rest of a read, in a later turn
        self._backlog_paused = False
        self._held = False  # backpressure from a sink
        self._reading = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport does not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if not self._owner.connection_made(self, str(peer[0]) if peer else None):
            transport.close()

    def data_received(self, data: bytes) -> None:
        self._work_off(data)

    def _work_off(self, data: bytes = b"") -> None:
        self._backlog = None
        try:
            packets = self._deframer.feed(
                data, max_packets=_PACKETS_PER_TURN, max_bytes=_BYTES_PER_TURN
            )
        except FramingError as error:
            log.warning("%s: %s; closing the media connection", self._owner.label, error)
            self._owner.connection_failed(self, f"framing error: {error}")
            self.close()
            return
        for packet in packets:
            self._owner.packet(self, packet)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._deframer.has_packet:
            if not self._backlog_paused:
                self._backlog_paused = True
                self._update_reading()
            if not self._held:  # held: the rest of the read waits too
                self._backlog = asyncio.get_running_loop().call_soon(self._work_off)
        elif self._backlog_paused:
            self._backlog_paused = False
            self._update_reading()

    def hold(self, held: bool) -> None:
        """Backpressure: stop reading, and working off what was read, until released."""
        self._held = held
        if held and self._backlog is not None:
            self._backlog.cancel()
            self._backlog = None
        elif not held and self._backlog_paused and self._backlog is None:
            transport = self._transport
            if transport is not None and not transport.is_closing():
                self._backlog = asyncio.get_running_loop().call_soon(self._work_off)
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        reading = not (self._backlog_paused or self._held)
        if reading != self._reading:
            self._reading = reading
            if reading:
                transport.resume_reading()
            else:
                transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._backlog is not None:
            self._backlog.cancel()
            self._backlog = None
        self._owner.connection_lost(self, exc)

    def close(self) -> None:
        if self._backlog is not None:
            self._backlog.cancel()
            self._backlog = None
        if self._transport is not None:
            self._transport.close()


class _TcpReceiver(OneStreamReceiver):
    """What passive and active share: the session and the one current connection."""

    def __init__(
        self,
        settings: MediaSettings,
        listener: ReceiverListener,
        *,
        expected_ssrc: int | None,
        allowed_hosts: Iterable[str] | None,
        port: int,
        host: str | None,
        label: str,
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
        self._connection: _MediaConnection | None = None
        self._is_closed = False
        self.refused_connections = 0
        """Connections closed at once because one was already current."""
        self.rejected_connections = 0
        """Connections closed at once because they came from a host not the device's."""

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    @property
    def stats(self) -> IngestStats:
        assert self._session is not None, "open() first"
        return dataclasses.replace(
            self._session.core.stats,
            rejected_connections=self.rejected_connections,
            refused_connections=self.refused_connections,
        )

    # ---- connection callbacks ----

    def connection_made(self, connection: _MediaConnection, host: str | None) -> bool:
        if host is not None and not self._admits(host):
            self.rejected_connections += 1
            log.warning("%s: media connection from %s refused: not the device's address",
                        self.label, host)  # fmt: skip
            return False
        if self._is_closed or self._connection is not None:
            self.refused_connections += 1
            return False
        self._connection = connection
        if self._held:
            connection.hold(True)
        return True

    def packet(self, connection: _MediaConnection, data: bytes) -> None:
        session = self._session
        if connection is not self._connection or session is None:
            return
        session.packet(data, None)
        if session.core.locked_ssrc is not None:
            self._media_flowing()

    def connection_failed(self, connection: _MediaConnection, reason: str) -> None:
        if connection is self._connection and self._session is not None:
            self._session.report(PeerClosed(reason))

    def connection_lost(self, connection: _MediaConnection, exc: Exception | None) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        session = self._session
        if session is None or self._is_closed:
            return
        if session.core.locked_ssrc is None and self._may_accept_again():
            return  # nothing came over it: wait for the next connection
        session.report(PeerClosed(f"media connection closed ({exc or 'EOF'})"))

    def hold(self, held: bool) -> None:
        """Backpressure: stop reading the media connection until released; the timeouts wait
        meanwhile (the device is silent because we hold it)."""
        if held == self._held:
            return
        self._held = held
        if self._connection is not None:
            self._connection.hold(held)
        self._apply_pause()

    def _admits(self, host: str) -> bool:
        """Whether a connection from `host` may carry the media (passive: the device's)."""
        return self._session is None or self._session.core.admits_host(host)

    def _media_flowing(self) -> None:
        """Hook: media arrived over the current connection."""

    def _may_accept_again(self) -> bool:
        return False

    async def close(self) -> None:
        self._is_closed = True
        if self._session is not None:
            self._session.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class TcpPassiveReceiver(_TcpReceiver):
    """We listen on the allocated port; the device connects (`Receiver`)."""

    def __init__(
        self,
        settings: MediaSettings,
        listener: ReceiverListener,
        *,
        expected_ssrc: int | None,
        allowed_hosts: Iterable[str] | None = None,
        port: int = 0,
        host: str | None = None,
        label: str = "tcp-passive",
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
        self._server: asyncio.Server | None = None

    async def open(self) -> int:
        if self._server is not None or self._session is not None:
            return self._port
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _MediaConnection(self), self._host, self._port, reuse_address=True
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._start_session(tcp=True)
        return self._port

    def _media_flowing(self) -> None:
        if self._server is not None:  # one connection per stream: stop listening
            self._server.close()
            self._server = None

    def _may_accept_again(self) -> bool:
        return self._server is not None

    async def close(self) -> None:
        await super().close()
        if self._server is not None:
            self._server.close()
            self._server = None


class TcpActiveReceiver(_TcpReceiver):
    """We connect to the device's `c=`/`m=` after its answer (`Receiver`).

    `open()` binds a TCP socket on the port allocated for the offer's `m=` line without
    listening: the port is ours while the stream lives, so no outgoing connection of this host
    can be handed it as its local port (a range inside the kernel's ephemeral range would
    otherwise lose it). A device that answers `a=setup:active` to our `a=setup:active`
    (RFC 4145 §4.1 forbids it) will connect to that port itself: `listen()` accepts its
    connection there, on the same socket, instead of dialling.
    """

    def __init__(
        self,
        settings: MediaSettings,
        listener: ReceiverListener,
        *,
        expected_ssrc: int | None,
        allowed_hosts: Iterable[str] | None = None,
        port: int = 0,
        host: str | None = None,
        label: str = "tcp-active",
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
        self._connect_task: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._reserved: socket.socket | None = None
        self.connect_attempts = 0

    def _admits(self, host: str) -> bool:
        return True  # we dialled the address the device's answer gave

    async def open(self) -> int:
        """Reserve the offer's port; raises `OSError` when another program holds it."""
        if self._session is None:
            self._reserved = bind_tcp_socket(self._host or "0.0.0.0", self._port)
            self._port = int(self._reserved.getsockname()[1])
            self._start_session(tcp=True)
        return self._port

    def connect(self, host: str, port: int) -> None:
        """Start dialling the device (after its SDP answer); a second call is ignored."""
        if self._session is None:
            raise RuntimeError("TcpActiveReceiver.open() first")
        if self._connect_task is None and not self._is_closed:
            self._connect_task = asyncio.get_running_loop().create_task(self._dial(host, port))

    async def listen(self) -> None:
        """Accept the device's connection on the offered port instead of dialling it."""
        if self._session is None:
            raise RuntimeError("TcpActiveReceiver.open() first")
        if self._server is not None or self._connect_task is not None or self._is_closed:
            return
        reserved, self._reserved = self._reserved, None
        if reserved is None:
            raise RuntimeError("the offer's port is no longer reserved")
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _MediaConnection(self), sock=reserved
        )

    def _media_flowing(self) -> None:
        if self._server is not None:  # one connection per stream: stop listening
            self._server.close()
            self._server = None

    def _may_accept_again(self) -> bool:
        return self._server is not None

    def _source(self) -> tuple[str, int] | None:
        """Dial from the media host when it is one address: the device (or a lower platform
        relaying to us) takes the connection only from the address our SDP named."""
        if self._host is None or self._host in ("", "0.0.0.0", "::"):
            return None
        return (self._host, 0)

    async def _dial(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        attempts = self._settings.tcp_connect_attempts
        last_error: OSError | TimeoutError | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._settings.tcp_connect_interval)  # the 2022 retry rule
            self.connect_attempts += 1
            try:
                async with asyncio.timeout(_CONNECT_TIMEOUT):
                    await loop.create_connection(
                        lambda: _MediaConnection(self), host, port, local_addr=self._source()
                    )
                return
            except (OSError, TimeoutError) as error:
                last_error = error
                log.info("%s: connect to %s:%d failed: %s", self.label, host, port, error)
        if self._session is not None:
            refused = isinstance(last_error, ConnectionRefusedError)
            event = MediaConnectFailed((host, port), attempts, refused, str(last_error))
            self._session.report(event)

    async def close(self) -> None:
        await super().close()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        task, self._connect_task = self._connect_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    raise
