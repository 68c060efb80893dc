"""Registrar decisions on real REGISTER bytes, in virtual time (gb28181.md §3, §11.1)."""

from __future__ import annotations

from datetime import datetime

from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    DeviceWentOffline,
    OfflineReason,
    RegistrationTable,
)
from farmwatch.sipserver.registrar import Registrar
from farmwatch.sipserver.settings import RegistrarSettings
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.auth import DigestChallenge, build_credentials
from farmwatch.sipserver.sip.express import Reply, scan_express
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, reason_phrase
from farmwatch.sipserver.sip.parser import parse_message

DEVICE = "34020000001180000001"
SOURCE = Address("10.1.2.3", 40000, Transport.UDP)
REGISTER = (
    "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK{branch}\r\n"
    "From: <sip:{device}@3402000000>;tag=51297461\r\n"
    "To: <sip:{device}@3402000000>\r\n"
    "Call-ID: 6a2d97c40e1b4d7e@192.168.20.64\r\n"
    "CSeq: {cseq} REGISTER\r\n"
    "Contact: <sip:{device}@192.168.20.64:5060>\r\n"
    "Max-Forwards: 70\r\n"
    "{extra}"
    "Expires: {expires}\r\n"
    "Content-Length: 0\r\n\r\n"
)


class Passwords:
    def __init__(self, known: dict[str, str], default: str | None) -> None:
        self.known = known
        self.default = default

    def password_for(self, device_id: str) -> str | None:
        return self.known.get(device_id, self.default)


def _registrar(
    passwords: Passwords | None = None, **settings: object
) -> tuple[Registrar, RegistrationTable, list[object]]:
    table = RegistrationTable()
    published: list[object] = []
    registrar = Registrar(
        RegistrarSettings(**settings),  # type: ignore[arg-type]
        realm="3402000000",
        table=table,
        credentials=passwords or Passwords({}, "12345678"),
        publish=published.extend,
        clock=lambda: 0.0,
        wall_clock=lambda: datetime(2024, 3, 15, 10, 21, 7, 512000),
        secret=b"k" * 32,
    )
    return registrar, table, published


def _request(
    cseq: int = 1, expires: int = 3600, extra: str = "", device: str = DEVICE
) -> SipRequest:
    text = REGISTER.format(branch=cseq, cseq=cseq, expires=expires, extra=extra, device=device)
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


def _answer(
    challenge_response: SipResponse, password: str, cseq: int, nc: int = 1, **kw: object
) -> SipRequest:
    header = challenge_response.headers.get("WWW-Authenticate")
    assert header is not None
    credentials = build_credentials(
        DigestChallenge.parse(header),
        method="REGISTER",
        uri="sip:34020000002000000001@3402000000",
        username=DEVICE,
        password=password,
        cnonce="0a4f113b",
        nc=nc,
    )
    return _request(cseq, extra=f"Authorization: {credentials}\r\n", **kw)  # type: ignore[arg-type]


def test_challenge_then_register_with_time_sync_and_contact() -> None:
    registrar, table, published = _registrar()
    first = registrar.decide(_request(1), SOURCE, now=0)
    assert first.response.status == 401
    assert first.events == []
    second = registrar.decide(_answer(first.response, "12345678", 2), SOURCE, now=1)
    response = second.response
    assert response.status == 200
    assert response.headers.get("Date") == "2024-03-15T10:21:07.512"
    assert response.headers.get("Expires") == "3600"
    assert response.headers.get("Contact") == f"<sip:{DEVICE}@192.168.20.64:5060>;expires=3600"
    assert response.to.tag
    assert [type(e) for e in second.events] == [DeviceCameOnline]
    registration = table.get(DEVICE)
    assert registration is not None and registration.address == SOURCE  # NAT: the source


def test_wrong_password_is_forbidden() -> None:
    registrar, table, _ = _registrar()
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    outcome = registrar.decide(_answer(challenge, "wrong", 2), SOURCE, now=1)
    assert outcome.response.status == 403
    assert "wrong password" in outcome.response.reason
    assert table.get(DEVICE) is None


def test_device_that_challenges_twice_still_registers() -> None:
    registrar, _, _ = _registrar()
    assert registrar.decide(_request(1), SOURCE, now=0).response.status == 401
    second = registrar.decide(_request(2), SOURCE, now=0.1).response
    assert second.status == 401
    third = registrar.decide(_answer(second, "12345678", 3), SOURCE, now=0.2)
    assert third.response.status == 200


def test_unknown_device_refused_when_enrolment_is_required() -> None:
    registrar, _, _ = _registrar(Passwords({"34020000001180000002": "pw"}, default=None))
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    outcome = registrar.decide(_answer(challenge, "12345678", 2), SOURCE, now=1)
    assert outcome.response.status == 403


