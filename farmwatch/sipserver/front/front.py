"""A SIP front: a process sharing the platform's UDP port that answers registration storms.

One Python event loop answers some 3,000 registrations a second; a platform with several
cores runs `[sip] fronts` of these beside it. Each binds the SIP port with `SO_REUSEPORT`
beside the platform's socket, which steers every device to a front by its address
(`transport/reuseport.py`), so each device stays on one front. A front answers, on the
express path (`sip/express.py`), what a storm is made of:

* REGISTER, decided by a `Registrar` of its own: the same code and settings as the
  platform's, with the platform's nonce key (a nonce issued here verifies there and back)
  and a copy of the enrolled devices' passwords the platform keeps current. A 200 is
  reported to the platform (`Registered`), which keeps the registration table of record.
  An unregistration (Expires 0) goes to the platform, which may hold the device.
* a plain keepalive from a device registered through this front, from its registered
  address (`KeepaliveSeen`). The platform tells the front to `Forget` a device that went
  offline or registered elsewhere, so such a keepalive goes to the platform from then on.

Everything else (responses to the platform's requests, answers to its queries, INVITE
dialogs, requests the scan does not read, keepalives of devices it does not hold) goes
to the platform whole (`Forwarded`), which reads it as if its own socket had received it
and answers from the same port. A front that dies takes nothing with it: the kernel
spreads its devices over the sockets left, the platform's among them, and the platform,
which has them all in its table, serves them.

Past its capacity a front sheds new registrations with 503 and Retry-After, as the
platform does, from its own queue's estimated delay (`transport/queue_meter.py`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import datetime

from farmwatch.child_process import stdin_closed
from farmwatch.gc_tuning import tune_garbage_collector
from farmwatch.sipserver.device_passwords import DevicePasswords
from farmwatch.sipserver.front.channel import Channel
from farmwatch.sipserver.front.spec import FrontSpec
from farmwatch.sipserver.front.wire import (
    Forget,
    Forwarded,
    FrontCounts,
    KeepaliveSeen,
    PasswordChanged,
    Record,
    Registered,
)
from farmwatch.sipserver.gb.manscdp_parse import plain_keepalive
from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    PresenceEvent,
    PresenceSettings,
    RegistrationRefreshed,
    RegistrationTable,
    SenderStatus,
    SourceCheck,
)
from farmwatch.sipserver.gb.versions import OUR_GB_VERSION
from farmwatch.sipserver.log_budget import LogBudget
from farmwatch.sipserver.registrar import Registrar, requested_expires
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.express import ExpressRequest, Reply, express_response, scan_express
from farmwatch.sipserver.sip.express_shed import AdmissionDraw, ShedRequest, first_leg
from farmwatch.sipserver.sip.parser import ParserLimits
from farmwatch.sipserver.sip.request_builder import new_tag
from farmwatch.sipserver.sip.response_cache import ResponseCache
from farmwatch.sipserver.transport.queue_meter import ServiceClock, queued_bytes
from farmwatch.sipserver.transport.queue_probe import OverloadGate
from farmwatch.sipserver.transport.udp import bind_sip_socket

__all__ = ["SipFront"]

log = logging.getLogger(__name__)

_METHODS = frozenset({"REGISTER", "MESSAGE"})
_MANSCDP = "application/manscdp+xml"
TICK = 0.1
"""Seconds between the front's housekeeping turns (queue estimate, table, counts)."""
COUNTS_EVERY = 10
"""Housekeeping turns between two `FrontCounts` to the platform."""


