"""SipEndpoint: transports, the transaction layer and one timer, with an awaitable API.

The shell of STYLE B4: every input (a message from a transport, a call from above,
the timer) is fed to the pure `TransactionLayer`; the effects it returns are carried
out; then the single `loop.call_at` is re-armed to the layer's earliest deadline.

Parts above register a handler per method (`add_handler("REGISTER", ...)`) and send
requests with `await request(...)`, which returns the final response or raises
`TransactionTimeout`. Each incoming request runs its handler in a task owned by the
endpoint; a failing handler gets its request answered 500, nothing else is affected.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from farmwatch.sipserver.errors import LocalProtocolError, RemoteProtocolError, TransactionTimeout
from farmwatch.sipserver.log_budget import LogBudget
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.express import ExpressRequest, Reply, express_response, scan_express
from farmwatch.sipserver.sip.express_shed import AdmissionDraw, ShedRequest, first_leg
from farmwatch.sipserver.sip.headers import Via
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.parser import MalformedMessage, ParserLimits
from farmwatch.sipserver.sip.request_builder import BRANCH_MAGIC_COOKIE, new_tag
from farmwatch.sipserver.sip.response_cache import ResponseCache
from farmwatch.sipserver.sip.timers import TimerTable
from farmwatch.sipserver.sip.transaction_effects import (
    AckReceived,
    Effect,
    RequestReceived,
    ResponseReceived,
    Send,
    StrayResponse,
    TransactionAborted,
    TransactionTerminated,
    TransactionTimedOut,
    new_branch,
)
from farmwatch.sipserver.sip.transaction_layer import TransactionLayer, TransactionStats
from farmwatch.sipserver.sip.uri import uri_host
from farmwatch.sipserver.transport.queue_probe import OverloadGate
from farmwatch.sipserver.transport.tcp import TcpTransport
from farmwatch.sipserver.transport.tcp_guard import TcpLimits, TcpStats
from farmwatch.sipserver.transport.udp import UdpTransport

log = logging.getLogger(__name__)

KNOWN_METHODS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "MESSAGE", "SUBSCRIBE", "NOTIFY",
     "INFO", "PRACK", "UPDATE", "REFER", "PUBLISH"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """A new request for the TU, and where it came from (for NAT-aware replies)."""

    request: SipRequest
    source: Address


RequestHandler = Callable[[IncomingRequest], Awaitable[SipResponse | None]]
SyncRequestHandler = Callable[[IncomingRequest], SipResponse | None]
AckHandler = Callable[[SipRequest, Address], None]
ProvisionalHandler = Callable[[SipResponse], None]
StrayResponseHandler = Callable[[SipResponse], None]
ExpressHandler = Callable[[ExpressRequest, Address], Reply | None]
ConnectionClosedHandler = Callable[[Address], None]


class PeerRouter(Protocol):
    """A part that owns some peers' requests ahead of the per-method handlers.

    The cascade's upper platforms send MESSAGE, INVITE, BYE, INFO, SUBSCRIBE and ACK that
    the device handlers must never see (an upper's BYE would be refused 481 as no device
    call of ours, its Catalog query taken for a device's answer). `claims` is asked for
    every request, also on the express path, so it must be a couple of lookups.
    """

    def claims(self, method: str, from_user: str, call_id: str, source: Address) -> bool: ...

    def handle(self, incoming: IncomingRequest) -> None:
        """A claimed request; answer through `SipEndpoint.respond` (now or later)."""
        ...

    def handle_ack(self, request: SipRequest, source: Address) -> None:
        """A claimed ACK (to a 2xx this router sent)."""
        ...


@dataclass(slots=True)
class _PendingRequest:
    future: asyncio.Future[SipResponse]
    method: str
    dest: Address
    on_provisional: ProvisionalHandler | None


class SipEndpoint:
    """One SIP endpoint listening on UDP and TCP on the same port."""

    def __init__(
        self,
        settings: SipSettings,
        *,
        max_pending_handlers: int = 20000,
        express_cache_entries: int = 100_000,
    ) -> None:
        self._settings = settings
        self._limits = ParserLimits(
            max_message_size=settings.max_message_size, max_headers=settings.max_headers
        )
        self._layer = TransactionLayer(
            timers=TimerTable(t1=settings.t1, t2=settings.t2, t4=settings.t4)
        )
        self._handlers: dict[str, RequestHandler] = {"OPTIONS": self._answer_options}
        self._sync_handlers: dict[str, SyncRequestHandler] = {}
        self._express_handlers: dict[str, ExpressHandler] = {}
        self._express_methods: frozenset[str] = frozenset()
        # Timer J: how long a UDP non-INVITE server transaction absorbs retransmissions.
        self._express_cache = ResponseCache(64 * settings.t1, express_cache_entries)
        self.express_handled = 0
        """Requests answered by the express path (server transactions of their own)."""
        self.express_retransmissions = 0
        """Requests the express path answered again from its cache."""
        self._ack_handler: AckHandler | None = None
        self._peer_router: PeerRouter | None = None
        self._stray_handler: StrayResponseHandler | None = None
        self._connection_closed_handler: ConnectionClosedHandler | None = None
        self._pending: dict[object, _PendingRequest] = {}
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._max_pending_handlers = max_pending_handlers
        self._udp: UdpTransport | None = None
        self._overload = OverloadGate(target=settings.overload_queue_delay)
        self._admission = AdmissionDraw(lambda: self._overload.share)
        self._register_shedder: Callable[[bool], Reply] | None = None
        self._tcp: TcpTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._local_hosts: dict[str, str] = {}
        # What peers get wrong is logged within a budget: malformed datagrams cost nothing.
        self._peer_errors = LogBudget()

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # With port 0 the kernel picks a free UDP port, which TCP may already use:
        # then try another one (a bounded number of times).
        attempts = 20 if self._settings.port == 0 else 1
        for attempt in range(attempts):
            try:
                port = await self._bind(self._settings.port)
                break
            except OSError:
                if attempt == attempts - 1:
                    raise
        log.info("SIP endpoint listening on %s:%d (UDP and TCP)", self._settings.host, port)

    async def _bind(self, wanted_port: int) -> int:
        udp = await UdpTransport.bind(
            self._settings.host,
            wanted_port,
            self,
            self._limits,
            receive_buffer=self._settings.udp_receive_buffer,
            fronts=self._settings.fronts,
        )
        port = udp.local_address[1]
        tcp = TcpTransport(self, self._limits, tcp_limits(self._settings))
        try:
            await tcp.listen(self._settings.host, port)
        except OSError:
            udp.close()
            await tcp.close()
            raise
        self._udp, self._tcp = udp, tcp
        udp.start_probe(self._overload)
        return port

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._handler_tasks):
            task.cancel()
        if self._handler_tasks:
            await asyncio.gather(*self._handler_tasks, return_exceptions=True)
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        if self._tcp is not None:
            await self._tcp.close()
        if self._udp is not None:
            self._udp.close()

    @property
    def port(self) -> int:
        assert self._udp is not None, "endpoint not started"
        return self._udp.local_address[1]

    @property
    def settings(self) -> SipSettings:
        return self._settings

    @property
    def transaction_stats(self) -> TransactionStats:
        """Transactions started and retransmissions of the general path (a counter)."""
        return self._layer.stats

    @property
    def udp_dropped(self) -> int:
        """Datagrams dropped as unparsable or failing in their handler (a counter)."""
        return self._udp.dropped if self._udp is not None else 0

    @property
    def is_overloaded(self) -> bool:
        """SIP datagrams wait longer than `[sip] overload_queue_delay` to be read."""
        return self._overload.is_overloaded

    @property
    def is_falling_behind(self) -> bool:
        """Shedding, or requests wait half of `[sip] overload_queue_delay` to be read:
        work that can wait (the first contacts' queries) should wait, before the gate has
        to shed registrations to make room for it."""
        return (
            self._overload.is_overloaded
            or self.queue_delay >= self._settings.overload_queue_delay / 2
        )

    def admits_new_work(self) -> bool:
        """Whether to take on one more new registration now (all of them when not
        overloaded; the gate's share of them, drawn at random, when overloaded)."""
        return self._admission.admits()

    @property
    def queue_delay(self) -> float:
        """How long the last probe waited in the UDP receive queue, seconds."""
        probe = self._udp.probe if self._udp is not None else None
        return probe.delay if probe is not None else 0.0

    @property
    def tcp_stats(self) -> TcpStats:
        """The TCP transport's connections now and its refusals and closes so far."""
        assert self._tcp is not None, "endpoint not started"
        return self._tcp.stats

    # -- API for the parts above ----------------------------------------------------------

    def add_handler(self, method: str, handler: RequestHandler) -> None:
        """Route new requests of `method` to `handler`; its returned response is sent."""
        self._handlers[method.upper()] = handler

    def add_sync_handler(self, method: str, handler: SyncRequestHandler) -> None:
        """Route `method` to a handler that decides at once, without awaiting anything.

        It runs inline on the receive path (no task per request): what registration
        storms and keepalives need. It may answer later through `respond` and return None.
        """
        self._sync_handlers[method.upper()] = handler
        self._handlers.pop(method.upper(), None)

    def add_express_handler(self, method: str, handler: ExpressHandler) -> None:
        """Offer plain requests of `method` (UDP, or framed TCP) to `handler` before parsing.

        The handler gets the `ExpressRequest` the express scan read and decides at once:
        a `Reply` is sent as the final response and kept for retransmissions (timer J);
        None, returned before it changed anything, sends the request the general way
        (to the handler of `add_handler`/`add_sync_handler`, which must exist too).
        """
        self._express_handlers[method.upper()] = handler
        self._express_methods = frozenset(self._express_handlers)

    def set_register_shedder(self, shedder: Callable[[bool], Reply]) -> None:
        """While the overload gate sheds, refuse plain new REGISTERs over UDP before the
        express scan (`express_shed.py`): `shedder(gb)` counts one and says how (503 and
        its Retry-After; `gb`: the request had X-GB-Ver)."""
        self._register_shedder = shedder

    def set_peer_router(self, router: PeerRouter) -> None:
        """Offer every request to `router` first; those it claims go only to it."""
        self._peer_router = router

    def set_ack_handler(self, handler: AckHandler) -> None:
        """Receive ACKs for 2xx responses to INVITE (they belong to the dialog, not a tx)."""
        self._ack_handler = handler

    def set_stray_response_handler(self, handler: StrayResponseHandler) -> None:
        """Receive 2xx responses to INVITE that no `request` awaits any more.

        They are retransmissions of a 2xx already returned, or a 2xx arriving after the
        caller stopped waiting; the TU must ACK every one (RFC 3261 §13.2.2.4).
        """
        self._stray_handler = handler

    def set_connection_closed_handler(self, handler: ConnectionClosedHandler) -> None:
        """Hear of every TCP connection that closes, by its remote address.

        Called on the event loop, synchronously from the transport; must not block.
        """
        self._connection_closed_handler = handler

    def local_host_for(self, dest: Address) -> str:
        """The address to put in Via/Contact/SDP for messages towards `dest`."""
        if self._settings.advertised_host:
            return self._settings.advertised_host
        if self._settings.host not in ("0.0.0.0", "::", ""):
            return self._settings.host
        if dest.transport is Transport.TCP and self._tcp is not None:
            connection = self._tcp.connection_to(dest)
            if connection is not None and connection.local_host:
                return connection.local_host
        return self._route_source_for(dest.host)

    async def request(
        self,
        request: SipRequest,
        dest: Address,
        *,
        on_provisional: ProvisionalHandler | None = None,
    ) -> SipResponse:
        """Send `request` in a new client transaction; return its final response.

        Raises `TransactionTimeout` when timer B/F fires; callers wanting a shorter
        bound wrap the call in `asyncio.timeout`. A top Via is added when missing.
        """
        loop = self._running_loop()
        request, via = self._with_via(request, dest)
        key, effects = self._layer.send_request(request, dest, loop.time(), top_via=via)
        future: asyncio.Future[SipResponse] = loop.create_future()
        self._pending[key] = _PendingRequest(future, request.method, dest, on_provisional)
        self._perform(effects)
        try:
            return await future
        finally:
            self._pending.pop(key, None)

    def respond(self, response: SipResponse) -> None:
        """Send a response through its server transaction (provisional or final)."""
        try:
            effects = self._layer.send_response(response, self._running_loop().time())
        except LocalProtocolError as error:
            # The transaction is gone (timed out, or the peer cancelled): nothing to send.
            log.info("response %d not sent (Call-ID %s): %s", response.status,
                     response.call_id, error.reason)  # fmt: skip
            return
        self._perform(effects)

    def send_stateless(self, message: SipRequest | SipResponse, dest: Address) -> None:
        """Send outside any transaction: ACK for a 2xx, a 400 to a malformed request."""
        if isinstance(message, SipRequest):
            message = self._with_via(message, dest)[0]
        self._send(message.to_bytes(), dest)

    # -- TransportListener ------------------------------------------------------------

    def message_received(self, message: SipRequest | SipResponse, source: Address) -> None:
        try:
            effects = self._layer.receive(message, source, self._running_loop().time())
        except RemoteProtocolError as error:
            # E.g. an RFC 2543 peer whose From cannot be read: no transaction can hold it.
            self._peer_error("refused a message from %s: %s", source, error.reason)
            if isinstance(message, SipRequest) and message.method != "ACK":
                self._refuse(message, error, source)
            return
        self._perform(effects)

    def malformed_received(self, error: MalformedMessage, source: Address) -> None:
        self._peer_error("malformed message from %s: %s", source, error.reason)
        if error.partial is not None:
            self._refuse(error.partial, error, source)

    def _refuse(self, request: SipRequest, error: RemoteProtocolError, source: Address) -> None:
        """Answer statelessly (no transaction could be made), e.g. 400 with the reason."""
        response = build_response(request, error.status_hint, _reason_for(error), to_tag=new_tag())
        # RFC 3581: back to the packet's source address, whatever the Via says.
        self._send(response.to_bytes(), source)

    def _peer_error(self, message: str, source: Address, reason: str) -> None:
        left_out = self._peer_errors.take(self._running_loop().time())
        if left_out is None:
            return
        if left_out:
            message += " (%d more errors of peers not logged)"
            log.warning(message, source, reason, left_out)
        else:
            log.warning(message, source, reason)

    def express_received(self, data: bytes, source: Address) -> bool:
        methods = self._express_methods
        if not methods:
            return False
        if (
            self._register_shedder is not None
            and self._admission.is_shedding
            and source.transport is Transport.UDP
            and first_leg(data)
        ):
            return self._admission.refuse_early(
                data,
                lambda request: self._shed(request, source),
                lambda: self._express(data, source, methods),
            )
        return self._express(data, source, methods)

    def _shed(self, request: ShedRequest, source: Address) -> None:
        """503 to a new REGISTER the gate sheds, from the fields its answer echoes."""
        assert self._register_shedder is not None
        reply = self._register_shedder(request.gb)
        self.express_handled += 1
        self._send(express_response(request, source, reply, new_tag()), source)

    def _express(self, data: bytes, source: Address, methods: frozenset[str]) -> bool:
        request = scan_express(data, methods, self._limits)
        if request is None:
            return False
        router = self._peer_router
        if router is not None and router.claims(
            request.method, request.from_user, request.call_id, source
        ):
            return False  # the general way, to the router
        now = self._running_loop().time()
        key = request.transaction_key
        cached = self._express_cache.get(key, now)
        if cached is not None:  # a retransmission: the same final response again
            self.express_retransmissions += 1
            self._send(cached, source)
            return True
        try:
            reply = self._express_handlers[request.method](request, source)
        except Exception:
            # Isolation boundary: one request. Log our bug, answer 500, keep serving.
            log.exception("express %s handler failed (Call-ID %s, peer %s)",
                          request.method, request.call_id, source)  # fmt: skip
            reply = Reply(500)
        if reply is None:
            return False
        self.express_handled += 1
        response = express_response(request, source, reply, new_tag())
        if source.transport is Transport.UDP:
            self._express_cache.put(key, response, now)
        self._send(response, source)
        if reply.then is not None:
            try:
                reply.then()
            except Exception:
                # Isolation boundary: one request's follow-up; the answer is already sent.
                log.exception("express %s follow-up failed (Call-ID %s, peer %s)",
                              request.method, request.call_id, source)  # fmt: skip
        return True

    def front_datagram(self, data: bytes, host: str, port: int) -> None:
        """A datagram a SIP front received on our shared UDP port and left to us: read it
        as if our socket had (its answer leaves from the same port)."""
        if self._udp is not None:
            self._udp.datagram_received(data, (host, port))

    def connection_closed(self, remote: Address) -> None:
        if self._connection_closed_handler is not None:
            self._connection_closed_handler(remote)

    # -- effects, timer -----------------------------------------------------------------

    def _perform(self, effects: list[Effect]) -> None:
        for effect in effects:
            try:
                self._perform_one(effect)
            except Exception:
                # Isolation boundary: one effect (a TU callback failing). The rest of the
                # batch is still carried out and the timer re-armed.
                log.exception("carrying out %s failed", type(effect).__name__)
        self._arm_timer()

    def _perform_one(self, effect: Effect) -> None:
        match effect:
            case Send(message=message, dest=dest):
                self._send(message.to_bytes(), dest)
            case RequestReceived(request=request, source=source):
                self._dispatch(IncomingRequest(request, source))
            case ResponseReceived(response=response, key=key):
                self._deliver_response(key, response)
            case TransactionTimedOut(key=key) | TransactionAborted(key=key):
                pending = self._pending.get(key)
                if pending is not None and not pending.future.done():
                    pending.future.set_exception(
                        TransactionTimeout(pending.method, str(pending.dest))
                    )
                if isinstance(effect, TransactionAborted):
                    log.error("transaction %s (Call-ID %s) failed and was dropped",
                              key, effect.call_id, exc_info=effect.error)  # fmt: skip
            case AckReceived(request=request, source=source):
                if self._router_claims(request, source):
                    assert self._peer_router is not None
                    self._peer_router.handle_ack(request, source)
                elif self._ack_handler is not None:
                    self._ack_handler(request, source)
            case StrayResponse(response=response):
                self._stray(response)
            case TransactionTerminated():
                pass
            case _:
                log.debug("unhandled transaction effect %r", effect)

    def _deliver_response(self, key: object, response: SipResponse) -> None:
        pending = self._pending.get(key)
        if pending is None or pending.future.done():
            if response.is_success:
                self._stray(response)
            return
        if response.status < 200:
            if pending.on_provisional is not None:
                pending.on_provisional(response)
            return
        pending.future.set_result(response)

    def _stray(self, response: SipResponse) -> None:
        """A response nobody awaits: 2xx to INVITE go to the stray handler (to be ACKed)."""
        is_invite_success = response.is_success and response.cseq.method == "INVITE"
        if is_invite_success and self._stray_handler is not None:
            self._stray_handler(response)
        else:
            log.debug("stray %d response, Call-ID %s", response.status, response.call_id)

    def _arm_timer(self) -> None:
        deadline = self._layer.next_deadline()
        if deadline is None or (self._timer_at is not None and self._timer_at <= deadline):
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = self._running_loop()
        self._timer_at = deadline
        self._timer = loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._perform(self._layer.tick(self._running_loop().time()))

    # -- requests for the TU ----------------------------------------------------------------

    def _router_claims(self, request: SipRequest, source: Address) -> bool:
        router = self._peer_router
        if router is None:
            return False
        try:
            from_user = request.from_.uri.user or ""
        except RemoteProtocolError:
            return False  # the handlers answer it (400) as they do today
        return router.claims(request.method, from_user, request.call_id, source)

    def _dispatch(self, incoming: IncomingRequest) -> None:
        method = incoming.request.method
        if self._router_claims(incoming.request, incoming.source):
            assert self._peer_router is not None
            self._peer_router.handle(incoming)
            return
        sync_handler = self._sync_handlers.get(method)
        if sync_handler is not None:
            self._run_sync_handler(sync_handler, incoming)
            return
        handler = self._handlers.get(method)
        if handler is None:
            status = 405 if method in KNOWN_METHODS else 501
            self.respond(
                build_response(incoming.request, status, to_tag=new_tag(), extra=self._allow())
            )
            return
        if len(self._handler_tasks) >= self._max_pending_handlers:
            self.respond(
                build_response(incoming.request, 503, to_tag=new_tag(), extra=(
                    ("Retry-After", "5"),
                ))
            )  # fmt: skip
            return
        task = self._running_loop().create_task(self._run_handler(handler, incoming))
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_tasks.discard)

    def _run_sync_handler(self, handler: SyncRequestHandler, incoming: IncomingRequest) -> None:
        try:
            response = handler(incoming)
        except RemoteProtocolError as error:
            response = self._handler_refused(incoming, error)
        except Exception:
            response = _handler_failed(incoming)
        if response is not None:
            self.respond(response)

    async def _run_handler(self, handler: RequestHandler, incoming: IncomingRequest) -> None:
        try:
            response = await handler(incoming)
        except asyncio.CancelledError:
            raise
        except RemoteProtocolError as error:
            response = self._handler_refused(incoming, error)
        except Exception:
            response = _handler_failed(incoming)
        if response is not None:
            self.respond(response)

    def _handler_refused(
        self, incoming: IncomingRequest, error: RemoteProtocolError
    ) -> SipResponse:
        """The handler found the peer's request unreadable (a From URI, say): the peer's
        error, answered with its status (400), not ours to log a traceback for."""
        self._peer_error("refused a request from %s: %s", incoming.source, error.reason)
        return build_response(
            incoming.request, error.status_hint, _reason_for(error), to_tag=new_tag()
        )

    async def _answer_options(self, incoming: IncomingRequest) -> SipResponse:
        return build_response(
            incoming.request,
            200,
            to_tag=new_tag(),
            extra=(
                *self._allow(),
                ("Accept", "application/sdp, Application/MANSCDP+xml"),
                ("User-Agent", self._settings.user_agent),
            ),
        )

    def _allow(self) -> tuple[tuple[str, str], ...]:
        methods = sorted({"ACK", "CANCEL", "OPTIONS", *self._handlers, *self._sync_handlers})
        return (("Allow", ", ".join(methods)),)

    # -- sending ------------------------------------------------------------------------

    def _send(self, data: bytes, dest: Address) -> None:
        if dest.transport is Transport.TCP:
            assert self._tcp is not None
            self._tcp.send(data, dest)
        else:
            assert self._udp is not None
            self._udp.send(data, dest)

    def _with_via(self, request: SipRequest, dest: Address) -> tuple[SipRequest, Via | None]:
        """`request` with a top Via of ours, and that Via (None: it had one already)."""
        if request.headers.get("Via") is not None:
            return request, None
        via = Via(
            transport=dest.transport.value,
            host=uri_host(self.local_host_for(dest)),
            port=self.port,
            params=(("rport", None), ("branch", new_branch())),
        )
        return request.with_headers(request.headers.prepend("Via", str(via))), via

    def _route_source_for(self, host: str) -> str:
        cached = self._local_hosts.get(host)
        if cached is not None:
            return cached
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((host, 9))  # no packet is sent: this only asks the routing table
                local = str(probe.getsockname()[0])
        except OSError:
            local = "127.0.0.1"
        if len(self._local_hosts) < 4096:
            self._local_hosts[host] = local
        return local

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "endpoint not started"
        return self._loop


def tcp_limits(settings: SipSettings) -> TcpLimits:
    return TcpLimits(
        max_connections=settings.tcp_max_connections,
        max_per_address=settings.tcp_max_connections_per_address,
        message_timeout=settings.tcp_message_timeout,
        idle_timeout=settings.tcp_idle_timeout,
    )


def _handler_failed(incoming: IncomingRequest) -> SipResponse:
    """Isolation boundary: one request. Log our bug, answer 500, keep serving the others."""
    log.exception(
        "handler for %s failed (Call-ID %s, peer %s)",
        incoming.request.method,
        incoming.request.call_id,
        incoming.source,
    )
    return build_response(incoming.request, 500, to_tag=new_tag())


def _reason_for(error: RemoteProtocolError) -> str:
    base = {400: "Bad Request", 413: "Request Entity Too Large", 505: "Version Not Supported"}
    phrase = base.get(error.status_hint, "Bad Request")
    # The reason may quote the peer's bytes: keep it printable so it cannot add a header.
    detail = "".join(c if c.isprintable() else "?" for c in error.reason)
    return f"{phrase} ({detail})"[:200]


__all__ = ["BRANCH_MAGIC_COOKIE", "IncomingRequest", "SipEndpoint"]
