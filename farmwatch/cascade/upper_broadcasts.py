"""Voice broadcast asked by an upper platform (gb28181.md §4.13 across a cascade; issue 12).

The upper sends us Notify/Broadcast (SourceID its audio source, TargetID one of the
channels we share with it), as it would to a device; we are that device towards it and a
platform towards the real one:

1. The MESSAGE was answered 200 already (`UpperRequests`). A TargetID we do not share is
   answered Response/Broadcast Result ERROR at once.
2. Our own broadcast to the channel's device starts (`BroadcastService.start`: our
   Notify/Broadcast, the device's Response, its audio INVITE taken as for any broadcast).
   The device's Result OK becomes ours (Response/Broadcast OK with the upper's SN); a
   device offline, busy with another broadcast, refusing or silent becomes ERROR with the
   reason.
3. Once the device's audio dialog is up, we INVITE the upper as a device would: To the
   SourceID at the upper, From the channel, `m=audio` PCMA `a=recvonly`, `y=` our SSRC,
   `f=v/////a/1/8/1`, over the link's transport (UDP; TCP where the upper connects). What
   the upper sends (raw PCMA or PS, both taken) is relayed to the device's audio sender.

The two legs live and die together: the upper's BYE (matched by the Call-ID of our INVITE)
ends the device's leg; the device's BYE, or any other end of our broadcast, BYEs the upper;
a failed INVITE to the upper ends the device's leg; the link closing ends both. Each relay
is keyed by our broadcast session and by the upper dialog's Call-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from farmwatch.cascade.settings import UpperSettings, UpperTransport
from farmwatch.cascade.upper_target import UpperTarget
from farmwatch.platform.errors import Conflict, DeviceOffline, NotFound, PlatformError
from farmwatch.platform.services.broadcast_service import BroadcastService
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.sharing_service import SharingService
from farmwatch.sipserver.device_requests import Originator
from farmwatch.sipserver.dialog import build_invite
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.audio_sdp import build_audio_offer
from farmwatch.sipserver.gb.manscdp import BroadcastNotify, CmdType, ResultCode
from farmwatch.sipserver.gb.manscdp_build import build_control_response
from farmwatch.sipserver.invite_session import (
    CallState,
    InviteSession,
    SendAck,
    SendBye,
    SendCancel,
)
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.message import build_response
from farmwatch.sipserver.sip.request_builder import new_tag
from farmwatch.sipserver.sip.sdp import SdpError, parse_sdp

__all__ = ["UpperBroadcasts"]

log = logging.getLogger(__name__)

INVITE_TIMEOUT = 10.0
"""Seconds the upper has to answer our audio INVITE."""
BYE_TIMEOUT = 4.0
_SOURCE_ID = re.compile(r"[0-9A-Za-z]{1,32}")
"""What a SourceID may be to go into our Request-URI (a GB ID is 20 digits)."""


@dataclass(slots=True)
class _Relay:
    channel_id: str
    source_id: str
    session_id: str = ""
    """Our broadcast to the device (`BroadcastService`)."""
    call_id: str = ""
    """Our INVITE to the upper."""
    invite: InviteSession | None = None
    ended: bool = False


class UpperBroadcasts:
    def __init__(
        self,
        target: UpperTarget,
        settings: UpperSettings,
        sharing: SharingService,
        rule: Callable[[], ShareRule],
        broadcasts: BroadcastService,
    ) -> None:
        self._target = target
        self._settings = settings
        self._sharing = sharing
        self._rule = rule
        self._broadcasts = broadcasts
        self._by_session: dict[str, _Relay] = {}
        self._by_call: dict[str, _Relay] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = 0
        broadcasts.end_listeners.append(self._device_leg_ended)

    @property
    def active(self) -> int:
        """Broadcasts of this upper relayed now (both legs up)."""
        return sum(1 for relay in self._by_call.values() if not relay.ended)

    def owns(self, call_id: str) -> bool:
        return call_id in self._by_call

    def notified(self, notify: BroadcastNotify) -> None:
        self._spawn(self._start(notify))

    def handle(self, incoming: IncomingRequest) -> None:
        """A request in one of our audio dialogs with the upper (`owns` its Call-ID)."""
        request = incoming.request
        endpoint = self._target.endpoint
        relay = self._by_call.get(request.call_id)
        if relay is None:
            endpoint.respond(build_response(request, 481, to_tag=request.to.tag or new_tag()))
            return
        if request.method != "BYE":
            status = 200 if request.method == "INFO" else 501
            endpoint.respond(build_response(request, status, to_tag=request.to.tag or new_tag()))
            return
        del self._by_call[request.call_id]
        endpoint.respond(build_response(request, 200, to_tag=request.to.tag or new_tag()))
        if relay.invite is not None:
            relay.invite.bye_received()
        log.info("upper %s: BYE for the broadcast to channel %s (call %s): ending it",
                 self._settings.name, relay.channel_id, relay.call_id)  # fmt: skip
        relay.ended = True
        self._by_session.pop(relay.session_id, None)
        self._spawn(self._stop_device_leg(relay, "the upper's BYE"))

    async def close(self) -> None:
        relays = {id(r): r for r in (*self._by_session.values(), *self._by_call.values())}
        for relay in relays.values():
            relay.ended = True
        await asyncio.gather(
            *(self._end_both(r, "link closing") for r in relays.values()), return_exceptions=True
        )
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the flow ------------------------------------------------------------------------

    async def _start(self, notify: BroadcastNotify) -> None:
        name = self._settings.name
        channel_id = notify.target_id.strip()
        source_id = notify.source_id.strip()
        if _SOURCE_ID.fullmatch(source_id) is None:
            source_id = self._target.upper_id  # the standard's SourceID is the upper itself
        refusal = None
        if not channel_id:
            refusal = "no TargetID"
        elif await self._sharing.shared_channel(self._rule(), channel_id) is None:
            refusal = f"channel {channel_id} is not shared with this platform"
        if refusal is not None:
            log.info("upper %s: Broadcast to %s refused: %s", name, channel_id or "-", refusal)
            await self._answer(notify, channel_id, ResultCode.ERROR, refusal)
            return
        relay = _Relay(channel_id, source_id)
        answered = False

        def accepted() -> None:
            nonlocal answered
            answered = True
            self._spawn(self._answer(notify, channel_id, ResultCode.OK))

        try:
            view = await self._broadcasts.start(channel_id, on_accepted=accepted)
        except PlatformError as error:
            reason = _reason(error)
            log.info("upper %s: Broadcast to channel %s not started: %s", name, channel_id,
                     reason)  # fmt: skip
            if not answered:
                await self._answer(notify, channel_id, ResultCode.ERROR, reason)
            return
        relay.session_id = view.session_id
        self._by_session[view.session_id] = relay
        self.started += 1
        try:
            await self._invite_upper(relay)
        except (PlatformError, SipError, SdpError, TimeoutError, OSError) as error:
            log.warning("upper %s: audio INVITE for the broadcast to channel %s failed: %s",
                        name, channel_id, error)  # fmt: skip
            relay.ended = True
            await self._end_both(relay, "the upper's audio INVITE failed")
            return
        if relay.ended:  # the device's leg ended while the upper answered
            await self._end_both(relay, "the device's leg ended meanwhile")
            return
        log.info("upper %s: broadcast from %s to channel %s relayed (session %s, call %s)",
                 name, source_id, channel_id, relay.session_id, relay.call_id)  # fmt: skip

    async def _invite_upper(self, relay: _Relay) -> None:
        target = self._target
        endpoint = target.endpoint
        address = target.address
        tcp = self._settings.upper_transport is UpperTransport.TCP
        media_host, port = await self._broadcasts.open_relay(relay.session_id, tcp=tcp)
        local_host = endpoint.local_host_for(address)
        ssrc = f"{secrets.randbelow(1_000_000_000):010d}"  # first digit 0: real time (§6.3)
        offer = build_audio_offer(
            relay.channel_id, media_ip=media_host or local_host, port=port, ssrc=ssrc, tcp=tcp
        )
        invite = build_invite(
            Originator(relay.channel_id, target.local_domain, self._settings.user_agent),
            channel_id=relay.source_id,
            dest=address,
            body=offer.serialise(),
            subject=f"{relay.source_id}:0,{relay.channel_id}:{ssrc}",
            local_host=local_host,
            local_port=endpoint.port,
        )
        session = InviteSession(invite)
        relay.invite, relay.call_id = session, invite.call_id
        self._by_call[invite.call_id] = relay
        try:
            async with asyncio.timeout(INVITE_TIMEOUT):
                response = await endpoint.request(invite, address)
        except BaseException:
            self._by_call.pop(invite.call_id, None)
            raise
        try:
            actions = session.final_received(response)
        except RemoteProtocolError as error:
            self._by_call.pop(invite.call_id, None)
            raise SdpError(f"unusable answer: {error}", 400) from error
        for action in actions:
            if isinstance(action, SendAck):
                endpoint.send_stateless(action.request, address)
        if not response.is_success:
            self._by_call.pop(invite.call_id, None)
            raise PlatformError(f"the upper answered {response.status} {response.reason}")
        answer = parse_sdp(response.body)
        self._broadcasts.relay_from(relay.session_id, answer.media_address, address.host)

    def _device_leg_ended(self, session_id: str, why: str) -> None:
        """`BroadcastService` ended a session: if it was an upper's, the upper gets BYE."""
        relay = self._by_session.pop(session_id, None)
        if relay is None or relay.ended:
            return
        relay.ended = True
        # An INVITE still unanswered is the flow's to end once answered (`_start`).
        if relay.invite is not None and relay.invite.state is CallState.CONFIRMED:
            log.info("upper %s: broadcast to channel %s ended (%s): BYE to the upper",
                     self._settings.name, relay.channel_id, why)  # fmt: skip
            self._spawn(self._bye_upper(relay))

    async def _end_both(self, relay: _Relay, why: str) -> None:
        self._by_session.pop(relay.session_id, None)
        await self._bye_upper(relay)
        await self._stop_device_leg(relay, why)

    async def _stop_device_leg(self, relay: _Relay, why: str) -> None:
        if not relay.session_id:
            return
        with contextlib.suppress(NotFound):  # ended already
            await self._broadcasts.stop(relay.session_id)
        log.info("upper %s: device leg of the broadcast to channel %s stopped (%s)",
                 self._settings.name, relay.channel_id, why)  # fmt: skip

    async def _bye_upper(self, relay: _Relay) -> None:
        if self._by_call.pop(relay.call_id, None) is None or relay.invite is None:
            return
        session = relay.invite
        endpoint = self._target.endpoint
        try:
            for action in session.hang_up():
                if isinstance(action, SendBye | SendCancel):  # CANCEL: still unanswered
                    async with asyncio.timeout(BYE_TIMEOUT):
                        response = await endpoint.request(action.request, self._target.address)
                    log.info("upper %s: %s for the broadcast to channel %s (call %s): %d",
                             self._settings.name, action.request.method, relay.channel_id,
                             relay.call_id, response.status)  # fmt: skip
        except (SipError, TimeoutError, LocalProtocolError) as error:
            log.info("upper %s: BYE for call %s not answered: %s", self._settings.name,
                     relay.call_id, error)  # fmt: skip
        finally:
            session.bye_finished()

    async def _answer(
        self, notify: BroadcastNotify, channel_id: str, result: ResultCode, reason: str = ""
    ) -> None:
        body = build_control_response(
            channel_id or notify.device_id or self._target.local_id, notify.sn,
            CmdType.BROADCAST, result, reason=reason or None, charset=self._target.charset,
        )  # fmt: skip
        try:
            async with asyncio.timeout(INVITE_TIMEOUT):
                await self._target.send_message(body)
        except (SipError, TimeoutError, OSError) as error:
            log.info("upper %s: Response/Broadcast %s not delivered: %s", self._settings.name,
                     result.value, error)  # fmt: skip

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _reason(error: PlatformError) -> str:
    """Why our broadcast to the device did not start, for the upper's Result ERROR."""
    if isinstance(error, DeviceOffline):
        return f"device offline: {error}"
    if isinstance(error, Conflict):
        return f"busy: {error}"
    return str(error)