class SipFront(asyncio.DatagramProtocol):
    def __init__(self, spec: FrontSpec, channel: socket.socket) -> None:
        self._spec = spec
        self._loop = asyncio.get_running_loop()
        sip, registrar = spec.sip, spec.registrar
        self._limits = ParserLimits(
            max_message_size=sip.max_message_size, max_headers=sip.max_headers
        )
        self._passwords = DevicePasswords(spec.default_password, spec.accept_unknown_devices)
        self._passwords.load(spec.enrolled)
        self._table = RegistrationTable(
            PresenceSettings(
                registrar.keepalive_interval,
                registrar.keepalive_timeout_count,
                SourceCheck(registrar.message_source_check),
            )
        )
        self._gate = OverloadGate(target=sip.overload_queue_delay)
        self._admission = AdmissionDraw(lambda: self._gate.share)
        self._service = ServiceClock()
        self.registrar = Registrar(
            registrar,
            realm=sip.domain,
            table=self._table,
            credentials=self._passwords,
            publish=self._registered,
            clock=self._loop.time,
            wall_clock=lambda: datetime.now(registrar.zone),
            secret=spec.secret,
            user_agent=sip.user_agent,
            overloaded=self._overloaded,
            retry_after=sip.overload_retry_after,
        )
        self._cache = ResponseCache(64 * sip.t1, 100_000)
        self._transport: asyncio.DatagramTransport | None = None
        self._socket: socket.socket | None = None
        self._channel_socket = channel
        self._channel: Channel | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._turns = 0
        self.keepalives = 0
        self.forwarded = 0
        self._tracebacks = LogBudget()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        spec = self._spec
        # The channel first: the group gives this socket devices the moment it is bound.
        self._channel = Channel(self._channel_socket, self._platform_said, name=spec.name)
        self._socket = bind_sip_socket(
            spec.host, spec.port, receive_buffer=spec.sip.udp_receive_buffer, reuse_port=True
        )
        await self._loop.create_datagram_endpoint(lambda: self, sock=self._socket)
        self._timer = self._loop.call_later(TICK, self._tick)
        log.info("SIP front %s answering on %s:%d (UDP)", spec.name, spec.host, spec.port)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._channel is not None:
            self._channel.close()
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    # -- datagrams ----------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        started = time.perf_counter()
        host, port = str(addr[0]), int(addr[1])
        try:
            if not self._answer(data, host, port):
                self.forwarded += 1
                self._send_record(Forwarded(host, port, data))
        except Exception:
            # Isolation boundary: one datagram. The platform reads it the general way. A
            # peer can trigger our bug with every datagram: tracebacks within a budget.
            left_out = self._tracebacks.take(self._loop.time())
            if left_out is not None:
                log.exception("SIP front %s failed on a datagram from %s:%d (%d more not "
                              "logged)", self._spec.name, host, port, left_out)  # fmt: skip
            self._send_record(Forwarded(host, port, data))
        self._service.add(time.perf_counter() - started, len(data))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP front UDP error: %s", exc)

    def _answer(self, data: bytes, host: str, port: int) -> bool:
        """Answer `data` here when it is ours to answer; False sends it to the platform."""
        if self._admission.is_shedding and first_leg(data):
            source = Address(host, port, Transport.UDP)
            return self._admission.refuse_early(
                data,
                lambda request: self._shed(request, source),
                lambda: self._answer_express(data, host, port),
            )
        return self._answer_express(data, host, port)

    def _shed(self, request: ShedRequest, source: Address) -> None:
        """503 to a new REGISTER shed here, from the fields its answer echoes."""
        reply = self.registrar.shed_reply(request.gb)
        self._sendto(express_response(request, source, reply, new_tag()), source.host, source.port)

    def _answer_express(self, data: bytes, host: str, port: int) -> bool:
        request = scan_express(data, _METHODS, self._limits)
        if request is None:
            return False
        source = Address(host, port, Transport.UDP)
        now = self._loop.time()
        key = request.transaction_key
        cached = self._cache.get(key, now)
        if cached is not None:
            self._sendto(cached, host, port)
            return True
        reply: Reply | None
        if request.method == "REGISTER":
            if _unregisters(request):
                return False  # the platform may hold this device: it unregisters it
            reply = self.registrar.handle_express(request, source)
        else:
            reply = self._keepalive(request.from_user, request.media_type, request.body,
                                    request.gb_version, source, now)  # fmt: skip
        if reply is None:
            return False
        response = express_response(request, source, reply, new_tag())
        self._cache.put(key, response, now)
        self._sendto(response, host, port)
        return True

    def _keepalive(
        self,
        device_id: str,
        media_type: str | None,
        body: bytes,
        gb_version: str | None,
        source: Address,
        now: float,
    ) -> Reply | None:
        """200 to a plain keepalive of a device registered here from `source`; None (to the
        platform) for any other MESSAGE, and for devices this front does not hold."""
        if media_type != _MANSCDP:
            return None
        keepalive = plain_keepalive(body, charset_override=None)
        if keepalive is None:
            return None
        status, _events = self._table.keepalive(device_id, source, now)
        if status is not SenderStatus.REGISTERED:
            return None
        self.keepalives += 1
        ok = keepalive.status.value if keepalive.status is not None else None
        self._send_record(KeepaliveSeen(device_id, source.host, source.port, ok, gb_version))
        if gb_version:
            return Reply(200, extra=(("X-GB-Ver", OUR_GB_VERSION),))
        return Reply(200)

    def _registered(self, events: list[PresenceEvent]) -> None:
        """The registrar's presence events: a 200 given, for the platform's table."""
        for event in events:
            if not isinstance(event, DeviceCameOnline | RegistrationRefreshed):
                continue
            registration = event.registration
            address = registration.address
            self._send_record(Registered(
                device_id=registration.device_id, host=address.host, port=address.port,
                contact=registration.contact,
                granted=round(registration.expires_at - registration.registered_at),
                call_id=registration.call_id, gb_version=registration.gb_version,
                user_agent=registration.user_agent,
            ))  # fmt: skip

    def _overloaded(self) -> bool:
        return not self._admission.admits()

    def _sendto(self, data: bytes, host: str, port: int) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, (host, port))

    # -- the platform's channel -----------------------------------------------------------

    def _send_record(self, record: Record) -> None:
        if self._channel is not None:
            self._channel.send(record)

    def _platform_said(self, records: list[Record]) -> None:
        for record in records:
            if isinstance(record, Forget):
                self._table.unregister(record.device_id)
            elif isinstance(record, PasswordChanged):
                if record.enrolled:
                    self._passwords.set(record.device_id, record.password)
                else:
                    self._passwords.remove(record.device_id)

    # -- housekeeping -------------------------------------------------------------------

    def _tick(self) -> None:
        self._timer = self._loop.call_later(TICK, self._tick)
        now = self._loop.time()
        if self._socket is not None:
            delay = self._service.delay(queued_bytes(self._socket))
            if self._gate.update(delay, sent_at=now - delay, now=now):
                log.warning("SIP front %s %s: its queue holds about %.0f ms of requests",
                            self._spec.name,
                            "sheds new registrations" if self._gate.is_overloaded
                            else "no longer sheds", delay * 1000)  # fmt: skip
        self._table.tick(now)  # its own view only: the platform's table is of record
        self.registrar.tick(now)
        self._cache.expire(now)
        self._turns += 1
        if self._turns % COUNTS_EVERY == 0:
            registrar = self.registrar
            self._send_record(FrontCounts(
                registered=registrar.accepted, challenged=registrar.challenged,
                shed=registrar.shed, keepalives=self.keepalives, forwarded=self.forwarded,
            ))  # fmt: skip


def _unregisters(request: ExpressRequest) -> bool:
    """An unregistration, or a REGISTER whose Contact cannot be read (the platform answers
    that one 400 with the reason)."""
    try:
        return requested_expires(request.expires, request.contact) == 0
    except RemoteProtocolError:
        return True


async def run_front(spec: FrontSpec) -> None:
    """Serve as `spec` says until standard input closes (the platform let us go or died)."""
    front = SipFront(spec, socket.socket(fileno=spec.channel_fd))
    await front.start()
    tune_garbage_collector()
    print("ready", flush=True)
    try:
        await stdin_closed()
    finally:
        front.close()
