"""The REGISTER handler: digest challenge, binding, refresh, unregister (gb28181.md §3).

`Registrar.handle` answers one REGISTER the general parser read, `handle_express` one the
express path read (`sip/express.py`). Both reduce it to `RegisterFacts`, and the decision
is made by `decide_facts()` from those, the source address and `now`, with no I/O, so it
is tested without sockets (and the two paths are tested to decide alike); the handlers
only read the clocks and publish the resulting presence events.

Policy, following what devices in the field need:
* no Authorization → 401 with a fresh nonce (a device that answers the 401 with another
  bare REGISTER simply gets another 401 — the "challenges twice" devices);
* the nonce is bound to the request's source (transport, host, port) and Call-ID
  (`[registrar] nonce_binding`) and is consumed on use, so a captured answer is worth
  nothing elsewhere (an unknown nonce → 401) nor again (→ 401 `stale=true`, which a device
  that re-sends its last answer on refresh simply answers);
* wrong password, unknown device when enrolment is required, or a username that is not
  the device's ID → 403, counted by the `AuthThrottle` per device ID and per source
  host: past the limits, attempts are refused with 403 before any digest is computed,
  except for the device's own host; an expired nonce → 401 `stale=true`;
* refusals are logged once per burst per source host (`BurstLog`), a device looping on
  403 does not flood the log (gb28181.md §3.1);
* 200 carries `Contact` (echoed, some devices loop without it), `Expires`, the time-sync
  `Date` (configurable) and `X-GB-Ver` when the device sent one;
* the binding remembers the packet's source (NAT) and transport, not the Contact.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.gb.ids import GbId, GbIdError
from farmwatch.sipserver.gb.registrations import PresenceEvent, Registration, RegistrationTable
from farmwatch.sipserver.gb.versions import OUR_GB_VERSION
from farmwatch.sipserver.settings import RegistrarSettings
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.auth import (
    AuthResult,
    DigestAuthenticator,
    DigestCredentials,
    DigestSettings,
)
from farmwatch.sipserver.sip.auth_throttle import (
    AuthThrottle,
    Block,
    ThrottleScope,
    ThrottleSettings,
    ThrottleStats,
)
from farmwatch.sipserver.sip.bursts import BurstLog, BurstReport, BurstStage
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.express import ExpressRequest, Reply
from farmwatch.sipserver.sip.headers import NameAddress
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

log = logging.getLogger(__name__)


class CredentialStore(Protocol):
    """Which devices may register and with which password (the platform answers)."""

    def password_for(self, device_id: str) -> str | None:
        """The device's password; None when the device may not register at all."""
        ...


@dataclass(frozen=True, slots=True)
class RegisterFacts:
    """What the registrar reads from a REGISTER, whichever path parsed it."""

    device_id: str
    expires: int | None
    authorization: str | None
    contact: str | None
    call_id: str
    gb_version: str | None
    user_agent: str | None

    @classmethod
    def of_request(cls, request: SipRequest) -> RegisterFacts:
        headers = request.headers
        contact = headers.get("Contact")
        return cls(
            device_id=(request.from_.uri.user or "").strip(),
            expires=requested_expires(headers.get("Expires"), contact),
            authorization=headers.get("Authorization"),
            contact=contact,
            call_id=request.call_id,
            gb_version=_stripped(headers.get("X-GB-Ver")),
            user_agent=headers.get("User-Agent"),
        )

    @classmethod
    def of_express(cls, request: ExpressRequest) -> RegisterFacts:
        return cls(
            device_id=request.from_user,
            expires=requested_expires(request.expires, request.contact),
            authorization=request.authorization,
            contact=request.contact,
            call_id=request.call_id,
            gb_version=_stripped(request.gb_version),
            user_agent=request.user_agent,
        )


@dataclass(frozen=True, slots=True)
class RegisterOutcome:
    response: SipResponse
    events: list[PresenceEvent]


@dataclass(frozen=True, slots=True)
class RegisterDecision:
    reply: Reply
    events: list[PresenceEvent]


