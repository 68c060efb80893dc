"""Refusing new REGISTERs during overload: what `shed_fields` reads, a 503 answers exactly
as the express path and the general path would answer the same request."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from farmwatch.sipserver.sip.express import Reply, express_response, scan_express
from farmwatch.sipserver.sip.express_shed import AdmissionDraw, ShedRequest, first_leg, shed_fields
from farmwatch.sipserver.sip.message import SipResponse, build_response
from farmwatch.sipserver.sip.parser import MalformedMessage, parse_message
from farmwatch.sipserver.sip.transaction_layer import stamp_received
from tests.unit.sip.express_agreement import SOURCE
from tests.unit.sip.test_express import DATA, METHODS, mutated_requests, register

BUSY = Reply(503, None, (("Retry-After", "37"), ("User-Agent", "farmwatch")))
ECHOED = ("From", "To", "Call-ID", "CSeq")


def test_a_plain_new_register_is_answered_byte_for_byte_as_the_express_path_answers_it() -> None:
    for data in (register(), register(display='"Camera 1" ', via_params=";branch=z9hG4bKa1")):
        shed = shed_fields(data)
        express = scan_express(data, METHODS)
        assert shed is not None and express is not None
        assert express_response(shed, SOURCE, BUSY, "t0") == express_response(
            express, SOURCE, BUSY, "t0"
        )


@pytest.mark.parametrize("name", ["hik_register", "exosip_register"])  # Dahua's: LF only
def test_recorded_device_registers_are_read_and_answered_alike(name: str) -> None:
    data = (DATA / f"{name}.txt").read_bytes()
    shed = shed_fields(data)
    express = scan_express(data, METHODS)
    assert shed is not None and express is not None
    assert express_response(shed, SOURCE, BUSY, "t0") == express_response(
        express, SOURCE, BUSY, "t0"
    )


def test_x_gb_ver_is_noticed_in_any_case() -> None:
    with_version = shed_fields(register())
    assert with_version is not None and with_version.gb
    without = shed_fields(register().replace(b"X-GB-Ver: 3.0\r\n", b""))
    assert without is not None and not without.gb
    lower = shed_fields(register(names={"X-GB-Ver": "x-gb-ver"}))
    assert lower is not None and lower.gb


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("LF line ends", register().replace(b"\r\n", b"\n")),
        ("compact Via", register(names={"Via": "v"})),
        ("compact From", register(names={"From": "f"})),
        ("lower-case To", register(names={"To": "to"})),
        ("two Vias", register(extra=("Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKx",))),
        ("stamped by a proxy", register(via_params=";received=192.0.2.1;branch=z9hG4bKa1")),
        ("rport already set", register(via_params=";rport=5060;branch=z9hG4bKa1")),
        ("not ASCII", register(display='"摄像机" ')),
        ("a tab", register(colon=":\t")),
        ("folded", register().replace(b"\r\nCall-ID:", b"\r\n Call-ID:", 1)),
        ("CSeq past 2**31", register().replace(b"314159 REGISTER", b"2147483648 REGISTER")),
        ("CSeq of another method", register().replace(b"314159 REGISTER", b"1 MESSAGE")),
        ("no Call-ID", b"\r\n".join(
            line for line in register().split(b"\r\n") if not line.startswith(b"Call-ID")
        )),
        ("unbalanced quotes", register(display='"Camera ')),
        ("no blank line", register()[:-4]),
    ],
)  # fmt: skip
def test_requests_not_in_the_plain_shape_are_left_to_the_registrar(why: str, data: bytes) -> None:
    assert shed_fields(data) is None, why


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (register(), True),
        (register(extra=('Authorization: Digest username="x"',)), False),
        (register(extra=('authorization: Digest username="x"',)), False),
        (register(extra=('AUTHORIZATION : Digest username="x"',)), False),
        (register(method="MESSAGE"), False),
        (b"OPTIONS sip:x SIP/2.0\r\n\r\n", False),
    ],
)
def test_only_registers_without_credentials_are_first_legs(data: bytes, expected: bool) -> None:
    assert first_leg(data) is expected


@settings(max_examples=1500, deadline=None)
@given(mutated_requests())
def test_what_it_reads_it_answers_as_the_general_path_would(data: bytes) -> None:
    shed = shed_fields(data)
    if shed is None:
        return
    sent = parse_message(express_response(shed, SOURCE, BUSY, "t0"))  # strict in what we send
    assert isinstance(sent, SipResponse)
    assert sent.status == 503
    try:
        request = parse_message(data)
    except MalformedMessage:
        return  # refused 400 when not overloaded; 503 now: either tells the device to stop
    stamped = stamp_received(request, SOURCE)  # type: ignore[arg-type]
    expected = build_response(stamped, 503, to_tag="t0", extra=BUSY.extra)
    assert sent.top_via == expected.top_via  # read: `SIP / 2.0 / UDP` is echoed as sent
    for name in ECHOED:
        assert sent.header(name) == expected.header(name), name


class Draws:
    """A stand-in for `random.random` that hands out the given values and counts them."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.taken = 0

    def __call__(self) -> float:
        self.taken += 1
        return self.values.pop(0)


def test_while_not_shedding_everything_is_admitted_without_a_draw() -> None:
    draws = Draws()
    admission = AdmissionDraw(lambda: 1.0, draws)
    assert not admission.is_shedding
    assert admission.admits() and draws.taken == 0


def test_a_register_refused_early_is_drawn_once_and_answered_from_its_fields() -> None:
    draws = Draws(0.9)  # above the share: refused
    admission = AdmissionDraw(lambda: 0.5, draws)
    refused: list[ShedRequest] = []
    read_on = []
    assert admission.refuse_early(register(), refused.append, lambda: read_on.append(1) or True)
    assert len(refused) == 1 and refused[0].gb and not read_on and draws.taken == 1


def test_the_registrar_gets_the_draw_already_made_and_the_next_register_a_new_one() -> None:
    draws = Draws(0.1, 0.9)  # admitted, then refused
    admission = AdmissionDraw(lambda: 0.5, draws)
    seen: list[bool] = []

    def registrar_reads() -> bool:
        seen.extend([admission.admits(), admission.admits()])  # asked again: the same draw
        return True

    assert admission.refuse_early(register(), lambda _: None, registrar_reads)
    assert seen == [True, True] and draws.taken == 1
    assert not admission.admits() and draws.taken == 2  # held no longer


def test_a_refused_register_not_in_the_plain_shape_is_refused_by_the_registrar() -> None:
    draws = Draws(0.9)
    admission = AdmissionDraw(lambda: 0.5, draws)
    not_plain = register().replace(b"\r\n", b"\n")
    refused: list[ShedRequest] = []
    seen: list[bool] = []
    admission.refuse_early(
        not_plain, refused.append, lambda: seen.append(admission.admits()) or True
    )
    assert not refused and seen == [False] and draws.taken == 1
