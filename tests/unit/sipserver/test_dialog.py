"""Pure dialog builders: INVITE, ACK for 2xx, BYE, INFO, CANCEL (RFC 3261 §9.1, §12, §13)."""

from __future__ import annotations

from farmwatch.sipserver.device_requests import Originator
from farmwatch.sipserver.dialog import Dialog, DialogId, build_cancel, build_invite, request_matches
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.headers import Headers
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.parser import parse_message

PLATFORM = Originator("34020000002000000001", "3402000000", "farmwatch-test")
CHANNEL = "34020000001310000001"
DEVICE = Address("192.168.20.64", 5060)


def invite(transport: Transport = Transport.UDP) -> SipRequest:
    return build_invite(
        PLATFORM,
        channel_id=CHANNEL,
        dest=Address(DEVICE.host, DEVICE.port, transport),
        body=b"v=0\r\n",
        subject=f"{CHANNEL}:0200000001,34020000002000000001:0",
        local_host="192.168.10.5",
        local_port=5060,
        branch="z9hG4bK7e2a90c4b1",
    )


def ok(request: SipRequest, *, record_route: tuple[str, ...] = ()) -> SipResponse:
    extra = (
        ("Contact", f"<sip:{CHANNEL}@192.168.20.64:5062>"),
        *(("Record-Route", r) for r in record_route),
    )
    return build_response(request, 200, to_tag="2045118366", extra=extra)


def test_invite_has_the_gb_request_uri_to_from_subject_and_its_own_via() -> None:
    request = invite()
    assert request.uri == f"sip:{CHANNEL}@192.168.20.64:5060"
    assert request.headers.get("To") == f"<sip:{CHANNEL}@192.168.20.64:5060>"
    assert str(request.from_.uri) == "sip:34020000002000000001@3402000000" and request.from_.tag
    assert request.headers.get("Subject") == f"{CHANNEL}:0200000001,34020000002000000001:0"
    assert request.headers.get("Contact") == "<sip:34020000002000000001@192.168.10.5:5060>"
    assert request.content_type == "application/sdp"
    assert request.top_via.branch == "z9hG4bK7e2a90c4b1" and request.top_via.transport == "UDP"
    assert request.top_via.has_param("rport")
    assert str(request.cseq) == "1 INVITE"
    assert invite(Transport.TCP).top_via.transport == "TCP"
    assert invite().call_id != request.call_id


def test_the_request_survives_the_wire() -> None:
    request = invite()
    parsed = parse_message(request.to_bytes())
    assert isinstance(parsed, SipRequest)
    assert parsed.headers.get("Subject") == request.headers.get("Subject")
    assert parsed.body == b"v=0\r\n"


def test_dialog_from_the_2xx_takes_tags_contact_and_reversed_record_route() -> None:
    request = invite()
    dialog = Dialog.from_success(request, ok(request, record_route=("<sip:p1;lr>", "<sip:p2;lr>")))
    assert dialog.id == DialogId(request.call_id, request.from_.tag or "", "2045118366")
    assert dialog.remote_target == f"sip:{CHANNEL}@192.168.20.64:5062"
    assert dialog.route_set == ("<sip:p2;lr>", "<sip:p1;lr>")
    assert dialog.invite_cseq == dialog.local_cseq == 1


def test_ack_for_2xx_repeats_the_cseq_number_and_goes_to_the_contact() -> None:
    request = invite()
    ack = Dialog.from_success(request, ok(request, record_route=("<sip:p1;lr>",))).build_ack()
    assert ack.method == "ACK" and str(ack.cseq) == "1 ACK"
    assert ack.uri == f"sip:{CHANNEL}@192.168.20.64:5062"
    assert ack.to.tag == "2045118366" and ack.from_.tag == request.from_.tag
    assert ack.call_id == request.call_id
    assert ack.headers.get_all("Route") == ["<sip:p1;lr>"]
    assert ack.headers.get("Via") is None  # the endpoint adds one with a new branch
    assert ack.body == b"" and ack.headers.get("Max-Forwards") == "70"


def test_bye_and_info_take_the_next_cseq_numbers() -> None:
    request = invite()
    dialog = Dialog.from_success(request, ok(request))
    dialog, info = dialog.build_info(b"PLAY RTSP/1.0\r\nCSeq: 3\r\nScale: 2.0\r\n")
    dialog, bye = dialog.build_bye()
    assert str(info.cseq) == "2 INFO" and str(bye.cseq) == "3 BYE"
    assert info.headers.get("Content-Type") == "Application/MANSRTSP"
    assert info.body.startswith(b"PLAY RTSP/1.0")
    for sent in (info, bye):
        assert sent.uri == dialog.remote_target
        assert sent.from_.tag == request.from_.tag and sent.to.tag == "2045118366"
        assert sent.headers.get("Contact") == request.headers.get("Contact")
    assert dialog.local_cseq == 3


def test_cancel_repeats_the_invite_branch_uri_and_cseq_number() -> None:
    request = invite()
    cancel = build_cancel(request)
    assert cancel.method == "CANCEL" and cancel.uri == request.uri
    assert cancel.headers.get("Via") == request.headers.get("Via")
    assert str(cancel.cseq) == "1 CANCEL"
    assert cancel.headers.get("To") == request.headers.get("To")  # no tag
    assert cancel.headers.get("From") == request.headers.get("From")
    assert cancel.body == b"" and cancel.headers.get("Subject") is None


def test_incoming_requests_match_the_dialog_by_call_id_and_both_tags() -> None:
    request = invite()
    dialog = Dialog.from_success(request, ok(request))
    local = request.from_.tag
    headers = {
        "Call-ID": request.call_id,
        "From": f"<sip:{CHANNEL}@3402000000>;tag=2045118366",
        "To": f"<sip:34020000002000000001@3402000000>;tag={local}",
    }

    def bye(**changes: str) -> SipRequest:
        pairs = {**headers, **changes, "CSeq": "5 BYE"}
        return SipRequest("BYE", "sip:x@y", Headers.of(pairs.items()))

    assert request_matches(dialog, bye())
    assert not request_matches(dialog, bye(**{"Call-ID": "other"}))
    assert not request_matches(dialog, bye(From=f"<sip:{CHANNEL}@3402000000>;tag=zzz"))
