"""Registrar decisions on real REGISTER bytes, in virtual time (gb28181.md §3, §11.1)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import pytest

from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    DeviceWentOffline,
    OfflineReason,
    RegistrationRefreshed,
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
    passwords: Passwords | None = None,
    wall_clock: Callable[[], datetime] = lambda: datetime(2024, 3, 15, 10, 21, 7, 512000),
    **settings: object,
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
        wall_clock=wall_clock,
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


def test_each_200_carries_the_time_it_was_sent_to_the_millisecond() -> None:
    """GB/T 28181 time sync: the Date of every 200 follows the wall clock, within a second
    and across seconds (the platform keeps the formatted second between answers)."""
    times = iter(
        [
            datetime(2024, 3, 15, 10, 21, 7, 512000),
            datetime(2024, 3, 15, 10, 21, 7, 999999),
            datetime(2024, 3, 15, 10, 21, 8, 3000),
            datetime(2024, 3, 15, 10, 22, 8, 0),
        ]
    )
    registrar, _, _ = _registrar(wall_clock=lambda: next(times))
    dates = []
    for cseq in (1, 3, 5, 7):
        first = registrar.decide(_request(cseq), SOURCE, now=cseq)
        second = registrar.decide(_answer(first.response, "12345678", cseq + 1), SOURCE, now=cseq)
        assert second.response.status == 200
        dates.append(second.response.headers.get("Date"))
    assert dates == ["2024-03-15T10:21:07.512", "2024-03-15T10:21:07.999",
                     "2024-03-15T10:21:08.003", "2024-03-15T10:22:08.000"]  # fmt: skip


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


# -- issue 13 item 2: replayed answers and password guessing --------------------------

OTHER_PORT = Address(SOURCE.host, SOURCE.port + 1, Transport.UDP)
OTHER_HOST = Address("10.9.9.9", 5060, Transport.UDP)
OVER_TCP = Address(SOURCE.host, SOURCE.port, Transport.TCP)


def _www(response: SipResponse) -> str:
    return response.headers.get("WWW-Authenticate") or ""


def _with_call_id(request: SipRequest, call_id: str) -> SipRequest:
    return request.with_headers(request.headers.replace_first("Call-ID", call_id))


def test_an_answer_replayed_from_elsewhere_is_refused_and_moves_nothing() -> None:
    registrar, table, _ = _registrar(offer_qop=False)
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    answer = _answer(challenge, "12345678", 2)
    assert registrar.decide(answer, SOURCE, now=1).response.status == 200
    for elsewhere in (OTHER_PORT, OTHER_HOST, OVER_TCP):
        replay = registrar.decide(answer, elsewhere, now=2)
        assert replay.response.status == 401 and replay.events == []
        assert "stale" not in _www(replay.response)  # an unknown nonce, not a spent one
    registration = table.get(DEVICE)
    assert registration is not None and registration.address == SOURCE


def test_a_nonce_answered_in_another_registration_call_id_is_unknown() -> None:
    registrar, table, _ = _registrar()
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    other_call = _with_call_id(_answer(challenge, "12345678", 2), "another-call@10.1.2.3")
    assert registrar.decide(other_call, SOURCE, now=1).response.status == 401
    assert table.get(DEVICE) is None


def test_host_binding_tolerates_an_answer_from_another_port_or_call_id() -> None:
    registrar, _, _ = _registrar(nonce_binding="host")
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    answer = _with_call_id(_answer(challenge, "12345678", 2), "another-call@10.1.2.3")
    assert registrar.decide(answer, OTHER_PORT, now=1).response.status == 200
    assert registrar.decide(answer, OTHER_HOST, now=2).response.status == 401


def test_a_device_that_resends_its_last_answer_on_refresh_is_asked_again_kindly() -> None:
    registrar, table, _ = _registrar(offer_qop=False)
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    assert registrar.decide(_answer(challenge, "12345678", 2), SOURCE, now=1).response.status == 200
    refresh = registrar.decide(_answer(challenge, "12345678", 3), SOURCE, now=200)
    assert refresh.response.status == 401
    assert "stale=true" in _www(refresh.response)
    again = registrar.decide(_answer(refresh.response, "12345678", 4), SOURCE, now=200.1)
    assert again.response.status == 200
    assert [type(e) for e in again.events] == [RegistrationRefreshed]
    registration = table.get(DEVICE)
    assert registration is not None and registration.registered_at == 200.1


def test_a_device_answering_with_qop_refreshes_with_the_next_nc_without_a_challenge() -> None:
    registrar, _, _ = _registrar()
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    assert registrar.decide(_answer(challenge, "12345678", 2), SOURCE, now=1).response.status == 200
    refresh = registrar.decide(_answer(challenge, "12345678", 3, nc=2), SOURCE, now=100)
    assert refresh.response.status == 200


def _guess(registrar: Registrar, source: Address, now: float, password: str) -> SipResponse:
    challenge = registrar.decide(_request(1), source, now=now).response
    if challenge.status != 401:
        return challenge
    return registrar.decide(_answer(challenge, password, 2), source, now=now).response


def test_guessing_is_throttled_but_the_device_own_host_gets_through() -> None:
    registrar, table, _ = _registrar(
        auth_failures_per_device=3, auth_block=10.0, auth_max_block=40.0
    )
    assert _guess(registrar, SOURCE, 0, "12345678").status == 200
    answers = [_guess(registrar, OTHER_HOST, 1 + n, f"guess-{n}") for n in range(5)]
    assert [a.reason for a in answers] == ["Forbidden (wrong password)"] * 3 + [
        "Forbidden (too many failed attempts)"
    ] * 2
    # The right password from there is refused too, without a challenge.
    assert _guess(registrar, OTHER_HOST, 6, "12345678").reason == (
        "Forbidden (too many failed attempts)"
    )
    # The device, from its own host (another port after a reboot), is not.
    assert _guess(registrar, OTHER_PORT, 7, "12345678").status == 200
    registration = table.get(DEVICE)
    assert registration is not None and registration.address == OTHER_PORT
    # The block ends (the first one lasts auth_block seconds from the third failure).
    assert _guess(registrar, OTHER_HOST, 13, "12345678").status == 200
    stats = registrar.auth_stats
    assert (stats.failures, stats.refused, stats.blocks) == (3, 3, 1)


def test_the_last_authenticated_host_stays_trusted_after_the_registration_ends() -> None:
    registrar, table, _ = _registrar(auth_failures_per_device=2)
    assert _guess(registrar, SOURCE, 0, "12345678").status == 200
    table.unregister(DEVICE)
    for n in range(4):
        _guess(registrar, OTHER_HOST, 1 + n, f"guess-{n}")
    assert _guess(registrar, OTHER_HOST, 5, "12345678").status == 403
    assert _guess(registrar, OTHER_PORT, 6, "12345678").status == 200


def test_guessing_many_ids_from_one_host_blocks_the_host() -> None:
    registrar, _, _ = _registrar(auth_failures_per_host=4, auth_failures_per_device=100)
    devices = [f"3402000000132000{index:04d}" for index in range(6)]
    statuses = []
    for now, device in enumerate(devices):
        challenge = registrar.decide(_request(1, device=device), OTHER_HOST, now=now).response
        if challenge.status != 401:
            statuses.append(challenge.reason)
            continue
        header = _www(challenge)
        credentials = build_credentials(
            DigestChallenge.parse(header), method="REGISTER",
            uri="sip:34020000002000000001@3402000000", username=device, password="guess",
            cnonce="0a4f113b",
        )  # fmt: skip
        request = _request(2, extra=f"Authorization: {credentials}\r\n", device=device)
        statuses.append(registrar.decide(request, OTHER_HOST, now=now).response.reason)
    assert (
        statuses
        == ["Forbidden (wrong password)"] * 4 + ["Forbidden (too many failed attempts)"] * 2
    )
    assert _guess(registrar, SOURCE, 10, "12345678").status == 200  # other hosts are fine


def test_refusals_are_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    registrar, _, _ = _registrar(auth_failures_per_device=100, auth_failures_per_host=100)
    caplog.set_level(logging.WARNING, logger="farmwatch.sipserver.registrar")
    for n in range(30):
        _guess(registrar, OTHER_HOST, n, f"guess-{n}")
    assert len(caplog.records) == 1
    assert "wrong password" in caplog.messages[0] and DEVICE in caplog.messages[0]
    assert registrar.next_deadline() == 29 + 60
    registrar.tick(29 + 60)
    assert len(caplog.records) == 2
    assert "29 more REGISTERs from 10.9.9.9 refused" in caplog.messages[1]
    assert registrar.next_deadline() is None


def test_both_paths_decide_alike_on_replays_refreshes_and_guesses() -> None:
    settings = {"offer_qop": False, "auth_failures_per_device": 2}
    general, general_table, _ = _registrar(**settings)
    express, express_table, _ = _registrar(**settings)
    now = 0.0

    def both(request: SipRequest, source: Address) -> SipResponse:
        nonlocal now
        now += 1
        scanned = scan_express(request.to_bytes(), frozenset({"REGISTER"}))
        assert scanned is not None
        express._clock = lambda: now
        response = general.decide(request, source, now).response
        reply = express.handle_express(scanned, source)
        assert (response.status, response.reason) == (
            reply.status, reply.reason or reason_phrase(reply.status),
        )  # fmt: skip
        assert response.headers.items[-len(reply.extra) :] == reply.extra
        return response

    challenge = both(_request(1), SOURCE)
    first = _answer(challenge, "12345678", 2)
    assert both(first, SOURCE).status == 200
    assert both(first, OTHER_PORT).status == 401  # replayed from elsewhere
    stale = both(first, SOURCE)  # re-sent on refresh
    assert stale.status == 401 and "stale=true" in _www(stale)
    assert both(_answer(stale, "12345678", 3), SOURCE).status == 200
    for n in range(3):
        guess_challenge = both(_request(4 + n), OTHER_HOST)
        if guess_challenge.status == 401:
            both(_answer(guess_challenge, f"guess-{n}", 5 + n), OTHER_HOST)
    assert both(_request(9), OTHER_HOST).reason == "Forbidden (too many failed attempts)"
    assert general_table.get(DEVICE) == express_table.get(DEVICE)
    assert general.auth_stats == express.auth_stats


def test_overloaded_new_registrations_get_503_while_those_under_way_finish() -> None:
    table = RegistrationTable()
    overloaded = [False]
    registrar = Registrar(
        RegistrarSettings(),
        realm="3402000000",
        table=table,
        credentials=Passwords({}, "12345678"),
        publish=lambda events: None,
        clock=lambda: 0.0,
        wall_clock=lambda: datetime(2024, 3, 15, 10, 21, 7),
        secret=b"k" * 32,
        overloaded=lambda: overloaded[0],
        retry_after=20,
    )
    challenge = registrar.decide(_request(1), SOURCE, now=0).response
    assert challenge.status == 401
    overloaded[0] = True
    shed = registrar.decide(_request(3, device="34020000001320000002"), SOURCE, now=0.1).response
    assert shed.status == 503
    assert 10 <= int(shed.headers.get("Retry-After") or "0") <= 20
    # The registration the device was answering a challenge for goes through.
    finished = registrar.decide(_answer(challenge, "12345678", 2), SOURCE, now=0.2).response
    assert finished.status == 200
    assert registrar.shed == 1
    overloaded[0] = False
    assert registrar.decide(_request(4), SOURCE, now=1).response.status == 401
