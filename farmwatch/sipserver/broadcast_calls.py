"""The devices' audio INVITEs of a voice broadcast, taken as the called side (gb28181.md §4.13).

The platform sends Notify/Broadcast and `expect`s the device's INVITE: a pending broadcast
names the device, its target and its registered host, and how to open our side of the audio
(`AudioOpener`: the platform opens a sender and says from where it sends). The INVITE of a
registered device matching a pending broadcast (`broadcast_match`) gets 100, then the
opener's answer as 200 (`build_audio_answer`: `a=sendonly`, the format the device chose, the
TCP role opposite to its own); the ACK completes the `expect`ed future with the `AudioCall`
(sending starts then; no ACK within `ACK_TIMEOUT` ends the dialog). Anything else is refused
and nothing is left open: an INVITE matching no broadcast 403, an unusable offer 400/488.

The dialog is kept by Call-ID. The device's BYE (through `Calls`, which owns the BYE
handler: `add_dialog_owner`) is answered 200 and reported to the `AudioCallListener`; ours
(`bye`) goes to the device's Contact. The cascade's uppers are never seen here: their
requests are claimed by the endpoint's peer router before any handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from farmwatch.sipserver.broadcast_match import PendingBroadcast, match_broadcast
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess, DeviceUnavailable
from farmwatch.sipserver.dialog import SDP_CONTENT_TYPE
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.audio_sdp import AudioOffer, build_audio_answer, read_audio_offer
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import build_request, new_tag
from farmwatch.sipserver.sip.sdp import SdpError, SessionDescription, parse_sdp
from farmwatch.sipserver.sip.uri import contact_uri

__all__ = [
    "AudioAnswer",
    "AudioCall",
    "AudioCallListener",
    "AudioOpener",
    "AudioUnavailable",
    "BroadcastCalls",
]

log = logging.getLogger(__name__)

ACK_TIMEOUT = 32.0
"""Seconds our 200 waits for the device's ACK (64 × T1) before the dialog is ended."""
REQUEST_TIMEOUT = 8.0


@dataclass(frozen=True, slots=True)
class AudioAnswer:
    """Where we send from (the answer's `c=`/`m=`; an empty `media_ip`: the address the
    device reaches our SIP at) and with which SSRC (ten digits)."""

    media_ip: str
    port: int
    ssrc: str


@dataclass(slots=True)
class AudioCall:
    """One device's audio INVITE dialog (we are the called side)."""

    key: str
    """The pending broadcast it answered."""
    call_id: str
    device_id: str
    target_id: str
    invite: SipRequest
    source: Address
    offer: SessionDescription
    audio: AudioOffer
    local_party: str = ""
    """The To of our 200 (with our tag): the From of our BYE."""
    local_cseq: int = 0
    is_acknowledged: bool = False
    is_ended: bool = False
    ack_timer: asyncio.TimerHandle | None = None


AudioOpener = Callable[[AudioCall], Awaitable[AudioAnswer]]
"""Opens our side of the audio for the call (bind, listen); `AudioUnavailable` or `OSError`
refuses the INVITE (503)."""


class AudioUnavailable(SipError):
    """The platform cannot take the call's audio (the broadcast ended meanwhile...)."""


class AudioCallListener(Protocol):
    def audio_call_ended(self, key: str, reason: str) -> None:
        """The dialog of the broadcast `key` ended by the device (BYE) or for want of an ACK."""
        ...


@dataclass(slots=True)
class _Pending:
    pending: PendingBroadcast
    opener: AudioOpener
    future: asyncio.Future[AudioCall]
    calls: list[str] = field(default_factory=list)


