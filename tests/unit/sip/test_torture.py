"""RFC 4475 §3.1 torture messages (written for this project) through `parse_message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.parser import MalformedMessage, StreamParser, parse_message

TORTURE = Path(__file__).resolve().parents[2] / "data" / "sip" / "torture"
SDP_LENGTH = 150


def read(kind: str, name: str) -> bytes:
    return (TORTURE / kind / f"{name}.dat").read_bytes()


def valid_request(name: str) -> SipRequest:
    message = parse_message(read("valid", name))
    assert isinstance(message, SipRequest)
    return message


def test_fixtures_keep_their_crlf_line_ends() -> None:
    data = read("valid", "wsinv")
    assert b"\r\n\r\nv=0\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_wsinv_whitespace_folding_and_compact_forms() -> None:
    message = valid_request("wsinv")
    assert message.method == "INVITE"
    assert message.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert message.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert (message.cseq.number, message.cseq.method) == (9, "INVITE")
    assert message.header("Max-Forwards") == "0068"
    assert message.to.tag == "1918181833n"
    assert message.from_.tag == "98asjd8"
    assert message.header("Subject") == ""
    assert message.header("NewFangledHeader") == "newfangled value continued newfangled value"
    assert message.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert message.header("Route") == (
        "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"
    )
    vias = message.headers.get_all("Via")
    assert len(vias) == 3
    assert vias[1].startswith("SIP  / 2.0  / TCP     spindle.example.com")
    assert vias[2].endswith("branch= z9hG4bK30239")
    assert message.contact is not None and message.contact.param("q") == "0.33"
    assert len(message.body) == SDP_LENGTH and message.content_type == "application/sdp"


def test_intmeth_unusual_method_uri_and_escaped_controls() -> None:
    message = valid_request("intmeth")
    method = "!interesting-Method0123456789_*+`.%~'" * 2
    assert message.method == method
    assert message.uri.endswith("weird!*pas$wo~d_too.(doesn't-it)@example.com")
    # The CSeq method is compared verbatim (methods are case-sensitive, RFC 3261 §7.1).
    assert message.header("CSeq") == f"139122385 {method}"
    assert message.header("Call-ID") == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    # quoted-pair may escape NUL, BEL and DEL inside a quoted display name.
    to = message.header("To")
    assert to is not None and "\\\x00" in to and "\\\x7f" in to
    assert message.header("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"
    assert message.body == b""


def test_esc01_escapes_stay_verbatim() -> None:
    message = valid_request("esc01")
    assert message.uri == "sip:sips%3Auser%40example.com@example.net"
    assert message.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert message.header("Content-Type") == "application/sdp"
    assert message.header("Contact") == (
        "<sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>"
    )
    assert len(message.body) == SDP_LENGTH


def test_escnull_escaped_nul_is_just_text() -> None:
    message = valid_request("escnull")
    assert message.header("To") == "sip:null-%00-null@example.com"
    assert message.headers.get_all("Contact") == [
        "<sip:%00@host5.example.com>",
        "<sip:%00%00@host5.example.com>",
    ]
    assert message.cseq.number == 14398234


def test_esc02_escaped_method_and_unknown_header_name() -> None:
    message = valid_request("esc02")
    assert message.method == "RE%47IST%45R"
    assert message.header("CSeq") == "29344 RE%47IST%45R"
    # `C%6Fntact` is not Contact: header names are never unescaped.
    assert len(message.headers.get_all("Contact")) == 2
    assert message.header("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_display_name_without_space() -> None:
    message = valid_request("lwsdisp")
    assert message.from_.display_name == "caller"
    assert message.from_.tag == "323"


def test_longreq_long_values_many_vias_and_route_lists() -> None:
    message = valid_request("longreq")
    vias = message.headers.get_all("Via")
    assert len(vias) == 33
    assert vias[0] == "SIP/2.0/TCP sip40.example.com;branch=z9hG4bK0040"
    assert vias[-1] == "SIP/2.0/TCP sip8.example.com"
    routes = message.headers.get_all("Record-Route")
    assert len(routes) == 21 and routes[-1] == "<sip:last.example.com;lr>"
    assert len(message.call_id) > 300
    assert message.to.display_name is not None and "extreme extreme" in message.to.display_name
    assert len(message.body) == SDP_LENGTH


def test_dblreq_only_the_first_request_of_a_datagram_counts() -> None:
    data = read("valid", "dblreq")
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    assert (message.method, message.body) == ("REGISTER", b"")
    # On a stream the same bytes are two messages (RFC 3261 §18.3).
    methods = [item.method for item in StreamParser().feed(data) if isinstance(item, SipRequest)]
    assert methods == ["REGISTER", "INVITE"]


def test_semiuri_and_folded_accept() -> None:
    message = valid_request("semiuri")
    assert message.uri == "sip:user;par=u%40example.net@example.com"
    assert message.header("Accept") == (
        "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, "
        "message/sip, message/sipfrag"
    )


def test_transports_all_via_entries_kept_in_order() -> None:
    message = valid_request("transports")
    assert [via.transport for via in message.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert message.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_binary_body_is_bytes_of_content_length() -> None:
    data = read("valid", "mpart01")
    message = valid_request("mpart01")
    assert message.header("Content-Length") == str(len(message.body))
    assert data.endswith(message.body)
    assert b"\x00\x01\x02" in message.body and b"\r\n\r\n\n\n" in message.body


def test_unreason_utf8_reason_phrase() -> None:
    message = parse_message(read("valid", "unreason"))
    assert isinstance(message, SipResponse)
    assert message.status == 200
    assert message.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(message.body) == SDP_LENGTH


def test_noreason_empty_reason_phrase() -> None:
    message = parse_message(read("valid", "noreason"))
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason) == (100, "")


def test_novel_status_code_and_unknown_scheme() -> None:
    response = parse_message(read("valid", "novelsc"))
    assert isinstance(response, SipResponse) and response.status == 399
    assert valid_request("unkscm").uri == "nobodyKnowsThisScheme:totallyopaquecontent"


def test_regescrt_escaped_route_inside_contact_brackets() -> None:
    message = valid_request("regescrt")
    assert message.header("Contact") == "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>"


# name → (status_hint, answerable): rejected as RFC 4475 §3.1.2 asks.
REJECTED = {
    "badinv01": (400, True),  # empty Via list entries
    "clerr": (400, True),  # Content-Length larger than the datagram (RFC 3261 §18.3)
    "ncl": (400, True),  # negative Content-Length
    "scalar02": (400, True),  # CSeq beyond 2**31
    "scalarlg": (400, True),  # Content-Length beyond 10 digits
    "scalarls": (400, False),  # a response: dropped, never answered
    "quotbal": (400, True),  # unterminated quoted string in To
    "ltgtruri": (400, True),  # <> around the Request-URI
    "lwsruri": (400, True),  # whitespace inside the Request-URI
    "lwsstart": (400, True),  # several SP in the request line
    "trws": (400, True),  # trailing whitespace after SIP/2.0
    "escruri": (400, True),  # header part in a SIP Request-URI
    "badvers": (505, True),
    "mismatch01": (400, True),  # CSeq method INVITE in an OPTIONS
    "mismatch02": (400, True),  # CSeq method INVITE in a NEWMETHOD
    "multi01": (400, True),  # two Call-ID, CSeq, From, To, Max-Forwards
    "mcl01": (400, True),  # two Content-Length
    "insuf": (400, False),  # no From, To or Call-ID: nothing to answer with
    "bigcode": (400, False),  # status code with 10 digits; a response, dropped
    "ctlchar": (400, True),  # raw control character in a header line
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_invalid_messages_are_rejected_with_the_right_answer(name: str) -> None:
    status, answerable = REJECTED[name]
    with pytest.raises(MalformedMessage) as caught:
        parse_message(read("invalid", name))
    error = caught.value
    assert isinstance(error, RemoteProtocolError)
    assert (error.status_hint, error.can_answer) == (status, answerable)
    assert (error.partial is not None) == answerable
    if error.partial is not None:
        assert error.partial.call_id
        assert error.partial.headers.get_all("Via")


def test_rejected_requests_salvage_the_headers_a_response_needs() -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_message(read("invalid", "mismatch01"))
    partial = caught.value.partial
    assert partial is not None
    assert (partial.method, partial.uri) == ("OPTIONS", "sip:user@example.com")
    assert partial.call_id == "mismatch01.dj0234sxdfl3"
    assert partial.top_via.branch == "z9hG4bKkdjuw"
    assert caught.value.response_reason == (
        "Bad Request (CSeq method does not match the request method)"
    )


def test_multi01_partial_keeps_only_the_first_of_each_single_header() -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_message(read("invalid", "multi01"))
    partial = caught.value.partial
    assert partial is not None
    assert partial.headers.get_all("Call-ID") == ["multi01.98asdh@192.0.2.1"]
    assert partial.headers.get_all("CSeq") == ["5 INVITE"]
    assert partial.headers.get_all("To") == ["sip:user@example.com"]


# Accepted on purpose: the parser does not interpret these headers, and GB/T 28181
# devices are known to bend the same rules, so refusing here would cost real devices.
ACCEPTED = {
    # Date is not interpreted; GB devices and platforms send `2024-03-15T10:21:07.512`,
    # which RFC 3261 forbids just as it forbids EST (gb28181.md §10 item 11).
    "baddate": "Date",
    # Contact semantics (an unbracketed URI with headers) are the registrar's to judge;
    # the parser keeps the value verbatim.
    "regbadct": "Contact",
    # SP inside <> of To: NameAddress strips it; rejecting buys nothing.
    "badaspec": "To",
    # An unquoted display name with a comma: From and To are not list headers here, so
    # the comma cannot be misread as a second value.
    "baddn": "From",
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_deliberately_accepted_invalid_messages(name: str) -> None:
    message = parse_message(read("invalid", name))
    assert isinstance(message, SipRequest)
    assert message.header(ACCEPTED[name])


def test_badaspec_and_baddn_still_yield_usable_addresses() -> None:
    badaspec = parse_message(read("invalid", "badaspec"))
    assert badaspec.to.uri.user == "t.watson"
    baddn = parse_message(read("invalid", "baddn"))
    assert baddn.from_.display_name == "Bell, Alexander" and baddn.from_.tag == "43"


def test_every_fixture_is_covered() -> None:
    invalid = {path.stem for path in (TORTURE / "invalid").glob("*.dat")}
    assert invalid == set(REJECTED) | set(ACCEPTED)
    assert len(list((TORTURE / "valid").glob("*.dat"))) == 16
