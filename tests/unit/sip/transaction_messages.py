"""Requests and responses for the transaction tests, built without the parser."""

from __future__ import annotations

from farmwatch.sipserver.sip.headers import Headers
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.transaction_effects import new_branch

DEVICE_URI = "sip:34020000001320000001@10.0.0.2:5060"


def make_request(
    method: str,
    *,
    branch: str | None = None,
    call_id: str = "call-1@10.0.0.1",
    cseq: int = 1,
    cseq_method: str | None = None,
    from_tag: str = "uac-tag",
    to_tag: str | None = None,
    via_host: str = "10.0.0.1",
    via_port: int = 5060,
    transport: str = "UDP",
    rport: bool = False,
    routes: tuple[str, ...] = (),
    uri: str = DEVICE_URI,
) -> SipRequest:
    """A minimal valid request; `branch=None` draws a fresh RFC 3261 branch."""
    via = f"SIP/2.0/{transport} {via_host}:{via_port};branch={branch or new_branch()}"
    if rport:
        via += ";rport"
    to = "<sip:34020000001320000001@3402000000>" + (f";tag={to_tag}" if to_tag else "")
    pairs = [
        ("Via", via),
        ("Max-Forwards", "70"),
        *(("Route", route) for route in routes),
        ("From", f"<sip:34020000002000000001@3402000000>;tag={from_tag}"),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {cseq_method or method}"),
    ]
    return SipRequest(method=method, uri=uri, headers=Headers(tuple(pairs)))


def make_response(request: SipRequest, status: int, to_tag: str = "uas-tag") -> SipResponse:
    return build_response(request, status, to_tag=to_tag)


def make_ack_for_2xx(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The TU's ACK to a 2xx: a new branch, same Call-ID/From/CSeq number, To with tag."""
    ack = make_request(
        "ACK",
        call_id=invite.call_id,
        cseq=invite.cseq.number,
        from_tag=invite.from_.tag or "",
        to_tag=response.to.tag,
    )
    return ack
