"""The express scan against the general parser: whatever it accepts, it reads the same way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.express import ExpressRequest, Reply, express_response, scan_express
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.parser import parse_message
from farmwatch.sipserver.sip.transaction_effects import TransactionKey
from farmwatch.sipserver.sip.transaction_layer import stamp_received

DATA = Path(__file__).resolve().parents[2] / "data/sip"
METHODS = frozenset({"REGISTER", "MESSAGE"})
SOURCE = Address("192.0.2.7", 40123, Transport.UDP)
KEEPALIVE_BODY = (
    b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
    b"<SN>7</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n"
    b"</Notify>\r\n"
)


def general(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def assert_agrees(data: bytes, express: ExpressRequest) -> None:
    request = general(data)
    headers = request.headers
    assert express.method == request.method
    assert express.request_uri == request.uri
    assert express.call_id == request.call_id
    assert express.cseq_number == request.cseq.number
    assert express.from_user == (request.from_.uri.user or "").strip()
    via = request.top_via
    assert express.branch == via.branch
    assert express.via_transport == via.transport
    assert (express.via_host, express.via_port) == (via.host, via.port)
    key = TransactionKey.of(request)
    assert express.transaction_key == (key.branch, key.method, *key.sent_by)
    for name, value in (
        ("Contact", express.contact),
        ("Expires", express.expires),
        ("Authorization", express.authorization),
        ("User-Agent", express.user_agent),
        ("X-GB-Ver", express.gb_version),
    ):
        expected = headers.get(name)
        assert value == (expected.strip() if expected is not None else None), name
    assert express.media_type == request.content_type
    assert express.body == request.body


def register(
    *,
    names: dict[str, str] | None = None,
    order_seed: int = 0,
    display: str = "",
    extra: tuple[str, ...] = (),
    colon: str = ": ",
    via_params: str = ";rport;branch=z9hG4bK776asdhds",
    body: bytes = b"",
    content_type: str | None = None,
    method: str = "REGISTER",
) -> bytes:
    names = names or {}
    device = "34020000001320000001"
    fields = [
        ("Via", f"SIP/2.0/UDP 192.0.2.7:5060{via_params}"),
        ("From", f"{display}<sip:{device}@3402000000>;tag=1928301774"),
        ("To", f"<sip:{device}@3402000000>"),
        ("Call-ID", "a84b4c76e66710@192.0.2.7"),
        ("CSeq", f"314159 {method}"),
        ("Contact", f"<sip:{device}@192.0.2.7:5060>"),
        ("Max-Forwards", "70"),
        ("Expires", "3600"),
        ("User-Agent", "IP Camera"),
        ("X-GB-Ver", "3.0"),
    ]
    if content_type is not None:
        fields.append(("Content-Type", content_type))
    fields.extend(tuple(line.split(": ", 1)) for line in extra)  # type: ignore[misc]
    random.Random(order_seed).shuffle(fields)
    lines = [f"{method} sip:34020000002000000001@3402000000 SIP/2.0"]
    lines.extend(f"{names.get(name, name)}{colon}{value}" for name, value in fields)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("name", ["hik_register", "dahua_register", "exosip_register"])
def test_recorded_device_registers_take_the_express_path(name: str) -> None:
    data = (DATA / f"{name}.txt").read_bytes()
    express = scan_express(data, METHODS)
    assert express is not None, "a mainstream device's REGISTER must not need the general path"
    assert_agrees(data, express)


def test_lf_line_ends_are_read() -> None:
    data = register().replace(b"\r\n", b"\n")
    express = scan_express(data, METHODS)
    assert express is not None
    assert_agrees(data, express)


def test_a_plain_keepalive_message_is_read() -> None:
    data = register(method="MESSAGE", body=KEEPALIVE_BODY, content_type="Application/MANSCDP+xml")
    express = scan_express(data, METHODS)
    assert express is not None
    assert_agrees(data, express)
    assert express.media_type == "application/manscdp+xml"


def test_only_the_asked_methods_are_read() -> None:
    assert scan_express(register(), frozenset({"MESSAGE"})) is None
    assert scan_express(register(method="INVITE"), METHODS) is None


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("two Vias", register(extra=("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy",))),
        ("Via list", register(via_params=";branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb")),
        ("RFC 2543 branch", register(via_params=";branch=1234")),
        ("no branch", register(via_params=";rport")),
        ("stamped by a proxy", register(via_params=";received=10.0.0.9;branch=z9hG4bKx")),
        ("duplicate From", register(extra=("From: <sip:1@x>;tag=2",))),
        ("compact form not read", register(extra=("k: timer",))),
        ("TLS", register(via_params=";branch=z9hG4bKx").replace(b"UDP", b"TLS")),
        ("CSeq method", register().replace(b"314159 REGISTER", b"314159 MESSAGE")),
        ("CSeq too big", register().replace(b"314159 REGISTER", b"4294967296 REGISTER")),
        (
            "folded line",
            register().replace(b"\r\nMax-Forwards: 70", b"\r\n 70\r\nMax-Forwards: 70"),
        ),
        ("tab", register().replace(b"Expires: 3600", b"Expires:\t3600")),
        ("bare LF", register().replace(b"\r\nExpires", b"\nExpires")),
        ("mixed line ends", register().replace(b"\r\n", b"\n").replace(b"\nTo", b"\r\nTo")),
        ("not UTF-8", register().replace(b"IP Camera", "摄像机".encode("gb2312"))),
        ("length mismatch", register().replace(b"Content-Length: 0", b"Content-Length: 5")),
        (
            "length not ASCII",
            register().replace(b"Content-Length: 0", "Content-Length: ²".encode()),
        ),
        ("no From tag", register().replace(b";tag=1928301774", b"")),
        ("user with password", register().replace(b"<sip:34020000001320000001@", b"<sip:a:b@")),
        (
            "sips",
            register().replace(b"<sip:34020000001320000001@3402000000>;tag", b"<sips:34@x>;tag"),
        ),
        ("bad header name", register(extra=("Bad Name: x",))),
        ("no To", register().replace(b"\r\nTo: <sip:34020000001320000001@3402000000>", b"")),
    ],
)
def test_unusual_requests_go_the_general_way(why: str, data: bytes) -> None:
    assert scan_express(data, METHODS) is None, why


def test_requests_the_general_parser_refuses_are_never_read() -> None:
    # The express scan may decline more than the general parser, never accept more.
    for data in (b"REGISTER sip:x SIP/2.0\r\n\r\n", b"MESSAGE  SIP/2.0\r\nVia: x\r\n\r\n"):
        assert scan_express(data, METHODS) is None


spelling = st.sampled_from
header_names = {
    "Via": spelling(["Via", "VIA", "via", "v"]),
    "From": spelling(["From", "from", "f", "FROM"]),
    "To": spelling(["To", "to", "t"]),
    "Call-ID": spelling(["Call-ID", "call-id", "i", "CALL-ID"]),
    "CSeq": spelling(["CSeq", "cseq", "CSEQ"]),
    "Contact": spelling(["Contact", "contact", "m"]),
    "Expires": spelling(["Expires", "expires"]),
    "Content-Length": spelling(["Content-Length", "content-length", "l"]),
    "X-GB-Ver": spelling(["X-GB-Ver", "x-gb-ver"]),
}


@settings(max_examples=300, deadline=None)
@given(
    names=st.fixed_dictionaries(header_names),
    order_seed=st.integers(0, 10_000),
    display=st.sampled_from(["", '"Camera 1" ', "cam ", '"摄像机" ']),
    colon=st.sampled_from([": ", ":", " : ", ":  "]),
    via_params=st.sampled_from(
        [
            ";rport;branch=z9hG4bKa1",
            ";branch=z9hG4bKa1;rport",
            ";branch=z9hG4bKa1",
            ";BRANCH=z9hG4bKa1",
        ]
    ),
    extra=st.lists(
        st.sampled_from(["Allow: INVITE, ACK", "Supported: x", "X-Custom: 1", "Date: today"]),
        max_size=3,
        unique=True,
    ).map(tuple),
)
def test_what_the_express_scan_accepts_it_reads_as_the_general_parser(
    names: dict[str, str],
    order_seed: int,
    display: str,
    colon: str,
    via_params: str,
    extra: tuple[str, ...],
) -> None:
    data = register(names=names, order_seed=order_seed, display=display, colon=colon,
                    via_params=via_params, extra=extra)  # fmt: skip
    express = scan_express(data, METHODS)
    if express is not None:
        assert_agrees(data, express)
    if colon == ": " and names == {name: name for name in header_names}:
        assert express is not None  # the canonical spelling is always read


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    scan_express(b"REGISTER " + data, METHODS)


@pytest.mark.parametrize("via_params", [";rport;branch=z9hG4bKa1", ";branch=z9hG4bKa1"])
@pytest.mark.parametrize("status", [200, 401, 403])
def test_the_response_is_what_the_general_path_would_send(via_params: str, status: int) -> None:
    data = register(via_params=via_params)
    express = scan_express(data, METHODS)
    assert express is not None
    reply = Reply(status, None, (("Expires", "3600"), ("User-Agent", "farmwatch")))
    sent = parse_message(express_response(express, SOURCE, reply, "t0"))
    assert isinstance(sent, SipResponse)
    request = stamp_received(general(data), SOURCE)
    expected = build_response(request, status, to_tag="t0", extra=reply.extra)
    assert (sent.status, sent.reason) == (expected.status, expected.reason)
    assert sent.top_via == expected.top_via
    if "rport" in via_params:
        assert sent.top_via.param("received") == SOURCE.host
        assert sent.top_via.param("rport") == str(SOURCE.port)
    for name in ("From", "To", "Call-ID", "CSeq", "Expires", "User-Agent"):
        assert sent.header(name) == expected.header(name), name
    assert sent.to.tag == "t0"
    assert sent.body == b""


def test_a_to_tag_already_there_is_kept() -> None:
    data = register().replace(b"@3402000000>\r\n", b"@3402000000>;tag=abc\r\n", 1)
    express = scan_express(data, METHODS)
    assert express is not None and "tag=abc" in express.to
    sent = parse_message(express_response(express, SOURCE, Reply(200), "new"))
    assert isinstance(sent, SipResponse)
    assert sent.to.tag == "abc"