class BroadcastCalls:
    def __init__(self, endpoint: SipEndpoint, access: DeviceAccess, calls: Calls) -> None:
        self._endpoint = endpoint
        self._access = access
        self._calls = calls
        self._pending: dict[str, _Pending] = {}
        self._dialogs: dict[str, AudioCall] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: AudioCallListener | None = None

    def start(self) -> None:
        """Take INVITEs and ACKs (no other part does for devices), and BYEs through `Calls`."""
        self._endpoint.add_handler("INVITE", self.handle_invite)
        self._endpoint.set_ack_handler(self.handle_ack)
        self._calls.add_dialog_owner(self)

    def set_listener(self, listener: AudioCallListener) -> None:
        self._listener = listener

    async def close(self) -> None:
        """BYE every dialog (bounded), forget the pending broadcasts."""
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        await asyncio.gather(*(self.bye(c) for c in list(self._dialogs)), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the platform's side ---------------------------------------------------------------

    def expect(
        self, key: str, device_id: str, target_id: str, opener: AudioOpener
    ) -> asyncio.Future[AudioCall]:
        """Wait for `device_id`'s audio INVITE for the broadcast `key`: the future completes
        with the call once it is ACKed. `DeviceUnavailable` if the device is not registered."""
        registration = self._access.registration(device_id)
        if registration is None:
            raise DeviceUnavailable(device_id)
        future: asyncio.Future[AudioCall] = asyncio.get_running_loop().create_future()
        pending = PendingBroadcast(key, device_id, target_id, registration.address.host)
        self._pending[key] = _Pending(pending, opener, future)
        return future

    def forget(self, key: str) -> None:
        """Stop waiting for the INVITE of `key` (the broadcast gave up or ended)."""
        entry = self._pending.pop(key, None)
        if entry is not None and not entry.future.done():
            entry.future.cancel()

    def call(self, call_id: str) -> AudioCall | None:
        return self._dialogs.get(call_id)

    async def bye(self, call_id: str) -> int | None:
        """End the dialog from our side; the device's answer, None if none came."""
        call = self._dialogs.pop(call_id, None)
        if call is None or call.is_ended:
            return None
        call.is_ended = True
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        response = await self._in_dialog(call, "BYE")
        status = None if response is None else response.status
        log.info("broadcast %s: BYE to device %s (call %s): %s", call.key, call.device_id,
                 call_id, "unanswered" if status is None else status)  # fmt: skip
        return status

    # -- the device's requests -------------------------------------------------------------

    async def handle_invite(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        if request.to.tag:
            # A re-INVITE (session refresh): nothing changes on our side.
            status = 200 if request.call_id in self._dialogs else 481
            return build_response(request, status, to_tag=request.to.tag)
        if request.call_id in self._dialogs:
            return None  # a retransmission the transaction layer let through
        entry = self._match(request, incoming.source)
        if entry is None:
            log.info("INVITE from %s (%s) matches no voice broadcast: refused",
                     request.from_.uri.user, incoming.source)  # fmt: skip
            return build_response(request, 403, "No Broadcast Pending", to_tag=new_tag())
        self._endpoint.respond(build_response(request, 100))
        pending = entry.pending
        try:
            offer = parse_sdp(request.body)
            audio = read_audio_offer(offer)
        except SdpError as error:
            log.warning("broadcast %s: unusable audio offer from device %s: %s", pending.key,
                        pending.device_id, error.reason)  # fmt: skip
            return build_response(request, error.status_hint or 488, "Bad Audio SDP",
                                  to_tag=new_tag())  # fmt: skip
        call = AudioCall(pending.key, request.call_id, pending.device_id, pending.target_id,
                         request, incoming.source, offer, audio)  # fmt: skip
        try:
            answer = await entry.opener(call)
            media_ip = answer.media_ip or self._endpoint.local_host_for(incoming.source)
            body = build_audio_answer(
                offer, audio, sender_id=self._access.originator.platform_id,
                media_ip=media_ip, port=answer.port, ssrc=answer.ssrc,
            ).serialise()  # fmt: skip
        except (OSError, LocalProtocolError, AudioUnavailable) as error:
            log.warning("broadcast %s: audio for device %s not opened: %s", pending.key,
                        pending.device_id, error)  # fmt: skip
            return build_response(request, 503, "Audio Unavailable", to_tag=new_tag())
        if self._pending.get(pending.key) is not entry:
            return build_response(request, 487, "Broadcast Ended", to_tag=new_tag())
        response = self._ok(request, incoming.source, body)
        call.local_party = response.headers.get("To") or ""
        self._dialogs[call.call_id] = call
        entry.calls.append(call.call_id)
        call.ack_timer = asyncio.get_running_loop().call_later(ACK_TIMEOUT, self._ack_missing, call)
        log.info("broadcast %s: device %s INVITEd for audio (%s over %s%s, call %s)",
                 pending.key, pending.device_id, audio.audio_format.value,
                 audio.transport.value, f" {audio.setup.value}" if audio.setup else "",
                 call.call_id)  # fmt: skip
        return response

    def handle_ack(self, request: SipRequest, source: Address) -> None:
        call = self._dialogs.get(request.call_id)
        if call is None or call.is_acknowledged:
            return
        call.is_acknowledged = True
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        entry = self._pending.pop(call.key, None)
        if entry is not None and not entry.future.done():
            entry.future.set_result(call)

    def owns_dialog(self, call_id: str) -> bool:
        return call_id in self._dialogs

    async def handle_bye(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        call = self._dialogs.pop(request.call_id, None)
        if call is None:
            return build_response(request, 481, to_tag=new_tag())
        call.is_ended = True
        if call.ack_timer is not None:
            call.ack_timer.cancel()
        log.info("broadcast %s: device %s ended the audio (BYE, call %s)", call.key,
                 call.device_id, call.call_id)  # fmt: skip
        self._report_ended(call, "device BYE")
        return build_response(request, 200, to_tag=request.to.tag or new_tag())

    # -- helpers ---------------------------------------------------------------------------

    def _match(self, request: SipRequest, source: Address) -> _Pending | None:
        try:
            from_user = request.from_.uri.user or ""
        except RemoteProtocolError:
            return None
        pending = [entry.pending for entry in self._pending.values()]
        found = match_broadcast(pending, from_user=from_user, source_host=source.host)
        if found is None:
            return None
        if self._access.registration(found.device_id) is None:
            return None  # it went offline meanwhile: a registered device's INVITE only
        return self._pending.get(found.key)

    def _ok(self, request: SipRequest, source: Address, body: bytes) -> SipResponse:
        endpoint = self._endpoint
        host = endpoint.local_host_for(source)
        platform_id = self._access.originator.platform_id
        return build_response(
            request,
            200,
            to_tag=new_tag(),
            body=body,
            content_type=SDP_CONTENT_TYPE,
            extra=(
                ("Contact", contact_uri(platform_id, host, endpoint.port)),
                ("User-Agent", endpoint.settings.user_agent),
            ),
        )

    def _ack_missing(self, call: AudioCall) -> None:
        log.warning("broadcast %s: no ACK from device %s in %g s: ending call %s", call.key,
                    call.device_id, ACK_TIMEOUT, call.call_id)  # fmt: skip
        self._report_ended(call, "no ACK")
        self._spawn(self._end_quietly(call.call_id))

    async def _end_quietly(self, call_id: str) -> None:
        await self.bye(call_id)

    def _report_ended(self, call: AudioCall, reason: str) -> None:
        if self._listener is None:
            return
        try:
            self._listener.audio_call_ended(call.key, reason)
        except Exception:
            # Isolation boundary: a listener bug must not break signalling.
            log.exception("broadcast listener failed (call %s)", call.call_id)

    async def _in_dialog(self, call: AudioCall, method: str) -> SipResponse | None:
        """A request of ours in the device's dialog (RFC 3261 §12.2.1.1): to its Contact,
        From our To of the 200, To its From."""
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
            user_agent=self._endpoint.settings.user_agent,
        )
        dest = self._dest(call)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await self._endpoint.request(request, dest)
        except (SipError, TimeoutError):
            return None

    def _dest(self, call: AudioCall) -> Address:
        registration = self._access.registration(call.device_id)
        return registration.address if registration is not None else call.source

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
