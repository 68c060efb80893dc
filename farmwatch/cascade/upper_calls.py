"""Video an upper platform asks of us: its INVITE dialogs, each paired with a relay (B2BUA).

The upper's side of a back-to-back user agent (gb28181.md §9.2 INVITE steps 1-8; issue 9
item 3; field-notes.md §2.3-2.4). Each upper dialog is keyed by the upper's Call-ID and
paired with one relay (`LiveService.open_relay`), which holds the channel's running stream
as a viewer does: any number of uppers and local viewers share one stream and one device
INVITE, and none of them leaving stops the others' video.

- INVITE for a channel: 100 at once; 404 unless shared with this upper; 400 for an SDP
  that does not parse, 488 without PS; the relay opened on the upper's terms (UDP, we
  connect for `a=setup:passive`, we listen for `a=setup:active`, the port in our answer);
  the SSRC is the upper's `y=`, or ours when it sent none or zeros (field-notes item 4);
  then 200 with the answer (`o=` the channel, `c=` our media address, `a=sendonly`,
  `y=`, `f=`). Sending starts on the ACK; without one in `ACK_TIMEOUT` the dialog ends.
- BYE from the upper: 200, the relay closed (the stream stays while others watch).
- CANCEL before our answer: 200, and the INVITE 487; nothing is left open.
- The relay ending by itself (the upper's TCP gone, its RTCP silent, the device's stream
  ended) or the stream closing: we BYE the upper.

Playback and download (`s=Playback`, `s=Download`) pair the dialog with a playback session
(`call_media.py`): the upper's INFO (MANSRTSP) pauses, resumes, seeks and changes its speed
and is answered with the outcome; when the whole range was sent the upper gets MediaStatus
121 in its dialog (field-notes.md §2.3 item 16) and ends the call itself (we BYE after
`END_LINGER` if it does not).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

from farmwatch.cascade.call_media import LiveCallMedia, open_playback
from farmwatch.cascade.upper_call import (
    UpperCall,
    offers_ps,
    ps_payload_type,
    reason_phrase,
    relay_transport,
    send_in_dialog,
)
from farmwatch.cascade.upper_target import UpperTarget
from farmwatch.media.node import RelaySpec
from farmwatch.platform.errors import InvalidInput, PlatformError
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.services.live_service import LiveService
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.sharing_service import SharingService
from farmwatch.sipserver.device_requests import MANSCDP_CONTENT_TYPE
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp_build import build_media_status
from farmwatch.sipserver.gb.mansrtsp import (
    MansrtspError,
    MansrtspMethod,
    build_mansrtsp_response,
    parse_mansrtsp_request,
)
from farmwatch.sipserver.gb.ssrc import SsrcAllocator, SsrcKind
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag
from farmwatch.sipserver.sip.sdp import SdpError, SessionDescription, SessionName, parse_sdp
from farmwatch.sipserver.sip.sdp_build import build_answer
from farmwatch.sipserver.sip.uri import contact_uri

__all__ = ["UpperCalls"]

log = logging.getLogger(__name__)

ACK_TIMEOUT = 32.0
"""Seconds an answered INVITE waits for its ACK (64 × T1) before we end the dialog."""
END_LINGER = 30.0
"""Seconds after MediaStatus 121 we wait for the upper's BYE before sending ours."""
MANSRTSP_TYPES = frozenset({"application/mansrtsp", "application/rtsp"})
SDP_CONTENT_TYPE = "application/sdp"
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class UpperCalls:
    def __init__(
        self,
        target: UpperTarget,
        *,
        name: str,
        sharing: SharingService,
        rule: ShareRule,
        live: LiveService,
        playback: PlaybackService,
    ) -> None:
        self._target = target
        self._name = name
        self._sharing = sharing
        self._rule = rule
        self._live = live
        self._playback = playback
        self._ssrc = SsrcAllocator(target.local_id)
        self._calls: dict[str, UpperCall] = {}
        self._by_relay: dict[str, UpperCall] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def active(self) -> int:
        return sum(1 for call in self._calls.values() if call.is_acknowledged)

    def owns(self, call_id: str) -> bool:
        return call_id in self._calls

    def owns_relay(self, relay_id: str) -> bool:
        return relay_id in self._by_relay

    async def close(self) -> None:
        """BYE every dialog (bounded) and close every relay."""
        calls = list(self._calls.values())
        await asyncio.gather(*(self._end(call, "platform stopping") for call in calls))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def change_rule(self, rule: ShareRule) -> None:
        """The upper's share is `rule` from now on: its calls to channels no longer shared
        end (BYE)."""
        self._rule = rule
        if self._calls:
            self._spawn(self._end_unshared(rule))

    async def _end_unshared(self, rule: ShareRule) -> None:
        for call in list(self._calls.values()):
            if call.is_ended:
                continue
            if await self._sharing.shared_channel(rule, call.channel_id) is not None:
                continue
            log.info("upper %s: channel %s no longer shared: ending call %s", self._name,
                     call.channel_id, call.call_id)  # fmt: skip
            await self._end(call, "no longer shared")

    # -- requests of the upper ----------------------------------------------------------

    def handle(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        match request.method:
            case "INVITE":
                self._spawn(self._invite(incoming))
            case "BYE":
                self._bye(request)
            case "CANCEL":
                self._cancel(request)
            case "INFO":
                self._spawn(self._info(request))
            case _:
                self._respond(build_response(request, 501, to_tag=new_tag()))

    def handle_ack(self, request: SipRequest) -> None:
        call = self._calls.get(request.call_id)
        if call is None or not call.is_answered or call.is_acknowledged:
            return
        call.is_acknowledged = True
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        self._spawn(self._start_relay(call))

    async def _invite(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        if request.to.tag:
            # A re-INVITE (session refresh): nothing changes on our side.
            status = 200 if request.call_id in self._calls else 481
            self._respond(build_response(request, status, to_tag=request.to.tag))
            return
        if request.call_id in self._calls:
            return  # a retransmission the transaction layer let through: being answered
        self._respond(build_response(request, 100))
        channel_id = request.request_uri.user or ""
        refusal = await self._refusal(request, channel_id)
        if refusal is not None:
            self._respond(refusal)
            return
        offer = parse_sdp(request.body)
        call = UpperCall(
            request.call_id, channel_id, request, incoming.source, secrets.token_hex(8)
        )
        self._calls[call.call_id] = call
        self._by_relay[call.relay_id] = call
        try:
            response = await self._answer(call, offer, incoming.source)
        except (PlatformError, SipError, ValueError) as error:
            log.warning("upper %s: INVITE for %s (Call-ID %s) failed: %s", self._name,
                        channel_id, call.call_id, error)  # fmt: skip
            await self._forget(call)
            if not call.is_cancelled:
                self._respond(build_response(request, 503, reason_phrase(error), to_tag=new_tag()))
            return
        if call.is_cancelled:
            await self._forget(call)
            return
        call.is_answered = True
        self._respond(response)
        call.ack_timer = asyncio.get_running_loop().call_later(ACK_TIMEOUT, self._ack_missing, call)
        log.info("upper %s: channel %s relayed in call %s (SSRC %s)", self._name, channel_id,
                 call.call_id, offer.ssrc)  # fmt: skip

    async def _refusal(self, request: SipRequest, channel_id: str) -> SipResponse | None:
        if await self._sharing.shared_channel(self._rule, channel_id) is None:
            return build_response(request, 404, "Channel Not Shared", to_tag=new_tag())
        try:
            offer = parse_sdp(request.body)
        except SdpError as error:
            log.warning("upper %s: unusable offer for %s: %s", self._name, channel_id,
                        error.reason)  # fmt: skip
            return build_response(request, 400, "Bad SDP", to_tag=new_tag())
        if not offers_ps(offer):
            return build_response(request, 488, "PS Over RTP Only", to_tag=new_tag())
        if offer.session_kind is None or offer.session_kind is SessionName.TALK:
            # Talk is between the platform and its own devices: not relayed upward.
            return build_response(request, 488, "Unknown Session", to_tag=new_tag())
        return None

    async def _answer(
        self, call: UpperCall, offer: SessionDescription, source: Address
    ) -> SipResponse:
        is_live = offer.session_kind is SessionName.PLAY
        ssrc_value = offer.ssrc_value
        if not ssrc_value:
            call.ssrc = self._ssrc.allocate(SsrcKind.LIVE if is_live else SsrcKind.HISTORY)
            ssrc_value = call.ssrc.value
        spec = RelaySpec(
            host=offer.media_address,
            port=offer.video.port,
            transport=relay_transport(offer),
            ssrc=ssrc_value,
            payload_type=ps_payload_type(offer),
        )
        if is_live:
            # The upper's sub-stream request is passed down: its own stream of the channel.
            stream = max(0, offer.stream_number or 0)
            call.media = LiveCallMedia(self._live, call.channel_id, stream)
        else:
            call.media = await open_playback(self._playback, call.channel_id, offer)
        info = await call.media.open_relay(call.relay_id, spec)
        endpoint = self._target.endpoint
        media_host = info.local_host
        if media_host in _WILDCARDS:
            media_host = endpoint.local_host_for(source)
        answer = build_answer(
            offer,
            sender_id=call.channel_id,
            media_ip=media_host,
            port=info.local_port,
            ssrc=f"{ssrc_value:010d}",
            media_format=offer.media_format if offer.media_format else None,
        )
        call.local_tag = new_tag()
        host = endpoint.local_host_for(source)
        response = build_response(
            call.invite,
            200,
            to_tag=call.local_tag,
            body=answer.serialise(),
            content_type=SDP_CONTENT_TYPE,
            extra=(
                ("Contact", contact_uri(call.channel_id, host, endpoint.port)),
                ("User-Agent", endpoint.settings.user_agent),
            ),
        )
        call.local_party = response.headers.get("To") or ""
        return response

    async def _start_relay(self, call: UpperCall) -> None:
        assert call.media is not None
        try:
            await call.media.start_relay(call.relay_id)
        except PlatformError as error:
            log.warning("upper %s: relay of call %s not started: %s", self._name,
                        call.call_id, error)  # fmt: skip
            await self._end(call, "relay not started")

    def _ack_missing(self, call: UpperCall) -> None:
        log.warning("upper %s: no ACK for call %s in %g s: ending it", self._name,
                    call.call_id, ACK_TIMEOUT)  # fmt: skip
        self._spawn(self._end(call, "no ACK"))

    def _bye(self, request: SipRequest) -> None:
        call = self._calls.get(request.call_id)
        if call is None:
            self._respond(build_response(request, 481, to_tag=new_tag()))
            return
        self._respond(build_response(request, 200, to_tag=request.to.tag or new_tag()))
        log.info("upper %s ended call %s (channel %s)", self._name, call.call_id,
                 call.channel_id)  # fmt: skip
        call.is_ended = True  # no BYE back
        self._spawn(self._forget(call))

    async def _info(self, request: SipRequest) -> None:
        """MANSRTSP from the upper, applied to the call's playback; answered with how it
        went (200 with `RTSP/1.0 200 OK`, or the failure)."""
        call = self._calls.get(request.call_id)
        if call is None or call.media is None or not call.is_answered:
            self._respond(build_response(request, 481, to_tag=new_tag()))
            return
        to_tag = request.to.tag or call.local_tag
        if (request.content_type or "").lower() not in MANSRTSP_TYPES:
            self._respond(build_response(request, 415, to_tag=to_tag))
            return
        try:
            control = parse_mansrtsp_request(request.body)
        except MansrtspError as error:
            self._respond(build_response(request, 400, "Bad MANSRTSP", to_tag=to_tag))
            log.info("upper %s: unreadable MANSRTSP in %s: %s", self._name, call.call_id,
                     error.reason)  # fmt: skip
            return
        if control.method is MansrtspMethod.TEARDOWN:
            self._respond(build_response(request, 200, to_tag=to_tag))
            await self._end(call, "TEARDOWN")
            return
        try:
            await call.media.control(control)
        except InvalidInput as error:
            self._respond(build_response(request, 488, reason_phrase(error), to_tag=to_tag))
            return
        except (PlatformError, SipError) as error:
            self._respond(build_response(request, 500, reason_phrase(error), to_tag=to_tag))
            return
        log.info("upper %s: MANSRTSP %s in call %s applied", self._name,
                 control.method.value, call.call_id)  # fmt: skip
        self._respond(
            build_response(
                request,
                200,
                to_tag=to_tag,
                body=build_mansrtsp_response(control.cseq),
                content_type="Application/MANSRTSP",
            )
        )

    def _cancel(self, request: SipRequest) -> None:
        call = self._calls.get(request.call_id)
        if call is None or call.is_answered:
            self._respond(build_response(request, 481, to_tag=new_tag()))
            return
        call.is_cancelled = True
        self._respond(build_response(request, 200, to_tag=new_tag()))
        self._respond(build_response(call.invite, 487, to_tag=new_tag()))

    # -- what media tells ---------------------------------------------------------------

    def relay_closed(self, relay_id: str, reason: str) -> None:
        call = self._by_relay.get(relay_id)
        if call is not None and not call.recording_sent:
            log.info("upper %s: relay of call %s ended (%s)", self._name, call.call_id, reason)
            self._spawn(self._end(call, reason, relay_gone=True))

    def stream_closed(self, stream_key: str) -> None:
        """A live stream (a channel's main or sub stream) closed."""
        for call in list(self._calls.values()):
            media = call.media
            if isinstance(media, LiveCallMedia) and media.stream_key == stream_key:
                self._spawn(self._end(call, "stream ended"))

    def playback_ended(self, session_id: str, complete: bool) -> None:
        """A playback session ended: the whole range sent (MediaStatus 121 up, the upper
        hangs up), or stopped (we hang up)."""
        for call in list(self._calls.values()):
            if call.media is None or call.media.session_id != session_id:
                continue
            if complete and call.is_acknowledged:
                call.recording_sent = True
                self._spawn(self._send_media_status(call))
                call.linger = asyncio.get_running_loop().call_later(
                    END_LINGER, self._linger_over, call
                )
            else:
                self._spawn(self._end(call, "the playback ended"))

    def _linger_over(self, call: UpperCall) -> None:
        self._spawn(self._end(call, "no BYE after MediaStatus 121"))

    async def _send_media_status(self, call: UpperCall) -> None:
        body = build_media_status(call.channel_id, self._target.next_sn(),
                                  charset=self._target.charset)  # fmt: skip
        response = await self._in_dialog(call, "MESSAGE", body, MANSCDP_CONTENT_TYPE)
        log.info("upper %s: MediaStatus 121 in call %s: %s", self._name, call.call_id,
                 "unanswered" if response is None else response.status)  # fmt: skip

    # -- ending ----------------------------------------------------------------------------

    async def _end(self, call: UpperCall, why: str, *, relay_gone: bool = False) -> None:
        """End our side: BYE the upper (once) and release the relay."""
        if call.is_ended:
            return
        call.is_ended = True
        if call.is_answered:
            await self._send_bye(call, why)
        await self._forget(call, relay_gone=relay_gone)

    async def _forget(self, call: UpperCall, *, relay_gone: bool = False) -> None:
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
        self._by_relay.pop(call.relay_id, None)
        for timer in (call.ack_timer, call.linger):
            if timer is not None:
                timer.cancel()
        if call.ssrc is not None:
            self._ssrc.release(call.ssrc)
            call.ssrc = None
        if call.media is not None:
            try:
                await call.media.close(call.relay_id)
            except PlatformError as error:
                log.info("upper %s: media of call %s: %s", self._name, call.call_id, error)

    async def _send_bye(self, call: UpperCall, why: str) -> None:
        response = await self._in_dialog(call, "BYE")
        if response is not None:
            log.info("upper %s: call %s ended by us (%s): BYE answered %d", self._name,
                     call.call_id, why, response.status)  # fmt: skip

    async def _in_dialog(
        self, call: UpperCall, method: str, body: bytes = b"", content_type: str | None = None
    ) -> SipResponse | None:
        response = await send_in_dialog(self._target.endpoint, call, method, body, content_type)
        if response is None:
            log.info("upper %s: %s in call %s unanswered", self._name, method, call.call_id)
        return response

    def _respond(self, response: SipResponse) -> None:
        self._target.endpoint.respond(response)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
