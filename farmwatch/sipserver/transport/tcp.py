"""SIP over TCP (RFC 3261 §18.3): stream framing by Content-Length, connection reuse.

A connection a device opened is kept and used for every request towards that device
(it is usually behind NAT; GB/T 28181-2022 §9.1.1 f). Each connection owns a bounded
`StreamParser`: an endless header block or an oversized body closes that connection
only. Each framed message is offered to the express path first, as over UDP, and parsed
only when that declines it. Requests towards a TCP address with no open connection open
one. When a connection closes, the listener hears of it (`connection_closed`): a device
registered over it is offline (GB/T 28181-2022 §9.1.1 f).

Slow and greedy peers (`tcp_guard.py` decides, this shell acts): connections are
accepted by hand (`tcp_accept.py`) and refused at once beyond the per-address or total
cap; a begun message must complete, and an accepted connection must deliver its first
message, within `message_timeout`; only whole messages keep a connection from idling
out. Each connection has one deadline at a time in a `DeadlineQueue` (moved when bytes
arrive; no timer per connection), and one loop timer is armed at the earliest. Refusals
and closes are counted (`stats`) and logged once per burst per host.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from typing import cast

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.bursts import BurstLog, BurstReport, BurstStage
from farmwatch.sipserver.sip.deadline_queue import DeadlineQueue
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.parser import (
    MalformedMessage,
    ParserLimits,
    StreamParser,
    parse_message,
)
from farmwatch.sipserver.transport.listener import TransportListener, log_wire
from farmwatch.sipserver.transport.tcp_accept import Acceptor, reset_and_close
from farmwatch.sipserver.transport.tcp_guard import (
    Admission,
    BurstKind,
    CloseReason,
    ConnectionClock,
    Refusal,
    TcpLimits,
    TcpStats,
    address_key,
    overflow_key,
)

log = logging.getLogger(__name__)

# Above this much unsent data a peer is not reading; drop it rather than grow without bound.
MAX_WRITE_BUFFER = 4 * 1024 * 1024
_BACKLOG = 1024


class TcpConnection(asyncio.Protocol):
    """One TCP connection carrying SIP in either direction."""

    def __init__(
        self,
        listener: TransportListener,
        limits: ParserLimits,
        owner: TcpTransport,
        *,
        inbound: bool,
        host: str,
    ) -> None:
        self._listener = listener
        self._parser = StreamParser(limits)
        self._limits = limits
        self._owner = owner
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.inbound = inbound
        self.host = host
        """The remote host this connection is counted under."""
        self.counted = True
        """Still counted by the owner's `Admission` (released exactly once)."""
        self.remote: Address | None = None
        self.clock: ConnectionClock | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        host, port = transport.get_extra_info("peername")[:2]
        self.remote = Address(str(host), int(port), Transport.TCP)
        self.clock = ConnectionClock(self._loop.time(), inbound=self.inbound)
        self._owner.opened(self)

    def data_received(self, data: bytes) -> None:
        assert self.remote is not None and self.clock is not None and self._loop is not None
        log_wire("recv", self.remote, data)
        try:
            frames = self._parser.feed_frames(data)
        except RemoteProtocolError as error:
            log.warning("closing TCP connection from %s: %s", self.remote, error.reason)
            self.close()
            return
        pending = self._parser.buffered > 0
        self.clock.received(self._loop.time(), messages=len(frames), pending=pending)
        self._owner.reschedule(self)
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
        self._owner.closed(self)

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

    def abort(self) -> None:
        """Close without flushing: a peer that holds a connection open need not read."""
        if self._transport is not None:
            self._transport.abort()

    @property
    def local_host(self) -> str | None:
        if self._transport is None:
            return None
        return str(self._transport.get_extra_info("sockname")[0])


_Key = tuple[str, int]


