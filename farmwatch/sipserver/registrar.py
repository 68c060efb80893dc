"""The REGISTER handler: digest challenge, binding, refresh, unregister (gb28181.md §3).

`Registrar.handle` answers one REGISTER. The decision is made by `decide()` from the
request, the source address and `now`, with no I/O, so it is tested without sockets;
the handler only reads the clocks and publishes the resulting presence events.

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
class RegisterOutcome:
    response: SipResponse
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

    def decide(self, request: SipRequest, source: Address, now: float) -> RegisterOutcome:
        try:
            return self._decide(request, source, now)
        except RemoteProtocolError as error:
            log.warning("bad REGISTER from %s: %s", source, error.reason)
            return RegisterOutcome(self._answer(request, 400, f"Bad Request ({error.reason})"), [])

    def _decide(self, request: SipRequest, source: Address, now: float) -> RegisterOutcome:
        device_id = (request.from_.uri.user or "").strip()
        if not self._valid_device_id(device_id):
            return self._refuse(request, 400, "Bad Request (invalid device ID)", device_id, source)
        expires = _requested_expires(request)
        if expires is None:
            return self._refuse(request, 400, "Bad Request (missing Expires)", device_id, source)
        if 0 < expires < self._settings.min_expires:
            response = self._answer(
                request, 423, extra=(("Min-Expires", str(self._settings.min_expires)),)
            )
            return RegisterOutcome(response, [])
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return RegisterOutcome(self._challenge(request, now, stale=False), [])
        credentials = DigestCredentials.parse(authorization)
        password = self._credentials.password_for(device_id)
        if password is None:
            return self._refuse(request, 403, "Forbidden (device not enrolled)", device_id, source)
        if credentials.username.strip() != device_id:
            return self._refuse(request, 403, "Forbidden (username is not the device ID)",
                                device_id, source)  # fmt: skip
        result = self._auth.verify(credentials, method="REGISTER", password=password, now=now)
        if result.should_rechallenge:
            return RegisterOutcome(
                self._challenge(request, now, stale=result is AuthResult.STALE_NONCE), []
            )
        if not result.is_ok:
            reason = "wrong password" if result is AuthResult.BAD_RESPONSE else result.value
            return self._refuse(request, 403, f"Forbidden ({reason})", device_id, source)
        if expires == 0:
            log.info("device %s unregistered from %s", device_id, source)
            return RegisterOutcome(self._ok(request, 0), self._table.unregister(device_id))
        granted = min(expires, self._settings.max_expires)
        registration = Registration(
            device_id=device_id,
            address=source,
            contact=request.headers.get("Contact") or "",
            expires_at=now + granted,
            registered_at=now,
            call_id=request.call_id,
            gb_version=_gb_version(request),
            user_agent=request.headers.get("User-Agent"),
        )
        events = self._table.register(registration, now)
        return RegisterOutcome(self._ok(request, granted), events)

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
        self, request: SipRequest, status: int, reason: str, device_id: str, source: Address
    ) -> RegisterOutcome:
        log.warning("REGISTER refused: %s (device %s from %s)", reason, device_id, source)
        return RegisterOutcome(self._answer(request, status, reason), [])

    def _challenge(self, request: SipRequest, now: float, *, stale: bool) -> SipResponse:
        challenge = self._auth.challenge(now, stale=stale)
        return self._answer(request, 401, extra=(("WWW-Authenticate", str(challenge)),))

    def _ok(self, request: SipRequest, granted: int) -> SipResponse:
        extra: list[tuple[str, str]] = []
        contact = request.headers.get("Contact")
        if contact is not None and granted > 0:
            extra.append(("Contact", _with_expires(contact, granted)))
        extra.append(("Expires", str(granted)))
        date = self._date_header()
        if date is not None:
            extra.append(("Date", date))
        return self._answer(request, 200, extra=tuple(extra))

    def _answer(
        self,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        *,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> SipResponse:
        headers = list(extra)
        if _gb_version(request) is not None:
            headers.append(("X-GB-Ver", OUR_GB_VERSION))
        headers.append(("User-Agent", self._user_agent))
        return build_response(request, status, reason, to_tag=new_tag(), extra=tuple(headers))

    def _date_header(self) -> str | None:
        style = self._settings.date_header
        if style == "off":
            return None
        now = self._wall_clock()
        text = now.strftime("%Y-%m-%dT%H:%M:%S")
        if style == "milliseconds":
            text += f".{now.microsecond // 1000:03d}"
        return text


def _requested_expires(request: SipRequest) -> int | None:
    """Expires header, else the Contact's `expires` parameter (RFC 3261 §10.2.1.1)."""
    header = request.headers.get("Expires")
    if header is not None:
        text = header.strip()
        return min(int(text), 2**31 - 1) if text.isdigit() else None
    contact = request.contact
    if contact is not None:
        value = contact.param("expires")
        if value is not None and value.strip().isdigit():
            return int(value.strip())
    return None


def _gb_version(request: SipRequest) -> str | None:
    value = request.headers.get("X-GB-Ver")
    return value.strip() if value is not None else None


def _with_expires(contact: str, granted: int) -> str:
    lowered = contact.lower()
    if ";expires=" in lowered:
        return contact
    return f"{contact};expires={granted}"
