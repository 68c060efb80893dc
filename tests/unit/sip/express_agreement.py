"""The express/general agreement check, shared by the express tests and the fuzz smoke."""

from __future__ import annotations

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.express import ExpressRequest, Reply, express_response
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.parser import parse_message
from farmwatch.sipserver.sip.transaction_effects import TransactionKey
from farmwatch.sipserver.sip.transaction_layer import stamp_received

SOURCE = Address("192.0.2.7", 40123, Transport.UDP)


def general(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def assert_agrees(data: bytes, express: ExpressRequest) -> None:
    """The general path accepts `data` and reads every value the express path read alike."""
    request = general(data)  # the parser accepts it (no 400)
    headers = request.headers
    assert express.method == request.method
    assert express.request_uri == request.uri
    assert express.call_id == request.call_id
    assert express.cseq == (headers.get("CSeq") or "").strip()
    assert express.cseq_number == request.cseq.number
    from_ = request.from_  # readable, as the registrar and the keepalive handler need it
    assert express.from_user == (from_.uri.user or "").strip()
    assert from_.tag
    assert express.from_ == headers.get("From")
    assert express.to == headers.get("To")
    request.to  # noqa: B018 - readable too
    via = request.top_via
    assert express.via == headers.get("Via")
    assert express.branch == via.branch
    assert express.via_transport == via.transport
    assert (express.via_host, express.via_port) == (via.host, via.port)
    key = TransactionKey.of(request)
    assert express.transaction_key == (key.branch, key.method, *key.sent_by)
    for name, value in (
        ("Contact", express.contact),
        ("Expires", express.expires),
        ("Authorization", express.authorization),
        ("Content-Type", express.content_type),
        ("User-Agent", express.user_agent),
        ("X-GB-Ver", express.gb_version),
    ):
        expected = headers.get(name)
        assert value == (expected.strip() if expected is not None else None), name
    assert express.media_type == request.content_type
    assert express.body == request.body
    # The answer: the same Via stamping (received, rport) and the same echoed headers.
    reply = Reply(200, None, (("Expires", "3600"),))
    sent = parse_message(express_response(express, SOURCE, reply, "t0"))
    assert isinstance(sent, SipResponse)
    expected_response = build_response(
        stamp_received(request, SOURCE), 200, to_tag="t0", extra=reply.extra
    )
    assert sent.top_via == expected_response.top_via
    for name in ("From", "To", "Call-ID", "CSeq", "Expires"):
        assert sent.header(name) == expected_response.header(name), name
