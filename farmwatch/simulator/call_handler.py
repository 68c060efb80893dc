"""A simulated device's side of live-video calls (gb28181.md §6.1-6.7, §6.10, §11.4, §11.5).

`CallHandler` answers INVITEs on the device's endpoint: `100 Trying`, then for a known channel
(the Request-URI user part; else 404) with a usable `s=Play` offer (else 400/488) a
`200 OK` whose SDP answer is `s=Play`, `o=<channel ID>`, `c=` the device's IP, `m=` its port,
`a=sendonly`, `a=rtpmap:96 PS/90000`, `y=` and `f=`. The SSRC is the offer's `y=`; a device
with `wrong_ssrc`, or an offer without a usable `y=` (§10 item 16), picks its own
(§6.3). Streaming starts on the ACK, or `ack_wait` seconds after the 200 when no ACK comes.
A BYE from the platform stops the stream (200; 481 for an unknown dialog); `hang_up` sends
the device's own BYE. A CANCEL of an INVITE not yet answered gets 200 and the INVITE 487.
A new INVITE for a sender ID:sequence (Subject) already streaming replaces the old stream
(§6.7). Tests steer it with `refuse(status)`, `ignore()` (no answer at all) and `accept()`.

The call table is keyed by `CallKey` (Call-ID and both tags). Each call's `MediaSender` and
ACK timer belong to the handler; `close()` stops them all.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

from farmwatch.simulator.channels import ChannelTable
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.media_sender import MediaRoute, MediaSender, SenderRole, SenderState
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import build_request, new_tag
from farmwatch.sipserver.sip.sdp import (
    SdpError,
    SessionDescription,
    SessionName,
    Setup,
    parse_sdp,
)
from farmwatch.sipserver.sip.sdp_build import build_answer

__all__ = ["CallHandler", "CallInfo", "CallKey"]

log = logging.getLogger(__name__)

SDP_CONTENT_TYPE = "application/sdp"
MAX_UNANSWERED = 256
"""INVITEs kept waiting for a CANCEL (ignored or still being answered); oldest forgotten."""


@dataclass(frozen=True, slots=True)
class CallKey:
    """The dialog of one call (RFC 3261 §12), from the device's side."""

    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A snapshot of one call for tests and logs."""

    channel_id: str
    call_id: str
    ssrc: int
    role: SenderRole
    state: SenderState
    is_acknowledged: bool
    packets_sent: int
    connect_failures: int
    route: MediaRoute
    """Where the media goes (the offer's address), e.g. for an external sender."""


class InvitePolicy(Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    IGNORE = "ignore"


@dataclass(slots=True)
class _Call:
    key: CallKey
    channel_id: str
    invite: SipRequest
    source: Address
    local_party: str
    """Our To header value in the 200 (with our tag): the From of our BYE."""
    subject: str | None
    sender: MediaSender
    is_acknowledged: bool = False
    ack_timer: asyncio.TimerHandle | None = field(default=None)

    def info(self) -> CallInfo:
        sender = self.sender
        return CallInfo(self.channel_id, self.key.call_id, sender.ssrc, sender.route.role,
                        sender.state, self.is_acknowledged, sender.packets_sent,
                        sender.connect_failures, sender.route)  # fmt: skip


@dataclass(slots=True)
class _Unanswered:
    invite: SipRequest
    is_cancelled: bool = False


class CallHandler:
    """INVITE, ACK, BYE and CANCEL of one device's channels."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        channels: ChannelTable,
        cache: MediaCache,
        media: StreamSettings,
        *,
        rng: random.Random,
        on_change: Callable[[], None],
        request_timeout: float,
    ) -> None:
        self._endpoint = endpoint
        self._channels = channels
        self._cache = cache
        self.media = media
        """Applies to calls set up from now on."""
        self._rng = rng
        self._on_change = on_change
        self._request_timeout = request_timeout
        self._calls: dict[CallKey, _Call] = {}
        self._unanswered: OrderedDict[tuple[str, str], _Unanswered] = OrderedDict()
        self._policy = InvitePolicy.ACCEPT
        self._refusal = 488
        self._closed_packets = 0
        self._bye_cseq = 0
        self.invites_received = 0
        self.byes_received = 0

    # -- observable state and controls ---------------------------------------------------

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    @property
    def packets_sent(self) -> int:
        return self._closed_packets + sum(c.sender.packets_sent for c in self._calls.values())

    @property
    def calls(self) -> tuple[CallInfo, ...]:
        return tuple(call.info() for call in self._calls.values())

    def refuse(self, status: int = 488) -> None:
        if not 300 <= status <= 699:
            raise ValueError(f"refusal status: expected 300..699, got {status}")
        self._policy, self._refusal = InvitePolicy.REFUSE, status

    def ignore(self) -> None:
        self._policy = InvitePolicy.IGNORE

    def accept(self) -> None:
        self._policy = InvitePolicy.ACCEPT

    async def close(self) -> None:
        calls = list(self._calls.values())
        self._calls.clear()
        await asyncio.gather(*(self._release(call) for call in calls))

    # -- INVITE --------------------------------------------------------------------------

    async def handle_invite(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        self.invites_received += 1
        if request.to.tag:
            return self._answer_reinvite(request)
        key = (request.call_id, request.top_via.branch or "")
        if self._policy is InvitePolicy.IGNORE:
            self._remember_unanswered(key, request)
            return None
        self._endpoint.respond(build_response(request, 100))
        channel_id = request.request_uri.user or ""
        if channel_id not in self._channels:
            return build_response(request, 404, to_tag=new_tag())
        if self._policy is InvitePolicy.REFUSE:
            return build_response(request, self._refusal, to_tag=new_tag())
        try:
            offer = parse_sdp(request.body)
        except SdpError as error:
            log.warning("channel %s: unusable offer: %s", channel_id, error.reason)
            return build_response(request, error.status_hint, to_tag=new_tag())
        if offer.session_kind is not SessionName.PLAY or not _offers_ps(offer):
            return build_response(request, 488, to_tag=new_tag())
        unanswered = self._remember_unanswered(key, request)
        try:
            call, response = await self._set_up(incoming, channel_id, offer)
        finally:
            self._unanswered.pop(key, None)
        if unanswered.is_cancelled:
            await call.sender.close()
            return None
        await self._replace_stale(call)
        self._start_call(call, response)
        return None

    async def _set_up(
        self, incoming: IncomingRequest, channel_id: str, offer: SessionDescription
    ) -> tuple[_Call, SipResponse]:
        """Encode (first time), open the media socket, build the answer and the 200."""
        request, media = incoming.request, self.media
        loop_media = await asyncio.to_thread(self._cache.get, media.spec_for(channel_id))
        ssrc = self._choose_ssrc(channel_id, offer)
        route = MediaRoute.from_offer(offer, always_connect=media.answer_setup_active)
        host = self._endpoint.local_host_for(incoming.source)
        payload_type = _ps_payload_type(offer)
        label = f"channel {channel_id} call {request.call_id}"
        sender = MediaSender(loop_media, route, media, host=self._endpoint.settings.host,
                             ssrc=int(ssrc), payload_type=payload_type, rng=self._rng,
                             on_change=self._on_change, label=label)  # fmt: skip
        port = await sender.open()
        answer = build_answer(
            offer, sender_id=channel_id, media_ip=host, port=port, ssrc=ssrc,
            media_format=media.media_format,
        )  # fmt: skip
        if media.answer_setup_active and route.role is SenderRole.TCP_CONNECT:
            answer = replace(answer, media=(replace(answer.video, setup=Setup.ACTIVE),))
        local_tag = new_tag()
        contact = f"<sip:{channel_id}@{host}:{self._endpoint.port}>"
        user_agent = self._endpoint.settings.user_agent
        response = build_response(
            request, 200, to_tag=local_tag, body=answer.serialise(),
            content_type=SDP_CONTENT_TYPE, extra=(("Contact", contact), ("User-Agent", user_agent)),
        )  # fmt: skip
        key = CallKey(request.call_id, local_tag, request.from_.tag or "")
        call = _Call(key, channel_id, request, incoming.source, response.headers.get("To") or "",
                     request.headers.get("Subject"), sender)  # fmt: skip
        return call, response

    async def _replace_stale(self, call: _Call) -> None:
        """Release the calls streaming the same sender ID:sequence (Subject, §6.7)."""
        stale = [c for c in self._calls.values() if call.subject and c.subject == call.subject]
        for old in stale:
            log.info("channel %s: new INVITE for %s replaces call %s", call.channel_id,
                     call.subject, old.key.call_id)  # fmt: skip
            del self._calls[old.key]
            await self._release(old)

    def _start_call(self, call: _Call, response: SipResponse) -> None:
        """Enter the call in the table, send the 200, start streaming on ACK or timeout."""
        self._calls[call.key] = call
        self._endpoint.respond(response)
        call.ack_timer = asyncio.get_running_loop().call_later(
            self.media.ack_wait, self._ack_overdue, call.key
        )
        log.info("channel %s: call %s answered, %s, SSRC %010d", call.channel_id,
                 call.key.call_id, call.sender.route.role.value, call.sender.ssrc)  # fmt: skip
        self._on_change()

    def _answer_reinvite(self, request: SipRequest) -> SipResponse:
        """In-dialog INVITE: 481 unless the call exists (no re-negotiation is simulated)."""
        call = self._calls.get(_key_of(request))
        return build_response(request, 481 if call is None else 488)

    def _choose_ssrc(self, channel_id: str, offer: SessionDescription) -> str:
        """The offer's `y=` unless absent, zero, or `wrong_ssrc` (then the device's own)."""
        offered = offer.ssrc if offer.ssrc_value else None  # absent, unreadable or zero
        if offered is not None and len(offered) == 10 and not self.media.wrong_ssrc:
            return offered
        while True:
            own = f"0{channel_id[3:8]}{self._rng.randrange(10_000):04d}"
            if own != offer.ssrc:
                return own

    def _remember_unanswered(self, key: tuple[str, str], invite: SipRequest) -> _Unanswered:
        entry = self._unanswered[key] = _Unanswered(invite)
        while len(self._unanswered) > MAX_UNANSWERED:
            self._unanswered.popitem(last=False)
        return entry

    # -- ACK, BYE, CANCEL ------------------------------------------------------------------

    def handle_ack(self, request: SipRequest, source: Address) -> None:
        try:
            call = self._calls.get(_key_of(request))
        except RemoteProtocolError:
            return
        if call is None or call.is_acknowledged:
            return
        call.is_acknowledged = True
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        call.sender.start()
        self._on_change()

    def _ack_overdue(self, key: CallKey) -> None:
        call = self._calls.get(key)
        if call is not None and not call.is_acknowledged:
            log.info("channel %s: no ACK for call %s, streaming anyway", call.channel_id,
                     key.call_id)  # fmt: skip
            call.sender.start()
            self._on_change()

    async def handle_bye(self, incoming: IncomingRequest) -> SipResponse:
        request = incoming.request
        self.byes_received += 1
        call = self._calls.pop(_key_of(request), None)
        if call is None:
            return build_response(request, 481)
        log.info("channel %s: call %s ended by BYE", call.channel_id, call.key.call_id)
        await self._release(call)
        self._on_change()
        return build_response(request, 200)

    async def handle_cancel(self, incoming: IncomingRequest) -> SipResponse:
        request = incoming.request
        entry = self._unanswered.get((request.call_id, request.top_via.branch or ""))
        if entry is None:
            return build_response(request, 481)
        if not entry.is_cancelled:
            entry.is_cancelled = True
            self._endpoint.respond(build_response(entry.invite, 487, to_tag=new_tag()))
        return build_response(request, 200)

    def send_key_frame(self, channel_id: str) -> int:
        """`IFameCmd` for `channel_id`: each of its calls sends a key frame next; how many."""
        calls = [call for call in self._calls.values() if call.channel_id == channel_id]
        for call in calls:
            call.sender.send_key_frame()
        return len(calls)

    async def hang_up(self, channel_id: str) -> int:
        """BYE every call of `channel_id` from the device's side; returns how many ended."""
        calls = [c for c in self._calls.values() if c.channel_id == channel_id]
        for call in calls:
            del self._calls[call.key]
            await self._release(call)
            self._on_change()
            await self._send_bye(call)
        return len(calls)

    async def _send_bye(self, call: _Call) -> None:
        invite = call.invite
        contact = invite.contact
        self._bye_cseq += 1
        bye = build_request(
            "BYE", str(contact.uri) if contact is not None else str(invite.from_.uri),
            from_=call.local_party, to=invite.headers.get("From") or "",
            call_id=call.key.call_id, cseq=self._bye_cseq,
            user_agent=self._endpoint.settings.user_agent,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._request_timeout):
                response = await self._endpoint.request(bye, call.source)
        except (SipError, TimeoutError) as error:
            log.warning("channel %s: BYE of call %s failed: %s", call.channel_id,
                        call.key.call_id, error)  # fmt: skip
            return
        log.info("channel %s: call %s hung up (%d)", call.channel_id, call.key.call_id,
                 response.status)  # fmt: skip

    # -- release -------------------------------------------------------------------------

    async def _release(self, call: _Call) -> None:
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        await call.sender.close()
        self._closed_packets += call.sender.packets_sent


def _key_of(request: SipRequest) -> CallKey:
    """The key of the call an in-dialog request belongs to (our tag is in its To)."""
    return CallKey(request.call_id, request.to.tag or "", request.from_.tag or "")


def _offers_ps(offer: SessionDescription) -> bool:
    return any(m.encoding.upper() == "PS" for m in offer.video.rtpmaps) or (
        not offer.video.rtpmaps and 96 in offer.video.payload_types
    )


def _ps_payload_type(offer: SessionDescription) -> int:
    ps = next((m for m in offer.video.rtpmaps if m.encoding.upper() == "PS"), None)
    return ps.payload_type if ps is not None else 96
