"""`parse_message`, `is_keepalive_ping` and the recorded GB/T 28181 device shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.parser import (
    DEFAULT_LIMITS,
    MalformedMessage,
    ParserLimits,
    is_keepalive_ping,
    parse_message,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "sip"

REGISTER = (
    b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK3f81a2c7\r\n"
    b"From: <sip:34020000001180000001@3402000000>;tag=51297461\r\n"
    b"To: <sip:34020000001180000001@3402000000>\r\n"
    b"Call-ID: 6a2d97c40e1b4d7e@192.168.20.64\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Contact: <sip:34020000001180000001@192.168.20.64:5060>\r\n"
    b"Max-Forwards: 70\r\n"
    b"Expires: 3600\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def rejected(data: bytes, limits: ParserLimits = DEFAULT_LIMITS) -> MalformedMessage:
    with pytest.raises(MalformedMessage) as caught:
        parse_message(data, limits=limits)
    return caught.value


def with_body(body: bytes, content_length: str | None) -> bytes:
    head = REGISTER.replace(b"Content-Length: 0\r\n", b"")
    if content_length is not None:
        head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {content_length}\r\n\r\n".encode())
    return head + body


# -- GB/T 28181 device shapes ---------------------------------------------------------


def test_exosip_register() -> None:
    message = request((DATA / "exosip_register.txt").read_bytes())
    assert message.uri == "sip:34020000002000000001@3402000000"
    assert message.from_.uri.user == "34020000001180000001"
    assert message.top_via.param("rport") is None and message.top_via.has_param("rport")
    assert (message.call_id, message.expires) == ("1936418442", 3600)
    assert message.header("User-Agent") == "eXosip/3.6.0"


def test_hikvision_register_with_route_authorization_and_gb_version() -> None:
    message = request((DATA / "hik_register.txt").read_bytes())
    assert message.header("Route") == "<sip:34020000002000000001@192.168.10.5:5060;lr>"
    assert message.header("X-GB-Ver") == "3.0"
    authorization = message.header("Authorization")
    assert authorization is not None and 'uri="sip:3402000000"' in authorization
    assert authorization.startswith('Digest username="34020000001180000001"')
    assert message.cseq.number == 2


def test_dahua_register_lf_only_compact_lowercase() -> None:
    data = (DATA / "dahua_register.txt").read_bytes()
    assert b"\r" not in data
    message = request(data)
    assert [name for name, _ in message.headers][:6] == [
        "Via", "From", "To", "Call-ID", "CSeq", "Contact",
    ]  # fmt: skip
    assert message.header("Max-Forwards") == "70"
    assert message.header("User-Agent") == "Dahua SIP UAS V2.6"
    assert message.call_id == "443812377"
    assert message.from_.uri.user == "34020000001320000002"


def test_manscdp_message_keeps_gb2312_body_bytes() -> None:
    message = request((DATA / "catalog_message_gb2312.txt").read_bytes())
    assert message.method == "MESSAGE"
    assert message.content_type == "application/manscdp+xml"
    assert message.header("Content-Type") == "Application/MANSCDP+XML"
    assert len(message.body) == int(message.header("Content-Length") or "") == 738
    assert "<Name>东门入口</Name>" in message.body.decode("gb18030")
    assert "东门".encode("gb18030") in message.body


def test_register_with_domain_only_request_uri() -> None:
    message = request((DATA / "register_domain_uri.txt").read_bytes())
    assert message.uri == "sip:3402000000"
    assert message.request_uri.host == "3402000000" and message.request_uri.user is None


# -- leniency ---------------------------------------------------------------------------


def test_lf_only_mixed_line_ends_and_leading_crlf() -> None:
    data = b"\r\n\r\n" + REGISTER.replace(b"\r\n", b"\n", 4)
    message = request(data)
    assert message.call_id == "6a2d97c40e1b4d7e@192.168.20.64"
    assert message.header("Expires") == "3600"


def test_compact_forms_casing_and_space_around_colon() -> None:
    data = (
        REGISTER.replace(b"Via:", b"v :")
        .replace(b"From:", b"F:")
        .replace(b"Call-ID:", b"CALL-id\t:")
        .replace(b"Contact:", b"m:")
        .replace(b"Expires: 3600", b"expires:3600   ")
    )
    message = request(data)
    assert message.top_via.branch == "z9hG4bK3f81a2c7"
    assert message.from_.tag == "51297461"
    assert message.call_id == "6a2d97c40e1b4d7e@192.168.20.64"
    assert message.header("Contact") == "<sip:34020000001180000001@192.168.20.64:5060>"
    assert ("Expires", "3600") in message.headers.items


def test_folded_header_lines_join_with_one_space() -> None:
    data = REGISTER.replace(b"User", b"").replace(
        b"Expires: 3600\r\n", b"Subject: first\r\n  second\r\n\tthird\r\nExpires: 3600\r\n"
    )
    assert request(data).header("Subject") == "first second third"


def test_list_headers_split_into_entries_outside_quotes_and_brackets() -> None:
    data = REGISTER.replace(
        b"Max-Forwards: 70\r\n",
        b"Max-Forwards: 70\r\nRoute: <sip:a@x;lr>, <sip:b@y;lr>\r\n"
        b'Record-Route: "a, b" <sip:c@z;lr>\r\n'
        b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1 , SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2\r\n"
        b"Contact: <sip:x@a>, <sip:y@b>\r\n",
    )
    message = request(data)
    assert message.headers.get_all("Route") == ["<sip:a@x;lr>", "<sip:b@y;lr>"]
    assert message.headers.get_all("Record-Route") == ['"a, b" <sip:c@z;lr>']
    assert [via.host for via in message.vias] == ["192.168.20.64", "10.0.0.1", "10.0.0.2"]
    # Contact is not split: its values are kept verbatim.
    assert message.headers.get_all("Contact")[1] == "<sip:x@a>, <sip:y@b>"


def test_missing_content_length_takes_the_rest_of_the_datagram() -> None:
    assert request(with_body(b"<xml/>\r\n", None)).body == b"<xml/>\r\n"


def test_smaller_content_length_truncates_the_body() -> None:
    assert request(with_body(b"0123456789", "4")).body == b"0123"


def test_message_without_blank_line_has_no_body() -> None:
    message = request(REGISTER[:-2])
    assert message.body == b"" and message.header("Content-Length") == "0"


def test_undecodable_header_bytes_never_raise_and_can_be_answered() -> None:
    data = REGISTER.replace(b"From: <", '"东门" <'.encode("gb18030").join([b"From: ", b""]))
    message = request(data)
    assert message.from_.tag == "51297461"
    response = build_response(message, 200, to_tag="x")
    assert b"SIP/2.0 200 OK" in response.to_bytes()


def test_responses_parse() -> None:
    data = (
        b"SIP/2.0 401 Unauthorized\r\n"
        b"Via: SIP/2.0/UDP 192.168.20.64:5060;rport=5060;branch=z9hG4bK3f81a2c7\r\n"
        b"From: <sip:a@3402000000>;tag=1\r\nTo: <sip:a@3402000000>;tag=2\r\n"
        b"Call-ID: c\r\nCSeq: 1 REGISTER\r\n"
        b'WWW-Authenticate: Digest realm="3402000000", nonce="9b", algorithm=MD5\r\n'
        b"Content-Length: 0\r\n\r\n"
    )
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason, message.cseq.method) == (
        401,
        "Unauthorized",
        "REGISTER",
    )


# -- strictness -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"CSeq: 1 REGISTER", b"CSeq: 1 MESSAGE", "CSeq method does not match the request method"),
        (b"CSeq: 1 REGISTER", b"CSeq: 1 register", "CSeq method does not match the request method"),
        (b"CSeq: 1 REGISTER", b"CSeq: one REGISTER", "malformed CSeq"),
        (b"CSeq: 1 REGISTER", b"CSeq: 1", "malformed CSeq"),
        (b"Max-Forwards: 70", b"Max-Forwards: 256", "malformed Max-Forwards"),
        (b"Content-Length: 0", b"Content-Length: zero", "malformed Content-Length"),
        (b"Content-Length: 0", b"Content-Length: 12", "Content-Length larger than the message"),
        (b"Expires: 3600", b"Expires 3600", "header line without colon"),
        (b"Expires: 3600", b"Exp ires: 3600", "malformed header name"),
        (b"Expires: 3600", b"Via: ", "empty Via entry"),
        (b"To: <sip", b'To: "unclosed <sip', "malformed To"),
        (b"To: <sip:34020000001180000001@3402000000>", b"To: sip:a@b>", "malformed To"),
        (b"Expires: 3600", b"Expires: 36\r00", "control character in header"),
        (b" sip:34020000002000000001@3402000000", b" 3402000000", "malformed Request-URI"),
        (b" sip:34020000002000000001@3402000000", b" sip:", "malformed Request-URI"),
        (b" SIP/2.0\r\n", b" SIP/2\r\n", "malformed SIP version"),
        (b" SIP/2.0\r\n", b" SIP/3.0\r\n", "unsupported SIP version"),
    ],
)
def test_bad_requests_are_answerable_with_a_precise_reason(
    old: bytes, new: bytes, reason: str
) -> None:
    data = REGISTER.replace(old, new, 1)
    assert data != REGISTER
    error = rejected(data)
    assert error.reason == reason
    assert error.can_answer and error.partial is not None
    assert error.partial.method == "REGISTER"
    response = build_response(error.partial, error.status_hint, error.response_reason)
    wire = response.to_bytes()
    assert wire.startswith(f"SIP/2.0 {error.status_hint} {error.response_reason}\r\n".encode())
    assert b"\r\nCall-ID: 6a2d97c40e1b4d7e@192.168.20.64\r\n" in wire
    assert b"\r\nVia: SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK3f81a2c7\r\n" in wire


@pytest.mark.parametrize(
    "via",
    [
        b"SIP/2.0/UDP 192.168.20.64:\xb2;rport;branch=z9hG4bK3f81a2c7",  # "\xb2" is latin-1 "²"
        "SIP/2.0/UDP 192.168.20.64:٥٠٦٠;branch=z9hG4bK3f81a2c7".encode(),
        b"SIP/2.0/UDP 192.168.20.64:99999;branch=z9hG4bK3f81a2c7",
        b"SIP/2.0/UDP 192.168.20.64:0;branch=z9hG4bK3f81a2c7",
        b"SIP/2.0 192.168.20.64;branch=z9hG4bK3f81a2c7",
        b"HTTP/1.1/UDP 192.168.20.64;branch=z9hG4bK3f81a2c7",
        b"SIP/2.0/UDP [::1;branch=z9hG4bK3f81a2c7",
    ],
)
def test_a_request_whose_top_via_cannot_be_read_is_answerable_400(via: bytes) -> None:
    # Without a readable top Via there is no transaction to match; the answer goes back to
    # the packet's source with the Via echoed verbatim (RFC 3581).
    data = REGISTER.replace(b"SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK3f81a2c7", via)
    error = rejected(data)
    assert (error.reason, error.status_hint) == ("malformed Via", 400)
    assert error.partial is not None
    wire = build_response(error.partial, 400, error.response_reason).to_bytes()
    assert wire.startswith(b"SIP/2.0 400 Bad Request (malformed Via)\r\n")


def test_a_response_whose_top_via_cannot_be_read_is_dropped() -> None:
    response = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:\xb2;branch=z9hG4bKa\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n\r\n"
    )
    error = rejected(response)
    assert error.reason == "malformed Via" and error.partial is None


def test_request_with_a_malformed_method_is_not_answered() -> None:
    error = rejected(REGISTER.replace(b"REGISTER sip", b"REG(STER sip"))
    assert error.reason == "malformed method" and error.partial is None


def test_missing_mandatory_header_cannot_be_answered() -> None:
    for line in (b"Via: ", b"From: ", b"To: ", b"Call-ID: ", b"CSeq: "):
        start = REGISTER.index(line)
        end = REGISTER.index(b"\r\n", start) + 2
        error = rejected(REGISTER[:start] + REGISTER[end:])
        assert error.reason == f"missing {line[:-2].decode()}"
        assert error.partial is None and not error.can_answer


def test_version_error_has_status_505() -> None:
    error = rejected(REGISTER.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
    assert error.status_hint == 505
    assert error.response_reason == "Version Not Supported (unsupported SIP version)"


@pytest.mark.parametrize(
    "start_line",
    [b"SIP/2.0 99 Too Low", b"SIP/2.0 700 Too High", b"SIP/2.0 2OO OK", b"SIP/3.0 200 OK"],
)
def test_bad_status_lines_are_dropped(start_line: bytes) -> None:
    data = REGISTER.replace(b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0", start_line)
    assert rejected(data).partial is None


@pytest.mark.parametrize(
    "data", [b"", b"\r\n", b"hello world\r\n\r\n", b"\x00\xff\xfe" * 40, b": x\r\n\r\n"]
)
def test_garbage_is_dropped(data: bytes) -> None:
    assert not rejected(data).can_answer


def test_continuation_before_any_header_is_rejected() -> None:
    data = REGISTER.replace(b"\r\nVia", b"\r\n folded\r\nVia", 1)
    assert rejected(data).reason == "continuation line before any header"


# -- limits -----------------------------------------------------------------------------


def test_oversize_datagram_is_413_and_answerable() -> None:
    limits = ParserLimits(max_message_size=500)
    error = rejected(with_body(b"x" * 200, None), limits)
    assert (error.status_hint, error.reason, error.can_answer) == (413, "message too large", True)


def test_body_limit_and_header_limits() -> None:
    assert rejected(with_body(b"x" * 20, None), ParserLimits(max_body=10)).status_hint == 413
    assert rejected(REGISTER, ParserLimits(max_headers=5)).reason == "too many headers"
    error = rejected(REGISTER, ParserLimits(max_header_line=40))
    assert (error.reason, error.status_hint) == ("header line too long", 413)


def test_header_count_limit_counts_split_list_entries() -> None:
    data = REGISTER.replace(b"Max-Forwards", b"Route: <sip:a>, <sip:b>, <sip:c>\r\nMax-Forwards")
    assert rejected(data, ParserLimits(max_headers=11)).reason == "too many headers"
    assert request(data).headers.get_all("Route") == ["<sip:a>", "<sip:b>", "<sip:c>"]


# -- keep-alive pings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"\r\n", b"\r\n\r\n", b"jaK\r\n\r\n", b"\x00", b"ping", b"   \t\r\n" * 50]
)
def test_keepalive_pings_are_recognised(data: bytes) -> None:
    assert is_keepalive_ping(data)


@pytest.mark.parametrize("data", [REGISTER, b"\r\n" + REGISTER, b"INVITE", b"SIP/2.0", b"ACK x"])
def test_sip_is_never_a_keepalive_ping(data: bytes) -> None:
    assert not is_keepalive_ping(data)