class TcpTransport:
    """The listening socket plus every open connection, keyed by the peer's address."""

    def __init__(self, listener: TransportListener, limits: ParserLimits, tcp: TcpLimits) -> None:
        self._listener = listener
        self._limits = limits
        self._tcp = tcp
        self._admission = Admission(tcp)
        self._bursts: BurstLog[tuple[BurstKind, str]] = BurstLog(
            quiet_after=5.0, report_interval=60.0, max_keys=256, overflow=overflow_key
        )
        self._texts = _burst_texts(tcp)
        self._closes: dict[CloseReason, int] = dict.fromkeys(CloseReason, 0)
        self._acceptor: Acceptor | None = None
        self._connections: dict[_Key, TcpConnection] = {}
        """Where to send: the newest connection per remote address."""
        self._open: set[TcpConnection] = set()
        """Every connection made and not lost yet (displaced ones too)."""
        self._deadlines: DeadlineQueue[TcpConnection] = DeadlineQueue()
        self._connecting: dict[_Key, asyncio.Task[TcpConnection | None]] = {}
        self._accepting: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._is_closing = False

    async def listen(self, host: str, port: int) -> None:
        self._acceptor = Acceptor.listen(host, port, self._accepted, backlog=_BACKLOG)

    @property
    def local_address(self) -> tuple[str, int]:
        assert self._acceptor is not None
        return self._acceptor.local_address

    @property
    def stats(self) -> TcpStats:
        admission = self._admission
        return TcpStats(
            connections=admission.total,
            inbound=admission.inbound,
            outbound=admission.outbound,
            addresses=admission.addresses,
            max_connections=self._tcp.max_connections,
            max_per_address=self._tcp.max_per_address,
            refused_per_address=admission.refused[Refusal.PER_ADDRESS],
            refused_total_cap=admission.refused[Refusal.TOTAL_CAP],
            refused_outbound=admission.refused[Refusal.OUTBOUND],
            accept_errors=0 if self._acceptor is None else self._acceptor.errors,
            message_timeouts=self._closes[CloseReason.MESSAGE_TIMEOUT],
            silent_closed=self._closes[CloseReason.SILENT],
            ping_only_closed=self._closes[CloseReason.PING_ONLY],
            idle_closed=self._closes[CloseReason.IDLE],
        )

    def connection_to(self, dest: Address) -> TcpConnection | None:
        return self._connections.get((dest.host, dest.port))

    # -- admission ------------------------------------------------------------------------

    def _accepted(self, sock: socket.socket, peer_host: str) -> None:
        host = address_key(peer_host)
        refusal = self._admission.admit_inbound(host)
        if refusal is not None:
            reset_and_close(sock)
            self._note(refusal, host, peer_host)
            return
        loop = asyncio.get_running_loop()
        connection = TcpConnection(self._listener, self._limits, self, inbound=True, host=host)
        task: asyncio.Task[object] = loop.create_task(
            loop.connect_accepted_socket(lambda: connection, sock=sock)
        )
        self._accepting.add(task)

        def wrapped(done: asyncio.Task[object]) -> None:
            self._accepting.discard(done)
            if connection.remote is None:  # never made: the socket failed or we shut down
                sock.close()
                self._release(connection)

        task.add_done_callback(wrapped)

    def _release(self, connection: TcpConnection) -> None:
        if not connection.counted:
            return
        connection.counted = False
        if connection.inbound:
            self._admission.release_inbound(connection.host)
        else:
            self._admission.release_outbound()

    def opened(self, connection: TcpConnection) -> None:
        """From `connection_made`: the connection is routable and its deadlines run."""
        assert connection.remote is not None
        if self._is_closing:
            connection.abort()
            return
        self._open.add(connection)
        self.reschedule(connection)
        self._connections[(connection.remote.host, connection.remote.port)] = connection

    def reschedule(self, connection: TcpConnection) -> None:
        """After bytes arrived (or on opening): the connection's next deadline."""
        assert connection.clock is not None
        deadline = connection.clock.deadline(self._tcp)
        self._deadlines.schedule(connection, deadline)
        self._arm(deadline)

    def closed(self, connection: TcpConnection) -> None:
        """From `connection_lost`."""
        self._release(connection)
        self._open.discard(connection)
        self._deadlines.cancel(connection)
        if connection.remote is None:
            return
        key = (connection.remote.host, connection.remote.port)
        if self._connections.get(key) is not connection:
            # Displaced by a newer connection from the same address (or made during
            # shutdown): whatever is bound to that address lives on.
            return
        del self._connections[key]
        if self._is_closing:
            return  # our own shutdown, not the peer going away
        try:
            self._listener.connection_closed(connection.remote)
        except Exception:
            # Isolation boundary: one connection's close.
            log.exception("error handling the close of the connection from %s", connection.remote)

    # -- sending ----------------------------------------------------------------------------

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
        if not self._admission.admit_outbound():
            self._note(Refusal.OUTBOUND, dest.host, str(dest))
            return None
        connection = TcpConnection(
            self._listener, self._limits, self, inbound=False, host=dest.host
        )
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_connection(lambda: connection, dest.host, dest.port)
        except (OSError, TimeoutError) as exc:
            # The transaction's timer reports the failure to whoever is waiting.
            log.warning("cannot connect to %s: %s", dest, exc)
            return None
        finally:
            if connection.remote is None:
                self._release(connection)
        return connection

    _connect_timeout = 5.0

    # -- deadlines ------------------------------------------------------------------------

    def _arm(self, deadline: float) -> None:
        """Have the one timer fire by `deadline` (it only ever moves earlier here)."""
        if self._is_closing or (self._timer_at is not None and self._timer_at <= deadline):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        now = asyncio.get_running_loop().time()
        for connection in self._deadlines.pop_due(now):
            clock = connection.clock
            assert clock is not None
            reason = clock.expired(now, self._tcp)
            if reason is None:
                self.reschedule(connection)
            else:
                self._expire(connection, reason)
        for burst in self._bursts.ended(now):
            self._summarise(burst, now)
        for deadline in (self._deadlines.next_deadline(), self._bursts.next_deadline()):
            if deadline is not None:
                self._arm(deadline)

    def _expire(self, connection: TcpConnection, reason: CloseReason) -> None:
        self._closes[reason] += 1
        self._note(reason, connection.host, str(connection.remote))
        connection.abort()

    # -- logging ----------------------------------------------------------------------------

    def _note(self, kind: Refusal | CloseReason, host: str, peer: str) -> None:
        """Log the first event of a burst per host; the rest go into its summary."""
        key = "any address" if kind is Refusal.TOTAL_CAP else host
        now = asyncio.get_running_loop().time()
        report = self._bursts.record((kind, key), now)
        due = self._bursts.next_deadline()
        if due is not None:
            self._arm(due)
        if report is None:
            return
        if report.stage is BurstStage.ONGOING:
            self._summarise(report, now)
            return
        kind, key = report.key  # another address's when the log tracks too many
        level, verb, why = self._texts[kind]
        log.log(level, "%s TCP connection %s %s (%s); more from %s are summarised",
                verb, "to" if kind is Refusal.OUTBOUND else "from", peer, why, key)  # fmt: skip

    def _summarise(self, burst: BurstReport[tuple[BurstKind, str]], now: float) -> None:
        kind, host = burst.key
        level, verb, why = self._texts[kind]
        direction = "to" if kind is Refusal.OUTBOUND else "from"
        log.log(level, "%s %d more TCP connections %s %s in %.1f s (%s)%s", verb, burst.count,
                direction, host, now - burst.since, why,
                "" if burst.stage is BurstStage.ENDED else "; still going on")  # fmt: skip

    async def close(self) -> None:
        self._is_closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self._acceptor is not None:
            self._acceptor.close()
        now = asyncio.get_running_loop().time()
        for burst in self._bursts.ended(math.inf):  # every burst counts as over now
            self._summarise(burst, now)
        for task in [*self._connecting.values(), *self._accepting]:
            task.cancel()
        for connection in list(self._open):
            connection.close()