class Registrar:
    """Answers REGISTER requests and keeps the registration table."""

    def __init__(
        self,
        settings: RegistrarSettings,
        *,
        realm: str,
        table: RegistrationTable,
        credentials: CredentialStore,
        publish: Callable[[list[PresenceEvent]], None],
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime],
        secret: bytes,
        user_agent: str = "farmwatch",
        wake: Callable[[], None] = lambda: None,
        overloaded: Callable[[], bool] = lambda: False,
        retry_after: int = 20,
    ) -> None:
        """`wake` is called when `next_deadline` may have moved earlier (a burst began);
        while `overloaded()`, new registrations are answered 503 with a Retry-After drawn
        from half to the whole of `retry_after` seconds."""
        self._settings = settings
        self._table = table
        self._credentials = credentials
        self._publish = publish
        self._clock = clock
        self._wall_clock = wall_clock
        self._user_agent = user_agent
        self._date_second = -1
        self._date_text = ""
        self._auth = DigestAuthenticator(
            DigestSettings(
                realm=realm,
                nonce_lifetime=settings.nonce_lifetime,
                offer_qop=settings.offer_qop,
            ),
            secret=secret,
        )
        self._throttle = AuthThrottle(
            ThrottleSettings(
                max_failures_per_device=settings.auth_failures_per_device,
                max_failures_per_host=settings.auth_failures_per_host,
                window=settings.auth_failure_window,
                block=settings.auth_block,
                max_block=settings.auth_max_block,
            )
        )
        self._refusals: BurstLog[str] = BurstLog(
            quiet_after=settings.auth_failure_window, overflow=lambda _host: "other addresses"
        )
        self._wake = wake
        self._overloaded = overloaded
        self._retry_after = retry_after
        self._jitter = random.Random()
        self.shed = 0
        """REGISTERs answered 503 because the platform was overloaded."""
        self.accepted = 0
        """REGISTERs answered 200 (registrations, refreshes and unregistrations)."""
        self.challenged = 0
        """REGISTERs answered 401 with a fresh challenge."""

    @property
    def auth_stats(self) -> ThrottleStats:
        """Failed authentications, attempts refused while blocked, blocks started."""
        return self._throttle.stats

    def next_deadline(self) -> float | None:
        """When a burst of refusals may have ended (its summary is logged by `tick`)."""
        return self._refusals.next_deadline()

    def tick(self, now: float) -> None:
        for report in self._refusals.ended(now):
            self._log_burst(report)

    def handle(self, incoming: IncomingRequest) -> SipResponse:
        """The endpoint's (synchronous) REGISTER handler."""
        outcome = self.decide(incoming.request, incoming.source, self._clock())
        if outcome.events:
            self._publish(outcome.events)
        return outcome.response

    def handle_express(self, request: ExpressRequest, source: Address) -> Reply:
        """The endpoint's express REGISTER handler: the same decision, without the model."""
        now = self._clock()
        try:
            facts = RegisterFacts.of_express(request)
        except RemoteProtocolError as error:
            return self._bad_request(error, source, now)
        decision = self.decide_facts(facts, source, now)
        if decision.events:
            self._publish(decision.events)
        return decision.reply

    def decide(self, request: SipRequest, source: Address, now: float) -> RegisterOutcome:
        try:
            facts = RegisterFacts.of_request(request)
        except RemoteProtocolError as error:
            reply = self._bad_request(error, source, now)
            return RegisterOutcome(self._response(request, reply), [])
        decision = self.decide_facts(facts, source, now)
        return RegisterOutcome(self._response(request, decision.reply), decision.events)

    def decide_facts(self, facts: RegisterFacts, source: Address, now: float) -> RegisterDecision:
        try:
            return self._decide(facts, source, now)
        except RemoteProtocolError as error:
            return RegisterDecision(self._bad_request(error, source, now), [])

    def _bad_request(self, error: RemoteProtocolError, source: Address, now: float) -> Reply:
        reason = f"Bad Request ({error.reason})"
        self._log_refusal(reason, None, source, now)
        return self._reply(400, reason, gb=False)

    def _decide(self, facts: RegisterFacts, source: Address, now: float) -> RegisterDecision:
        device_id = facts.device_id
        gb = facts.gb_version is not None
        if not self._valid_device_id(device_id):
            return self._refuse(400, "Bad Request (invalid device ID)", facts, source, now)
        block = self._throttle.block_for(device_id, source.host, now)
        if block is not None and not self._is_trusted(device_id, source):
            self._throttle.refused()
            return self._refuse(403, "Forbidden (too many failed attempts)", facts, source, now)
        expires = facts.expires
        if expires is None:
            return self._refuse(400, "Bad Request (missing Expires)", facts, source, now)
        if 0 < expires < self._settings.min_expires:
            reply = self._reply(
                423, gb=gb, extra=(("Min-Expires", str(self._settings.min_expires)),)
            )
            return RegisterDecision(reply, [])
        binding = self._nonce_binding(facts, source)
        if facts.authorization is None:
            if self._overloaded():
                # A new registration, or a refresh whose binding stays valid meanwhile: one
                # the platform cannot finish before the device's T1 would only come back as
                # retransmissions. Those under way (with Authorization) go on.
                return RegisterDecision(self.shed_reply(gb), [])
            return RegisterDecision(self._challenge(now, binding, stale=False, gb=gb), [])
        credentials = DigestCredentials.parse(facts.authorization)
        password = self._credentials.password_for(device_id)
        if password is None:
            return self._failed("device not enrolled", facts, source, now)
        if credentials.username.strip() != device_id:
            return self._failed("username is not the device ID", facts, source, now)
        result = self._auth.verify(
            credentials, method="REGISTER", password=password, now=now, binding=binding
        )
        if result.should_rechallenge:
            # Stale or spent: the password was right, the device need not doubt it.
            stale = result in (AuthResult.STALE_NONCE, AuthResult.REPLAY)
            return RegisterDecision(self._challenge(now, binding, stale=stale, gb=gb), [])
        if not result.is_ok:
            reason = "wrong password" if result is AuthResult.BAD_RESPONSE else result.value
            return self._failed(reason, facts, source, now)
        self._throttle.succeeded(device_id, source.host)
        if expires == 0:
            log.info("device %s unregistered from %s", device_id, source)
            return RegisterDecision(self._ok(facts, 0), self._table.unregister(device_id))
        granted = min(expires, self._settings.max_expires)
        registration = Registration(
            device_id=device_id,
            address=source,
            contact=facts.contact or "",
            expires_at=now + granted,
            registered_at=now,
            call_id=facts.call_id,
            gb_version=facts.gb_version,
            user_agent=facts.user_agent,
        )
        events = self._table.register(registration, now)
        return RegisterDecision(self._ok(facts, granted), events)

    def _valid_device_id(self, device_id: str) -> bool:
        if not device_id:
            return False
        if not self._settings.strict_device_ids:
            return device_id.isascii() and device_id.isalnum() and len(device_id) <= 20
        try:
            GbId.parse(device_id, strict=True)
        except GbIdError:
            return False
        return True

    def _nonce_binding(self, facts: RegisterFacts, source: Address) -> str:
        """What a nonce is good for: answered from there, in that registration (Call-ID)."""
        if self._settings.nonce_binding == "host":
            return source.host
        return f"{source.transport.value} {source.host} {source.port} {facts.call_id}"

    def _is_trusted(self, device_id: str, source: Address) -> bool:
        registration = self._table.get(device_id)
        registered_host = registration.address.host if registration is not None else None
        return self._throttle.is_trusted(device_id, source.host, registered_host)

    def _failed(
        self, reason: str, facts: RegisterFacts, source: Address, now: float
    ) -> RegisterDecision:
        """A failed authentication: counted by the throttle, then refused with 403."""
        for block in self._throttle.failed(facts.device_id, source.host, now):
            self._log_block(block, source)
        return self._refuse(403, f"Forbidden ({reason})", facts, source, now)

    def _refuse(
        self, status: int, reason: str, facts: RegisterFacts, source: Address, now: float
    ) -> RegisterDecision:
        self._log_refusal(reason, facts.device_id, source, now)
        return RegisterDecision(self._reply(status, reason, gb=facts.gb_version is not None), [])

    def _log_refusal(self, reason: str, device_id: str | None, source: Address, now: float) -> None:
        report = self._refusals.record(source.host, now)
        if report is None:
            return
        if report.stage is BurstStage.STARTED:
            log.warning("REGISTER refused: %s (device %s from %s); further refusals of "
                        "REGISTERs from %s are summarised", reason, device_id, source,
                        source.host)  # fmt: skip
            self._wake()
        else:
            self._log_burst(report)

    @staticmethod
    def _log_burst(report: BurstReport[str]) -> None:
        over = "; the burst is over" if report.stage is BurstStage.ENDED else ""
        log.warning("%d more REGISTERs from %s refused (%d in this burst%s)",
                    report.count, report.key, report.total, over)  # fmt: skip

    @staticmethod
    def _log_block(block: Block, source: Address) -> None:
        if block.scope is ThrottleScope.DEVICE:
            log.warning("%d failed authentications for device %s within the window (the "
                        "latest from %s): refusing its REGISTERs from hosts other than its own "
                        "for %.0f s", block.failures, block.key, source,
                        block.duration)  # fmt: skip
        else:
            log.warning("%d failed authentications from %s within the window: refusing its "
                        "REGISTERs for %.0f s (except devices registered from there)",
                        block.failures, block.key, block.duration)  # fmt: skip

    def shed_reply(self, gb: bool) -> Reply:
        """A new registration refused for overload (counted): 503 with a Retry-After.

        `gb`: the REGISTER carried X-GB-Ver (the answer then does too).
        """
        self.shed += 1
        # Jitter spreads the devices' retries; it needs no secrecy (a `secrets` draw is a
        # system call, made for every shed request of an overload).
        wait = self._retry_after // 2 + self._jitter.randrange(
            self._retry_after - self._retry_after // 2 + 1
        )
        return self._reply(503, gb=gb, extra=(("Retry-After", str(max(1, wait))),))

    def _challenge(self, now: float, binding: str, *, stale: bool, gb: bool) -> Reply:
        self.challenged += 1
        challenge = self._auth.challenge(now, stale=stale, binding=binding)
        return self._reply(401, gb=gb, extra=(("WWW-Authenticate", str(challenge)),))

    def _ok(self, facts: RegisterFacts, granted: int) -> Reply:
        self.accepted += 1
        extra: list[tuple[str, str]] = []
        if facts.contact is not None and granted > 0:
            extra.append(("Contact", _with_expires(facts.contact, granted)))
        extra.append(("Expires", str(granted)))
        date = self._date_header()
        if date is not None:
            extra.append(("Date", date))
        return self._reply(200, gb=facts.gb_version is not None, extra=tuple(extra))

    def _reply(
        self,
        status: int,
        reason: str | None = None,
        *,
        gb: bool,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Reply:
        if gb:
            extra = (*extra, ("X-GB-Ver", OUR_GB_VERSION))
        return Reply(status, reason, (*extra, ("User-Agent", self._user_agent)))

    @staticmethod
    def _response(request: SipRequest, reply: Reply) -> SipResponse:
        return build_response(
            request, reply.status, reply.reason, to_tag=new_tag(), extra=reply.extra
        )

    def _date_header(self) -> str | None:
        style = self._settings.date_header
        if style == "off":
            return None
        now = self._wall_clock()
        second = int(now.timestamp())
        if second != self._date_second:  # strftime for every 200 costs more than the rest
            self._date_second, self._date_text = second, now.strftime("%Y-%m-%dT%H:%M:%S")
        if style == "milliseconds":
            return f"{self._date_text}.{now.microsecond // 1000:03d}"
        return self._date_text


def requested_expires(expires: str | None, contact: str | None) -> int | None:
    """Expires header, else the Contact's `expires` parameter (RFC 3261 §10.2.1.1)."""
    if expires is not None:
        text = expires.strip()
        return min(int(text), 2**31 - 1) if _is_number(text) else None
    if contact is not None and contact.strip() != "*":
        value = NameAddress.parse(contact).param("expires")
        if value is not None and _is_number(value.strip()):
            return min(int(value.strip()), 2**31 - 1)
    return None


def _is_number(text: str) -> bool:
    # str.isdigit() is also true of digits int() refuses, such as "²".
    return text.isascii() and text.isdigit()


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None


def _with_expires(contact: str, granted: int) -> str:
    lowered = contact.lower()
    if ";expires=" in lowered:
        return contact
    return f"{contact};expires={granted}"