def test_per_device_password_overrides_the_default() -> None:
    registrar, _, _ = _registrar(Passwords({DEVICE: "secret-1"}, default="12345678"))
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    assert registrar.decide(_answer(challenge, "12345678", 2), SOURCE, now=1).response.status == 403
    assert registrar.decide(_answer(challenge, "secret-1", 3), SOURCE, now=1).response.status == 200


def test_unregister_with_expires_zero() -> None:
    registrar, table, _ = _registrar()
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    registrar.decide(_answer(challenge, "12345678", 2), SOURCE, now=1)
    replayed = registrar.decide(_answer(challenge, "12345678", 3, expires=0), SOURCE, now=2)
    assert replayed.response.status == 401  # same nonce and nc again: a replay
    outcome = registrar.decide(_answer(challenge, "12345678", 4, nc=2, expires=0), SOURCE, now=2)
    assert outcome.response.status == 200
    assert outcome.events == [DeviceWentOffline(DEVICE, OfflineReason.UNREGISTERED)]
    assert table.get(DEVICE) is None


def test_gb_version_is_recorded_and_answered() -> None:
    registrar, table, _ = _registrar()
    challenge = registrar.decide(_request(1, extra="X-GB-ver: 3.0\r\n"), SOURCE, now=0).response
    assert challenge.headers.get("X-GB-Ver") == "3.0"
    request = _answer(challenge, "12345678", 2)
    request = request.with_headers(request.headers.add("X-GB-Ver", "2.0"))
    outcome = registrar.decide(request, SOURCE, now=1)
    assert outcome.response.headers.get("X-GB-Ver") == "3.0"
    registration = table.get(DEVICE)
    assert registration is not None and registration.gb_version == "2.0"


def test_missing_expires_is_a_bad_request() -> None:
    registrar, _, _ = _registrar()
    request = _request(1)
    request = request.with_headers(request.headers.remove("Expires"))
    assert registrar.decide(request, SOURCE, now=0).response.status == 400


def test_too_brief_registration_gets_423_with_min_expires() -> None:
    registrar, _, _ = _registrar()
    response = registrar.decide(_request(1, expires=10), SOURCE, now=0).response
    assert response.status == 423
    assert response.headers.get("Min-Expires") == "60"


def test_long_registration_is_capped_and_date_can_be_off() -> None:
    registrar, _, _ = _registrar(max_expires=7200, date_header="off")
    challenge = registrar.decide(_request(1, expires=999999), SOURCE, now=0).response
    ok = registrar.decide(_answer(challenge, "12345678", 2, expires=999999), SOURCE, now=1)
    assert ok.response.headers.get("Expires") == "7200"
    assert ok.response.headers.get("Date") is None


def test_strict_ids_refuse_an_unassigned_type_code() -> None:
    registrar, _, _ = _registrar(strict_device_ids=True)
    response = registrar.decide(_request(1, device="34020000009990000001"), SOURCE, now=0)
    assert response.response.status == 400


def test_garbage_authorization_is_a_bad_request_not_an_exception() -> None:
    registrar, _, _ = _registrar()
    response = registrar.decide(_request(1, extra="Authorization: Digest ,,,=\r\n"), SOURCE, now=0)
    assert response.response.status in (400, 401)


def test_expires_in_digits_int_cannot_read_is_a_bad_request() -> None:
    registrar, _, _ = _registrar()
    request = _request(1)
    request = request.with_headers(request.headers.replace_first("Expires", "²"))
    assert registrar.decide(request, SOURCE, now=0).response.status == 400


def test_the_express_path_decides_exactly_as_the_general_path() -> None:
    general, general_table, _ = _registrar()
    express, express_table, express_events = _registrar()
    general_events = []

    def both(request: SipRequest, now: float) -> tuple[SipResponse, Reply]:
        scanned = scan_express(request.to_bytes(), frozenset({"REGISTER"}))
        assert scanned is not None
        express._clock = lambda: now
        outcome = general.decide(request, SOURCE, now)  # `decide` leaves publishing to `handle`
        general_events.extend(outcome.events)
        return outcome.response, express.handle_express(scanned, SOURCE)

    challenge = None
    for request, now in [(_request(1, expires=10), 0.5), (_request(1), 1.0)]:
        challenge, reply = both(request, now)
        assert challenge.status == reply.status
        assert challenge.reason == (reply.reason or reason_phrase(reply.status))
        assert challenge.headers.items[-len(reply.extra) :] == reply.extra
    assert challenge is not None and challenge.status == 401
    response, reply = both(_answer(challenge, "12345678", 2), 2.0)
    assert response.status == reply.status == 200
    assert response.headers.items[-len(reply.extra) :] == reply.extra
    registration = general_table.get(DEVICE)
    assert registration is not None and registration == express_table.get(DEVICE)
    assert general_events == express_events and len(express_events) == 1
