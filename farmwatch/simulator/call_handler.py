"""A simulated device's side of video calls: live, playback, download (gb28181.md §6-§7, §11.4-7).

`CallHandler` answers INVITEs on the device's endpoint: `100 Trying`, then for a known channel
(the Request-URI user part; else 404) with a usable `s=Play`, `s=Playback` or `s=Download`
offer (else 400/488) a `200 OK` whose SDP answer keeps the offer's `s=` and `t=`, with
`o=<channel ID>`, `c=` the device's IP, `m=` its port, `a=sendonly`, `a=rtpmap:96 PS/90000`,
`y=` and `f=` (a download's also `a=filesize`). The SSRC is the offer's `y=`; a device
with `wrong_ssrc`, or an offer without a usable `y=` (§10 item 16), picks its own
(§6.3). Streaming starts on the ACK, or `ack_wait` seconds after the 200 when no ACK comes.
A BYE from the platform stops the stream (200; 481 for an unknown dialog); `hang_up` sends
the device's own BYE. A CANCEL of an INVITE not yet answered gets 200 and the INVITE 487.
A new INVITE for a sender ID:sequence (Subject) already streaming replaces the old stream
(§6.7). Tests steer it with `refuse(status)`, `ignore()` (no answer at all) and `accept()`.

A playback or download streams the channel's recordings (`record_index`) over the `t=` range
through a `RecordPlayer` (`playback_control` decides the answers); INFO with MANSRTSP in its
dialog pauses, seeks, changes speed or stops it. When the recording's end has been sent the
device sends MediaStatus 121 (§4.12) as a MESSAGE inside the dialog (`dialog_requests`:
From the channel's URI with our tag); the stream stays quiet until the platform's BYE.
`quirks` (`PlaybackQuirks`) make it misbehave as field devices do.

The call table is keyed by `CallKey` (Call-ID and both tags). Each call's `MediaSender` and
ACK timer belong to the handler, its BYE and MediaStatus to the handler's `DialogRequests`;
`close()` stops them all.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from farmwatch.simulator.call import (
    CallInfo,
    CallKey,
    DeviceCall,
    key_of,
    offers_ps,
    ps_payload_type,
)
from farmwatch.simulator.channels import ChannelTable
from farmwatch.simulator.dialog_requests import DialogRequests
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.media_sender import MediaRoute, MediaSender, SenderRole
from farmwatch.simulator.playback_control import (
    answer_control,
    file_size_attribute,
    playback_refusal,
    playback_speed,
)
from farmwatch.simulator.record_index import RecordFile, RecordIndex
from farmwatch.simulator.record_player import PlayerState, RecordPlayer
from farmwatch.simulator.record_settings import PlaybackQuirks
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.test_pattern import EncodedLoop, PictureMode
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag
from farmwatch.sipserver.sip.sdp import (
    Attribute,
    SdpError,
    SessionDescription,
    SessionName,
    Setup,
    StreamStyle,
    parse_sdp,
)
from farmwatch.sipserver.sip.sdp_build import build_answer

__all__ = ["CallHandler", "CallInfo", "CallKey"]

log = logging.getLogger(__name__)

SDP_CONTENT_TYPE = "application/sdp"
MAX_UNANSWERED = 256
"""INVITEs kept waiting for a CANCEL (ignored or still being answered); oldest forgotten."""


class InvitePolicy(Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    IGNORE = "ignore"


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
        record_index: Callable[[str], RecordIndex],
        quirks: PlaybackQuirks | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._record_index = record_index
        self.quirks = quirks if quirks is not None else PlaybackQuirks()
        """Apply from now on (INFO and MediaStatus also in running calls)."""
        self._dialog_requests = DialogRequests(endpoint, request_timeout=request_timeout,
                                               on_change=on_change)  # fmt: skip
        self._channels = channels
        self._cache = cache
        self.media = media
        """Applies to calls set up from now on."""
        self._rng = rng
        self._on_change = on_change
        self._calls: dict[CallKey, DeviceCall] = {}
        self._unanswered: OrderedDict[tuple[str, str], _Unanswered] = OrderedDict()
        self._policy = InvitePolicy.ACCEPT
        self._refusal = 488
        self._pictures: dict[str, PictureMode] = {}
        self._closed_packets = 0
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

    def picture(self, channel_id: str) -> PictureMode:
        """What the channel shows (`media.picture` unless switched)."""
        return self._pictures.get(channel_id, self.media.picture)

    async def set_picture(self, channel_id: str, mode: PictureMode) -> None:
        """Make the channel show `mode`: its live calls switch at their next key frame, and
        later calls start with it. The mode's loop is encoded (once) off the event loop."""
        if channel_id not in self._channels:
            raise KeyError(f"no channel {channel_id}")
        self._pictures[channel_id] = mode
        for call in list(self._calls.values()):
            if call.channel_id != channel_id or call.player is not None:
                continue
            spec = self.media.spec_for(channel_id, call.stream, mode)
            call.sender.switch_media(await asyncio.to_thread(self._cache.get, spec))
        log.info("channel %s: picture %s", channel_id, mode.value)

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
        await self._dialog_requests.close()
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
        if offer.session_kind is None or not offers_ps(offer):
            return build_response(request, 488, to_tag=new_tag())
        if offer.session_kind is not SessionName.PLAY:
            calls = self._calls.values()
            busy = any(c.channel_id == channel_id and c.player is not None for c in calls)
            refusal = playback_refusal(offer, channel_is_playing_back=busy, quirks=self.quirks)
            if refusal is not None:
                log.info("channel %s: %s refused: %d %s", channel_id, offer.session_name,
                         *refusal)  # fmt: skip
                return build_response(request, refusal[0], refusal[1], to_tag=new_tag())
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
    ) -> tuple[DeviceCall, SipResponse]:
        """Encode (first time), open the media socket, build the answer and the 200."""
        request, media = incoming.request, self.media
        stream, asked = _stream_asked(offer, media.stream_style)
        _, offered = _stream_asked(offer)
        spec = media.spec_for(channel_id, stream, self.picture(channel_id))
        loop_media = await asyncio.to_thread(self._cache.get, spec)
        ssrc = self._choose_ssrc(channel_id, offer)
        route = MediaRoute.from_offer(offer, always_connect=media.answer_setup_active)
        host = self._endpoint.local_host_for(incoming.source)
        payload_type = ps_payload_type(offer)
        label = f"channel {channel_id} call {request.call_id}"
        local_tag = new_tag()
        key = CallKey(request.call_id, local_tag, request.from_.tag or "")
        files, player = self._recordings(channel_id, loop_media, offer)
        size = file_size_attribute(offer, files, bytes_per_second=media.bitrate // 8,
                                   quirks=self.quirks)  # fmt: skip
        sender = MediaSender(loop_media, route, media, host=self._endpoint.settings.host,
                             ssrc=int(ssrc), payload_type=payload_type, rng=self._rng,
                             on_change=self._on_change, label=label,
                             pacer=player.start if player is not None else None,
                             on_finished=functools.partial(self._playback_finished, key),
                             )  # fmt: skip
        port = await sender.open()
        answer = build_answer(
            offer, sender_id=channel_id, media_ip=host, port=port, ssrc=ssrc,
            media_format=media.media_format_for(stream),
        )  # fmt: skip
        if media.answer_setup_active and route.role is SenderRole.TCP_CONNECT:
            answer = replace(answer, media=(replace(answer.video, setup=Setup.ACTIVE),))
        echoed = (size,) if size is not None else (asked,) if asked is not None else ()
        if echoed:  # devices echo the stream they chose, as `a=streamprofile:0` (§6.6)
            answer = replace(answer, media=(replace(answer.video, attributes=echoed),))
        contact = f"<sip:{channel_id}@{host}:{self._endpoint.port}>"
        user_agent = self._endpoint.settings.user_agent
        response = build_response(
            request, 200, to_tag=local_tag, body=answer.serialise(),
            content_type=SDP_CONTENT_TYPE, extra=(("Contact", contact), ("User-Agent", user_agent)),
        )  # fmt: skip
        call = DeviceCall(
            key, channel_id, request, incoming.source, response.headers.get("To") or "",
            request.headers.get("Subject"), sender, offer.session_kind or SessionName.PLAY,
            player, offer, stream=stream, stream_attribute=None if asked is None else str(asked),
            offered_stream=None if offered is None else str(offered),
        )  # fmt: skip
        return call, response

    def _recordings(
        self, channel_id: str, loop_media: EncodedLoop, offer: SessionDescription
    ) -> tuple[list[RecordFile], RecordPlayer | None]:
        """A playback's or download's files in its `t=` range and its player; live: none."""
        if offer.session_kind is SessionName.PLAY:
            return [], None
        start, stop = offer.start_time, offer.stop_time
        files = self._record_index(channel_id).files_between(start, stop)
        speed = playback_speed(offer) or 1
        return files, RecordPlayer(loop_media, files, start, stop, scale=speed)

    async def _replace_stale(self, call: DeviceCall) -> None:
        """Release the calls streaming the same sender ID:sequence (Subject, §6.7)."""
        stale = [c for c in self._calls.values() if call.subject and c.subject == call.subject]
        for old in stale:
            log.info("channel %s: new INVITE for %s replaces call %s", call.channel_id,
                     call.subject, old.key.call_id)  # fmt: skip
            del self._calls[old.key]
            await self._release(old)

    def _start_call(self, call: DeviceCall, response: SipResponse) -> None:
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
        call = self._calls.get(key_of(request))
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
            call = self._calls.get(key_of(request))
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
        call = self._calls.pop(key_of(request), None)
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
            await self._dialog_requests.send_bye(call)
        return len(calls)

    # -- playback control and end ------------------------------------------------------

    async def handle_info(self, incoming: IncomingRequest) -> SipResponse:
        """MANSRTSP in a playback or download dialog (§7): 481 outside any call."""
        request = incoming.request
        try:
            call = self._calls.get(key_of(request))
        except RemoteProtocolError:
            return build_response(request, 400)
        if call is None:
            return build_response(request, 481)
        response = answer_control(request, call.player, self.quirks,
                                  now=asyncio.get_running_loop().time(),
                                  next_sequence=call.sender.next_sequence)  # fmt: skip
        log.info("channel %s: INFO in call %s answered %d", call.channel_id, call.key.call_id,
                 response.status)  # fmt: skip
        call.sender.wake()
        self._on_change()
        return response

    def _playback_finished(self, key: CallKey) -> None:
        """The sender has sent the recording's end: MediaStatus 121, unless it misbehaves."""
        call = self._calls.get(key)
        if call is None or call.player is None or call.player.state is not PlayerState.FINISHED:
            return  # a TEARDOWN stopped it: no end of file to report
        self._on_change()
        if self.quirks.omits_media_status:
            log.info("channel %s: call %s at its end, sending no MediaStatus (quirk)",
                     call.channel_id, key.call_id)  # fmt: skip
            return
        self._dialog_requests.send_media_status(call)

    # -- release -------------------------------------------------------------------------

    async def _release(self, call: DeviceCall) -> None:
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        await call.sender.close()
        self._closed_packets += call.sender.packets_sent


