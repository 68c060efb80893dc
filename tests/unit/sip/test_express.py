"""The express scan against the general parser: whatever it accepts, it reads the same way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.express import Reply, express_response, scan_express
from farmwatch.sipserver.sip.message import SipResponse, build_response
from farmwatch.sipserver.sip.parser import MalformedMessage, ParserLimits, parse_message
from farmwatch.sipserver.sip.transaction_layer import stamp_received
from tests.unit.sip.express_agreement import SOURCE, assert_agrees, general

DATA = Path(__file__).resolve().parents[2] / "data/sip"
METHODS = frozenset({"REGISTER", "MESSAGE"})
KEEPALIVE_BODY = (
    b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
    b"<SN>7</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n"
    b"</Notify>\r\n"
)


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


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("duplicate Max-Forwards", register(extra=("Max-Forwards: 70",))),
        ("Max-Forwards not a number", register().replace(b"Max-Forwards: 70", b"Max-Forwards: x")),
        ("Max-Forwards 256", register().replace(b"Max-Forwards: 70", b"max-forwards: 256")),
        (
            "stray > in a bare From",
            register().replace(
                b"From: <sip:34020000001320000001@3402000000>;tag=1928301774",
                b"From: sip:34020000001320000001@3402000000;tag=1928301774>",
            ),
        ),
        ("stray > in To", register().replace(b"To: <sip:3402", b"To: sip:3402").replace(
            b"@3402000000>\r\nCall", b"@3402000000>>\r\nCall")),
        ("< in the Request-URI host", register().replace(b"@3402000000 SIP", b"@34020<00000 SIP")),
        ("? in the Request-URI host", register().replace(b"@3402000000 SIP", b"@3402000000?x SIP")),
        ("no Request-URI", register().replace(b"R sip:34020000002000000001@3402000000", b"R sip:")),
        ("empty Route", register(extra=("Route: ",))),
        ("empty Route entry", register(extra=("Route: <sip:p;lr>,,<sip:q;lr>",))),
        ("empty Record-Route", register(extra=("Record-Route: ",))),
        ("Via port 0", register(via_params=";branch=z9hG4bKa").replace(b":5060;", b":0;", 1)),
        ("Via port 99999", register().replace(b"192.0.2.7:5060;rport", b"192.0.2.7:99999;rport")),
        ("too many headers", register(extra=tuple(f"X-H{i}: {i}" for i in range(100)))),
        ("too many Route entries", register(extra=("Route: " + ", ".join(["<sip:p>"] * 95),))),
    ],
)  # fmt: skip
def test_what_the_general_parser_refuses_the_express_scan_declines(why: str, data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(data)
    assert scan_express(data, METHODS) is None, why


@pytest.mark.parametrize(
    ("why", "value"),
    [
        ("port out of range", "<sip:34020000001320000001@3402000000:99999>;tag=1"),
        ("port int() refuses", "<sip:34020000001320000001@3402000000:²>;tag=1"),
        ("two @", "<sip:34020000001320000001@a@3402000000>;tag=1"),
        ("empty tag", "<sip:34020000001320000001@3402000000>;tag="),
        ("tag without a value first", "<sip:34020000001320000001@3402000000>;tag;tag=2"),
    ],
)
def test_a_from_the_general_path_cannot_read_is_declined(why: str, value: str) -> None:
    data = register().replace(
        b"<sip:34020000001320000001@3402000000>;tag=1928301774", value.encode(), 1
    )
    general(data)  # the parser lets it through; reading the From is what fails or differs
    assert scan_express(data, METHODS) is None, why


def test_the_express_scan_keeps_to_the_parser_limits() -> None:
    data = register(extra=tuple(f"X-H{i}: {i}" for i in range(20)))
    small = ParserLimits(max_headers=20)
    assert scan_express(data, METHODS) is not None
    assert scan_express(data, METHODS, small) is None
    assert scan_express(data, METHODS, ParserLimits(max_message_size=len(data) - 1)) is None


def test_a_quoted_display_name_and_a_route_take_the_express_path() -> None:
    data = register(display='"Camera <1>" ', extra=("Route: <sip:p;lr>, <sip:q;lr>",))
    express = scan_express(data, METHODS)
    assert express is not None
    assert_agrees(data, express)


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


# -- agreement under targeted mutations ----------------------------------------------------
#
# The property above only varies what is valid (spellings, order, display names), and
# its extra headers come from a fixed list of harmless ones: it could never generate what
# the general parser refuses, so it never saw the express scan accept those. Below, real
# requests (the recordings, and the shapes above) are mutated where the two readers can
# part: duplicated, dropped, emptied or odd headers, stray `<>?;",` in URIs and
# name-addrs, odd whitespace, spellings, compact forms, LF-only, bytes outside ASCII.

SEEDS = [
    *(
        (DATA / f"{name}.txt").read_bytes()
        for name in ("hik_register", "dahua_register", "exosip_register", "register_domain_uri")
    ),
    (DATA / "torture/valid/dblreq.dat").read_bytes(),
    register(),
    register(display='"Camera 1" ', via_params=";branch=z9hG4bKa1"),
    register(method="MESSAGE", body=KEEPALIVE_BODY, content_type="Application/MANSCDP+xml"),
    register(method="MESSAGE", body=KEEPALIVE_BODY).replace(b"\r\n", b"\n"),
]
STRAYS = ["<", ">", "?", ";", '"', ",", "@", ":", "=", " ", "  ", "\t", "\\", "[", "]", "/",
          "%", "²", "é", "\u00a0", "\u3000", "*", "#"]  # fmt: skip
ODD_VALUES = [
    "", " ", "x", "0", "70", "256", "-1", "²", "99999", "3600 ", "<sip:a@b>", "sip:a@b>",
    "<sip:a@b", "<sip:a@b:99999>;tag=1", "<sip:a@b:²>;tag=1", "<sip:a@b;tag=1>", "<>",
    '"a<b" <sip:34020000001320000001@3402000000>;tag=1', '"unclosed <sip:a@b>;tag=1',
    "sip:34020000001320000001@3402000000;tag=1", "<sip:34020000001320000001@[::1]>;tag=1",
    "<sips:34020000001320000001@3402000000>;tag=1", "<sip:a@b@c>;tag=1", "<sip:a@b?x=1>;tag=1",
    "<sip:a@b>;tag=", "<sip:a@b>;tag;tag=2", "<sip:a@b> ;tag = 1", "*", ",", "a, b",
    "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx", "SIP / 2.0 / UDP 10.0.0.1;branch=z9hG4bKx",
    "SIP/2.0/UDP 10.0.0.1:0;branch=z9hG4bKx", "SIP/2.0/UDP 10.0.0.1:²;branch=z9hG4bKx",
    "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK x", 'SIP/2.0/UDP h;x="a;branch=z9hG4bKq";branch=z9hG4bKr',
    "SIP/2.0/UDP h;x=<a;branch=z9hG4bKq>;branch=z9hG4bKr", "SIP/2.0/UDP h;branch=z9hG4bKx;rport=",
    "SIP/2.0/UDP h;received;branch=z9hG4bKx", "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx",
    "1 REGISTER", "1  REGISTER", "2147483648 REGISTER", "1 MESSAGE", "² REGISTER",
    "Digest username=\"34020000001320000001\"", "application/MANSCDP+xml; charset=x",
]  # fmt: skip
ODD_HEADERS = [
    "Max-Forwards: 70", "Max-Forwards: x", "Max-Forwards: 256", "max-forwards: 70",
    "Route:", "Route: <sip:proxy;lr>", "Route: <sip:proxy;lr>,", "Route: ,<sip:p>",
    "Record-Route:", "Record-Route: <sip:p>, <sip:q>", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKp",
    "v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKp", "Content-Length: 0", "l: 0", "Contact: *",
    "Expires: ²", "Expires: 0", "k: timer", "y: 1", "X-GB-Ver: 3.0", "User-Agent: x",
    "Content-Type: text/plain", "c: Application/MANSCDP+xml", "From: <sip:1@x>;tag=2",
    "To: <sip:1@x>", "i: other", "CSeq: 2 REGISTER", "Authorization: Digest a=b",
    "X-Empty:", ": no name", "No-Colon", "Bad Name: x", "Call-ID:",
]  # fmt: skip
NAME_SPELLINGS = {
    "via": ["Via", "VIA", "via", "v", "V", "Via "], "from": ["From", "from", "f", "FROM "],
    "to": ["To", "to", "t", "T"], "call-id": ["Call-ID", "call-id", "i", "Call-Id"],
    "cseq": ["CSeq", "cseq", "CSEQ"], "contact": ["Contact", "m", "CONTACT"],
    "content-length": ["Content-Length", "l", "content-length"],
    "content-type": ["Content-Type", "c", "content-type"], "max-forwards": ["Max-Forwards",
    "max-forwards", "Max-Forwards "], "expires": ["Expires", "expires", "EXPIRES"],
}  # fmt: skip


@st.composite
def mutated_requests(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SEEDS))
    line_end = "\r\n" if b"\r\n\r\n" in data else "\n"
    head_bytes, _, body = data.partition((line_end * 2).encode())
    lines = head_bytes.decode("utf-8", "surrogateescape").split(line_end)
    for _ in range(draw(st.integers(1, 3))):
        _mutate(draw, lines)
    if draw(st.booleans()):  # keep Content-Length true to the body, or leave it as mutated
        lines = [
            line
            for line in lines
            if line.split(":")[0].strip().lower() not in ("l", "content-length")
        ]
        lines.append(f"Content-Length: {len(body)}")
    if draw(st.integers(0, 9)) == 0:
        line_end = "\n" if line_end == "\r\n" else "\r\n"
    out = (line_end.join(lines) + line_end * 2).encode("utf-8", "surrogateescape") + body
    if draw(st.integers(0, 9)) == 0:  # a raw byte: latin-1 "²", a NUL, a lone CR...
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.sampled_from([b"\xb2", b"\x00", b"\r", b"\n", b"\xff"])) + out[at:]
    return out


def _mutate(draw: st.DrawFn, lines: list[str]) -> None:
    header = draw(st.integers(1, max(1, len(lines) - 1)))
    header = min(header, len(lines) - 1)
    name, colon, value = lines[header].partition(":")
    match draw(
        st.sampled_from(["dup", "drop", "insert", "empty", "value", "stray", "name", "uri"])
    ):
        case "dup":
            lines.insert(draw(st.integers(1, len(lines))), lines[header])
        case "drop" if len(lines) > 2:
            del lines[header]
        case "insert":
            lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from(ODD_HEADERS)))
        case "empty" if colon:
            lines[header] = f"{name}:"
        case "value" if colon:
            lines[header] = f"{name}: {draw(st.sampled_from(ODD_VALUES))}"
        case "stray":
            line = lines[draw(st.integers(0, len(lines) - 1))]
            at = draw(st.integers(0, len(line)))
            stray = draw(st.sampled_from(STRAYS))
            index = lines.index(line)
            lines[index] = line[:at] + stray + line[at + draw(st.integers(0, 1)) :]
        case "name" if colon:
            spellings = NAME_SPELLINGS.get(name.strip().lower(), [name.upper(), name.lower()])
            gap = draw(st.sampled_from([": ", ":", " : ", ":  ", ":\t"]))
            lines[header] = f"{draw(st.sampled_from(spellings))}{gap}{value.strip()}"
        case "uri":
            method, _, rest = lines[0].partition(" ")
            uri, _, version = rest.rpartition(" ")
            uri = draw(st.sampled_from([
                "sip:", "sip:<3402000000", "sip:34020000002000000001@34020<00000",
                "sip:34020000002000000001@3402000000?x", "sip:a@b>", "SIP:3402000000",
                "sip:34020000002000000001@3402000000;transport=udp", "sips:3402000000",
                "tel:+86", "sip:a?b@c", "sip:a@b c", "sip:[::1]", "sip:@",
            ]))  # fmt: skip
            lines[0] = f"{method} {uri} {version}"


@settings(max_examples=1500, deadline=None)
@given(mutated_requests())
def test_what_the_express_scan_accepts_the_general_path_accepts_and_reads_alike(
    data: bytes,
) -> None:
    express = scan_express(data, METHODS)
    if express is not None:
        assert_agrees(data, express)


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
