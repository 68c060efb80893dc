"""The REGISTER handler: digest challenge, binding, refresh, unregister (gb28181.md §3).

`Registrar.handle` answers one REGISTER the general parser read, `handle_express` one the
express path read (`sip/express.py`). Both reduce it to `RegisterFacts`, and the decision
is made by `decide_facts()` from those, the source address and `now`, with no I/O, so it
is tested without sockets (and the two paths are tested to decide alike); the handlers
only read the clocks and publish the resulting presence events.

Policy, following what devices in the field need:
* no Authorization → 401 with a fresh nonce (a device that answers the 401 with another
  bare REGISTER simply gets another 401 — the "challenges twice" devices);
* wrong password, unknown device when enrolment is required, or a username that is not
  the device's ID → 403; an expired nonce → 401 `stale=true`;
* 200 carries `Contact` (echoed, some devices loop without it), `Expires`, the time-sync
  `Date` (configurable) and `X-GB-Ver` when the device sent one;
* the binding remembers the packet's source (NAT) and transport, not the Contact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.gb.ids import GbId, GbIdError
from farmwatch.sipserver.gb.registrations import PresenceEvent, Registration, RegistrationTable
from farmwatch.sipserver.settings import RegistrarSettings
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.auth import (
    AuthResult,
    DigestAuthenticator,
    DigestCredentials,
    DigestSettings,
)
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.express import ExpressRequest, Reply
from farmwatch.sipserver.sip.headers import NameAddress
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

log = logging.getLogger(__name__)

OUR_GB_VERSION = "3.0"


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
    ) -> None:
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

    def handle(self, incoming: IncomingRequest) -> SipResponse:
        """The endpoint's (synchronous) REGISTER handler."""
        outcome = self.decide(incoming.request, incoming.source, self._clock())
        if outcome.events:
            self._publish(outcome.events)
        return outcome.response

    def handle_express(self, request: ExpressRequest, source: Address) -> Reply:
        """The endpoint's express REGISTER handler: the same decision, without the model."""
        try:
            facts = RegisterFacts.of_express(request)
        except RemoteProtocolError as error:
            return self._bad_request(error, source)
        decision = self.decide_facts(facts, source, self._clock())
        if decision.events:
            self._publish(decision.events)
        return decision.reply

    def decide(self, request: SipRequest, source: Address, now: float) -> RegisterOutcome:
        try:
            facts = RegisterFacts.of_request(request)
        except RemoteProtocolError as error:
            return RegisterOutcome(self._response(request, self._bad_request(error, source)), [])
        decision = self.decide_facts(facts, source, now)
        return RegisterOutcome(self._response(request, decision.reply), decision.events)

    def decide_facts(self, facts: RegisterFacts, source: Address, now: float) -> RegisterDecision:
        try:
            return self._decide(facts, source, now)
        except RemoteProtocolError as error:
            return RegisterDecision(self._bad_request(error, source), [])

    def _bad_request(self, error: RemoteProtocolError, source: Address) -> Reply:
        log.warning("bad REGISTER from %s: %s", source, error.reason)
        return self._reply(400, f"Bad Request ({error.reason})", gb=False)

    def _decide(self, facts: RegisterFacts, source: Address, now: float) -> RegisterDecision:
        device_id = facts.device_id
        gb = facts.gb_version is not None
        if not self._valid_device_id(device_id):
            return self._refuse(400, "Bad Request (invalid device ID)", facts, source)
        expires = facts.expires
        if expires is None:
            return self._refuse(400, "Bad Request (missing Expires)", facts, source)
        if 0 < expires < self._settings.min_expires:
            reply = self._reply(
                423, gb=gb, extra=(("Min-Expires", str(self._settings.min_expires)),)
            )
            return RegisterDecision(reply, [])
        if facts.authorization is None:
            return RegisterDecision(self._challenge(now, stale=False, gb=gb), [])
        credentials = DigestCredentials.parse(facts.authorization)
        password = self._credentials.password_for(device_id)
        if password is None:
            return self._refuse(403, "Forbidden (device not enrolled)", facts, source)
        if credentials.username.strip() != device_id:
            return self._refuse(403, "Forbidden (username is not the device ID)", facts, source)
        result = self._auth.verify(credentials, method="REGISTER", password=password, now=now)
        if result.should_rechallenge:
            stale = result is AuthResult.STALE_NONCE
            return RegisterDecision(self._challenge(now, stale=stale, gb=gb), [])
        if not result.is_ok:
            reason = "wrong password" if result is AuthResult.BAD_RESPONSE else result.value
            return self._refuse(403, f"Forbidden ({reason})", facts, source)
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

    def _refuse(
        self, status: int, reason: str, facts: RegisterFacts, source: Address
    ) -> RegisterDecision:
        log.warning("REGISTER refused: %s (device %s from %s)", reason, facts.device_id, source)
        return RegisterDecision(self._reply(status, reason, gb=facts.gb_version is not None), [])

    def _challenge(self, now: float, *, stale: bool, gb: bool) -> Reply:
        challenge = self._auth.challenge(now, stale=stale)
        return self._reply(401, gb=gb, extra=(("WWW-Authenticate", str(challenge)),))

    def _ok(self, facts: RegisterFacts, granted: int) -> Reply:
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
        if style == "milliseconds":
            return now.strftime("%Y-%m-%dT%H:%M:%S") + f".{now.microsecond // 1000:03d}"
        second = int(now.timestamp())
        if second != self._date_second:  # strftime for every 200 costs more than the rest
            self._date_second, self._date_text = second, now.strftime("%Y-%m-%dT%H:%M:%S")
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
