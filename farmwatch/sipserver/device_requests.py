"""Requests the platform sends to a registered device (gb28181.md §2 item 4, §4, §5.2).

Pure builders: MESSAGE with a MANSCDP body, and catalog SUBSCRIBE, initial or inside
the subscription's dialog. Request-URI and To are `sip:<target>@<device address>`
(wvp's choice, which devices accept), From is `sip:<platform ID>@<domain>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag
from farmwatch.sipserver.sip.uri import contact_uri, uri_host

MANSCDP_CONTENT_TYPE = "Application/MANSCDP+xml"


@dataclass(frozen=True, slots=True)
class Originator:
    """Who we are in requests: our ID, domain, and the host:port devices reach us at."""

    platform_id: str
    domain: str
    user_agent: str

    def from_header(self, tag: str) -> str:
        return f"<sip:{self.platform_id}@{self.domain}>;tag={tag}"

    def contact(self, local_host: str, port: int) -> str:
        return contact_uri(self.platform_id, local_host, port)


def target_uri(target_id: str, dest: Address) -> str:
    return f"sip:{target_id}@{uri_host(dest.host)}:{dest.port}"


def build_manscdp_message(
    originator: Originator,
    *,
    target_id: str,
    dest: Address,
    body: bytes,
    local_host: str,
    local_port: int,
) -> SipRequest:
    uri = target_uri(target_id, dest)
    return build_request(
        "MESSAGE",
        uri,
        from_=originator.from_header(new_tag()),
        to=f"<{uri}>",
        call_id=new_call_id(local_host),
        cseq=1,
        user_agent=originator.user_agent,
        body=body,
        content_type=MANSCDP_CONTENT_TYPE,
    )


@dataclass(frozen=True, slots=True)
class SubscriptionDialog:
    """The dialog a catalog SUBSCRIBE created (RFC 6665 §4.1)."""

    device_id: str
    call_id: str
    local_tag: str
    remote_tag: str | None
    remote_target: str
    event: str
    cseq: int
    expires_at: float | None = None
    """When the device drops it unless refreshed (loop time); None while unknown."""


def build_subscribe(
    originator: Originator,
    dialog: SubscriptionDialog,
    *,
    dest: Address,
    expires: int,
    body: bytes,
    local_host: str,
    local_port: int,
) -> SipRequest:
    """An initial (remote_tag None) or in-dialog SUBSCRIBE; `expires` 0 unsubscribes."""
    to_uri = target_uri(dialog.device_id, dest)
    to = f"<{to_uri}>" if dialog.remote_tag is None else f"<{to_uri}>;tag={dialog.remote_tag}"
    return build_request(
        "SUBSCRIBE",
        dialog.remote_target,
        from_=originator.from_header(dialog.local_tag),
        to=to,
        call_id=dialog.call_id,
        cseq=dialog.cseq,
        contact=originator.contact(local_host, local_port),
        user_agent=originator.user_agent,
        extra=(("Event", dialog.event), ("Expires", str(expires))),
        body=body,
        content_type=MANSCDP_CONTENT_TYPE,
    )
