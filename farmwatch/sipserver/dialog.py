"""The UAC side of an INVITE dialog (RFC 3261 §12, §13.2.2.4; gb28181.md §2 items 6-7).

`Dialog` is a pure value: its id (Call-ID, our tag, the device's tag), both parties'
header values, the remote target (the 2xx Contact), the route set (the 2xx Record-Route
reversed) and our CSeq counter. It builds the requests sent inside it: the ACK for a 2xx
(same CSeq number as the INVITE, method ACK; Request-URI = remote target), and BYE or
INFO with the next CSeq number (`Dialog.next_request` returns the advanced dialog with
the request). `build_invite` builds the initial INVITE (gb28181.md §6.2, §6.7, §11.4) and
`build_cancel` the CANCEL of an unanswered one (§9.1).

Only loose routing is supported (GB/T 28181 peers talk directly, without proxies):
the Route headers carry the route set and the Request-URI is the remote target.
In-dialog requests are built without Via (the endpoint adds one with a new branch);
the INVITE carries its own so that its CANCEL can repeat the branch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from farmwatch.sipserver.device_requests import Originator, target_uri
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.headers import Headers, Via
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag
from farmwatch.sipserver.sip.transaction_effects import new_branch

MANSRTSP_CONTENT_TYPE = "Application/MANSRTSP"
SDP_CONTENT_TYPE = "application/sdp"


@dataclass(frozen=True, slots=True)
class DialogId:
    """RFC 3261 §12: Call-ID plus both tags, seen from our side."""

    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(frozen=True, slots=True)
class Dialog:
    """A confirmed dialog we created by sending INVITE (we are the UAC)."""

    id: DialogId
    local_party: str
    """Our From header value, with our tag."""
    remote_party: str
    """The To header value of the 2xx, with the device's tag."""
    remote_target: str
    """The URI of the 2xx Contact (the INVITE's Request-URI when it had none)."""
    route_set: tuple[str, ...]
    """The 2xx Record-Route entries, reversed (§12.1.2)."""
    invite_cseq: int
    """The INVITE's CSeq number, which the ACK of any 2xx repeats."""
    local_cseq: int
    """The last CSeq number we used in this dialog."""
    local_contact: str | None = None
    user_agent: str | None = None

    @classmethod
    def from_success(cls, invite: SipRequest, response: SipResponse) -> Dialog:
        """The dialog a 2xx to our INVITE establishes.

        Raises `RemoteProtocolError` when the 2xx has no To tag (no dialog can be
        identified) or unreadable From/To/Contact headers.
        """
        to = response.to
        remote_tag = to.tag
        if not remote_tag:
            raise RemoteProtocolError("2xx to INVITE without a To tag")
        local_tag = invite.from_.tag or ""
        contact = response.contact
        remote_target = str(contact.uri) if contact is not None else invite.uri
        records = [r.strip() for r in response.headers.get_all("Record-Route")]
        return cls(
            id=DialogId(invite.call_id, local_tag, remote_tag),
            local_party=invite.headers.get("From") or "",
            remote_party=response.headers.get("To") or str(to),
            remote_target=remote_target,
            route_set=tuple(reversed(records)),
            invite_cseq=invite.cseq.number,
            local_cseq=invite.cseq.number,
            local_contact=invite.headers.get("Contact"),
            user_agent=invite.headers.get("User-Agent"),
        )

    @property
    def call_id(self) -> str:
        return self.id.call_id

    def build_ack(self) -> SipRequest:
        """The ACK for the 2xx (§13.2.2.4): same CSeq number as the INVITE, no body."""
        return self._request("ACK", self.invite_cseq, with_contact=False)

    def next_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> tuple[Dialog, SipRequest]:
        """A new request inside the dialog with the next CSeq number, and the new dialog."""
        number = self.local_cseq + 1
        request = self._request(
            method, number, body=body, content_type=content_type, extra=extra, with_contact=True
        )
        return replace(self, local_cseq=number), request

    def build_bye(self) -> tuple[Dialog, SipRequest]:
        return self.next_request("BYE")

    def build_info(
        self, body: bytes, content_type: str = MANSRTSP_CONTENT_TYPE
    ) -> tuple[Dialog, SipRequest]:
        """INFO carrying MANSRTSP playback control (gb28181.md §7)."""
        return self.next_request("INFO", body=body, content_type=content_type)

    def _request(
        self,
        method: str,
        cseq: int,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        extra: tuple[tuple[str, str], ...] = (),
        with_contact: bool,
    ) -> SipRequest:
        routes = tuple(("Route", route) for route in self.route_set)
        return build_request(
            method,
            self.remote_target,
            from_=self.local_party,
            to=self.remote_party,
            call_id=self.id.call_id,
            cseq=cseq,
            contact=self.local_contact if with_contact else None,
            user_agent=self.user_agent,
            extra=routes + extra,
            body=body,
            content_type=content_type,
        )


