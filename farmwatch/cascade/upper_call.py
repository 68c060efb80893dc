"""One upper's call: its state, the requests we send in its dialog, and reading its offer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from farmwatch.cascade.call_media import CallMedia
from farmwatch.media.node import RelayTransport
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.request_builder import build_request
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup

__all__ = [
    "UpperCall",
    "offers_ps",
    "ps_payload_type",
    "reason_phrase",
    "relay_transport",
    "send_in_dialog",
]

REQUEST_TIMEOUT = 8.0
"""Seconds a request of ours in an upper's dialog (BYE, MediaStatus) waits for its answer."""


@dataclass(slots=True)
class UpperCall:
    """One dialog of the upper, paired with one relay."""

    call_id: str
    channel_id: str
    invite: SipRequest
    source: Address
    relay_id: str
    local_tag: str = ""
    local_party: str = ""
    """Our To header in the 200 (with our tag): the From of our BYE."""
    ssrc: Ssrc | None = None
    """An SSRC we chose (released when the call ends); None when it is the upper's."""
    media: CallMedia | None = None
    is_answered: bool = False
    is_acknowledged: bool = False
    is_cancelled: bool = False
    is_ended: bool = False
    local_cseq: int = 0
    ack_timer: asyncio.TimerHandle | None = None
    recording_sent: bool = False
    """MediaStatus 121 went up: the relay's end is no reason to BYE."""
    linger: asyncio.TimerHandle | None = None


async def send_in_dialog(
    endpoint: SipEndpoint,
    call: UpperCall,
    method: str,
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse | None:
    """A request of ours in the upper's dialog (RFC 3261 §12.2.1.1): to its Contact, From
    our To of the 200, To its From, our own CSeq; its final answer, None if none came."""
    invite = call.invite
    contact = invite.contact
    call.local_cseq += 1
    request = build_request(
        method,
        str(contact.uri) if contact is not None else str(invite.from_.uri),
        from_=call.local_party,
        to=invite.headers.get("From") or "",
        call_id=call.call_id,
        cseq=call.local_cseq,
        user_agent=endpoint.settings.user_agent,
        body=body,
        content_type=content_type,
    )
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            return await endpoint.request(request, call.source)
    except (SipError, TimeoutError):
        return None


def relay_transport(offer: SessionDescription) -> RelayTransport:
    video = offer.video
    if video.transport is Transport.UDP:
        return RelayTransport.UDP
    if video.setup is Setup.ACTIVE:
        return RelayTransport.TCP_LISTEN  # the upper connects to us
    return RelayTransport.TCP_CONNECT


def offers_ps(offer: SessionDescription) -> bool:
    return any(m.encoding.upper() == "PS" for m in offer.video.rtpmaps) or (
        not offer.video.rtpmaps and 96 in offer.video.payload_types
    )


def ps_payload_type(offer: SessionDescription) -> int:
    ps = next((m for m in offer.video.rtpmaps if m.encoding.upper() == "PS"), None)
    return ps.payload_type if ps is not None else 96


def reason_phrase(error: Exception) -> str:
    text = " ".join(str(error).split())[:60]
    return "".join(ch for ch in text if ch.isprintable() and ch.isascii()) or "Unavailable"
