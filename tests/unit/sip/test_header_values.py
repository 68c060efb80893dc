"""Typed header values: what a peer can put in them gives a value or a `RemoteProtocolError`.

`str.isdigit` is true of digits `int()` refuses (`²`, `٣`), so every number is checked
for ASCII digits first; a Via port byte `\\xb2` used to raise `ValueError` out of the
transaction layer, once per datagram, with a traceback.
"""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.headers import CSeq, Headers, NameAddress, Via
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.uri import SipUri, contact_uri, uri_host

NOT_INT = ["²", "١٢", "5⁰6⁰", "𝟓𝟎𝟔𝟎"]


@pytest.mark.parametrize("port", NOT_INT)
def test_a_via_port_int_cannot_read_is_a_protocol_error(port: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Via.parse(f"SIP/2.0/UDP 192.0.2.7:{port};rport;branch=z9hG4bKa")
    with pytest.raises(RemoteProtocolError):
        Via.parse(f"SIP/2.0/UDP [2001:db8::1]:{port};branch=z9hG4bKa")


@pytest.mark.parametrize("port", NOT_INT)
def test_a_uri_port_int_cannot_read_is_a_protocol_error(port: str) -> None:
    with pytest.raises(RemoteProtocolError):
        SipUri.parse(f"sip:34020000001320000001@192.0.2.7:{port}")
    with pytest.raises(RemoteProtocolError):
        SipUri.parse(f"sip:[2001:db8::1]:{port}")
    with pytest.raises(RemoteProtocolError):
        NameAddress.parse(f"<sip:34020000001320000001@192.0.2.7:{port}>;tag=1")


@pytest.mark.parametrize("value", [*NOT_INT, "", " ", "-1", "3600s"])
def test_an_expires_int_cannot_read_is_no_expires(value: str) -> None:
    request = SipRequest("REGISTER", "sip:x@y", Headers((("Expires", value),)))
    assert request.expires is None


def test_an_expires_number_is_read() -> None:
    request = SipRequest("REGISTER", "sip:x@y", Headers((("Expires", " 3600 "),)))
    assert request.expires == 3600


@pytest.mark.parametrize("number", NOT_INT)
def test_a_cseq_number_int_cannot_read_is_a_protocol_error(number: str) -> None:
    with pytest.raises(RemoteProtocolError):
        CSeq.parse(f"{number} REGISTER")


@pytest.mark.parametrize(
    ("text", "transport", "host", "port"),
    [
        # RFC 3261 §25.1: SLASH = SWS "/" SWS, and LWS between sent-protocol and sent-by.
        ("SIP / 2.0 / UDP 192.0.2.7:5060;branch=z9hG4bKa", "UDP", "192.0.2.7", 5060),
        ("SIP  / 2.0  / TCP     spindle.example.com   ;branch=z9hG4bKa", "TCP",
         "spindle.example.com", None),
        ("sip/2.0/udp\t192.0.2.7 : 5062 ;branch=z9hG4bKa", "UDP", "192.0.2.7", 5062),
        ("SIP/2.0/UDP [2001:db8::1] : 5060;branch=z9hG4bKa", "UDP", "[2001:db8::1]", 5060),
    ],
)  # fmt: skip
def test_via_sent_protocol_with_linear_whitespace(
    text: str, transport: str, host: str, port: int | None
) -> None:
    via = Via.parse(text)
    assert (via.transport, via.host, via.port, via.branch) == (transport, host, port, "z9hG4bKa")


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP",
        "SIP/2.0 192.0.2.7",
        "SIP/2.0/UDP/X 192.0.2.7",
        "SIPS/2.0/UDP 192.0.2.7",
        "SIP/2.0/UDP 192.0.2.7:0",
        "SIP/2.0/UDP 192.0.2.7:65536",
        "SIP/2.0/UDP :5060",
        "SIP/2.0/UDP [2001:db8::1",
    ],
)
def test_malformed_vias_are_protocol_errors(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Via.parse(text)


def test_a_quoted_display_name_may_hold_angle_brackets() -> None:
    address = NameAddress.parse('"a<b>c" <sip:34020000001320000001@3402000000>;tag=t1')
    assert address.uri.user == "34020000001320000001"
    assert address.uri.host == "3402000000"
    assert address.tag == "t1"
    escaped = NameAddress.parse('"x\\"<y" <sip:u@h>')
    assert (escaped.uri.user, escaped.uri.host) == ("u", "h")


@pytest.mark.parametrize(
    ("host", "printed"),
    [("192.168.1.20", "192.168.1.20"), ("::1", "[::1]"), ("[fe80::1]", "[fe80::1]"),
     ("platform.example", "platform.example")],
)  # fmt: skip
def test_a_contact_of_ours_reads_back_as_written(host: str, printed: str) -> None:
    assert uri_host(host) == printed
    contact = NameAddress.parse(contact_uri("34020000002000000001", host, 5060))
    assert contact.uri == SipUri(host=printed, user="34020000002000000001", port=5060)