def build_invite(
    originator: Originator,
    *,
    channel_id: str,
    dest: Address,
    body: bytes,
    subject: str,
    local_host: str,
    local_port: int,
    branch: str | None = None,
) -> SipRequest:
    """The INVITE of gb28181.md §6.2 / §11.4, with its top Via already set.

    Request-URI and To `sip:<channel>@<device address>`, From our ID@domain with a new
    tag, Contact ours, `Subject`, `Content-Type: application/sdp`. The Via is ours (not
    the endpoint's) so that a CANCEL can repeat its branch (§9.1).
    """
    uri = target_uri(channel_id, dest)
    request = build_request(
        "INVITE",
        uri,
        from_=originator.from_header(new_tag()),
        to=f"<{uri}>",
        call_id=new_call_id(local_host),
        cseq=1,
        contact=originator.contact(local_host, local_port),
        user_agent=originator.user_agent,
        extra=(("Subject", subject),),
        body=body,
        content_type=SDP_CONTENT_TYPE,
    )
    params = (("rport", None), ("branch", branch or new_branch()))
    via = Via(dest.transport.value, local_host, local_port, params)
    return request.with_headers(request.headers.prepend("Via", str(via)))


def build_cancel(invite: SipRequest) -> SipRequest:
    """CANCEL for `invite` (RFC 3261 §9.1): its Request-URI, top Via (so its branch),
    Call-ID, From, To and Route, CSeq number with method CANCEL, no body.

    `invite` must carry the Via it was sent with.
    """
    pairs: list[tuple[str, str]] = []
    top_via = invite.headers.get("Via")
    if top_via is None:
        raise LocalProtocolError("CANCEL needs the INVITE's top Via (its branch)")
    pairs.append(("Via", top_via))
    pairs.append(("Max-Forwards", "70"))
    pairs.extend(("Route", route) for route in invite.headers.get_all("Route"))
    for name in ("From", "To", "Call-ID"):
        value = invite.headers.get(name)
        if value is not None:
            pairs.append((name, value))
    pairs.append(("CSeq", f"{invite.cseq.number} CANCEL"))
    user_agent = invite.headers.get("User-Agent")
    if user_agent:
        pairs.append(("User-Agent", user_agent))
    return SipRequest(method="CANCEL", uri=invite.uri, headers=Headers(tuple(pairs)))


def request_matches(dialog: Dialog, request: SipRequest) -> bool:
    """True when an incoming request belongs to `dialog` (Call-ID and both tags, §12.2.2)."""
    if request.call_id != dialog.id.call_id:
        return False
    try:
        from_tag = request.from_.tag
        to_tag = request.to.tag
    except RemoteProtocolError:
        return False
    return from_tag == dialog.id.remote_tag and to_tag == dialog.id.local_tag


__all__ = [
    "MANSRTSP_CONTENT_TYPE",
    "Dialog",
    "DialogId",
    "SDP_CONTENT_TYPE",
    "build_cancel",
    "build_invite",
    "request_matches",
]