def _burst_texts(tcp: TcpLimits) -> dict[Refusal | CloseReason, tuple[int, str, str]]:
    """Per kind of event: log level, verb, and the limit at work (naming its setting)."""
    warning, info = logging.WARNING, logging.INFO
    inbound_share = tcp.max_connections - tcp.outbound_reserve
    return {
        Refusal.PER_ADDRESS: (warning, "refused", "its address holds "
            f"sip.tcp_max_connections_per_address = {tcp.max_per_address}"),
        Refusal.TOTAL_CAP: (warning, "refused", f"{inbound_share} connections open: "
            f"sip.tcp_max_connections = {tcp.max_connections} less "
            f"{tcp.outbound_reserve} kept for outbound ones"),
        Refusal.OUTBOUND: (warning, "did not open",
            f"sip.tcp_max_connections = {tcp.max_connections} connections open"),
        CloseReason.MESSAGE_TIMEOUT: (warning, "closed", "a message not complete within "
            f"sip.tcp_message_timeout = {tcp.message_timeout:g} s"),
        CloseReason.SILENT: (warning, "closed", "no message within "
            f"sip.tcp_message_timeout = {tcp.message_timeout:g} s of connecting"),
        CloseReason.PING_ONLY: (warning, "closed", "keep-alive pings but no message within "
            "sip.tcp_message_timeout of connecting or sip.tcp_idle_timeout of the last one"),
        CloseReason.IDLE: (info, "closed", "idle: no message for "
            f"sip.tcp_idle_timeout = {tcp.idle_timeout:g} s"),
    }  # fmt: skip