_STREAM_ATTRIBUTES = tuple(style.value for style in StreamStyle)
_STREAM_MODES = {"MAIN": 0, "SUB": 1}


def _understood_number(style: StreamStyle, value: str) -> int | None:
    """The stream a line of `style` names (None: none, or not readable)."""
    if style is StreamStyle.STREAM_MODE:
        return _STREAM_MODES.get(value.upper())
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 2 else None


def _stream_asked(
    offer: SessionDescription, understood: StreamStyle | None = None
) -> tuple[int, Attribute | None]:
    """The stream a live offer asks for (0 main, 1+ the sub stream) from whichever of
    `streamnumber`, `streamprofile`, `streamMode`, `stream` it carries (only `understood`
    when given: the others are ignored, as a device ignores lines it does not know), and
    that attribute."""
    if offer.session_kind is not SessionName.PLAY:
        return 0, None
    if understood is not None:
        value = (offer.attribute(understood.value) or "").strip()
        number = _understood_number(understood, value)
        return (0, None) if number is None else (number, Attribute(understood.value, value))
    number = offer.stream_number
    if number is None:
        return 0, None
    name = next(n for n in _STREAM_ATTRIBUTES if offer.attribute(n) is not None)
    return max(0, number), Attribute(name, offer.attribute(name))
