"""Calls: INVITE sessions from the platform to registered devices (gb28181.md §2 items 6-7,
§6, §7, §10 items 4, 5, 15, 25).

The asyncio shell around the pure `InviteSession` (STYLE B4): `invite` sends the offer to
the channel at the device's registered address (over its TCP connection when it registered
over TCP) and returns an `EstablishedCall` once the 2xx is ACKed; `bye` and `info` work
inside the dialog; `request_keyframe` sends a rate-limited IFameCmd. It answers the
device's BYE (200, then `CallListener.call_ended`) and the in-dialog MediaStatus it sends as
MESSAGE or INFO, matched by Call-ID (Hikvision's From is not the channel). Every 2xx is
ACKed, also retransmissions reaching us after the INVITE transaction returned (through the
endpoint's stray-response handler), and a 2xx arriving after the caller gave up is ACKed
and BYEd. Ended calls linger a while so that late 2xx retransmissions are still ACKed.

Start it after `DeviceAccess.start()`: it wraps the MESSAGE handler DeviceAccess installs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from farmwatch.sipserver.call_inbox import CallInbox
from farmwatch.sipserver.call_types import (
    CallEndReason,
    CallError,
    CallListener,
    CallNotFound,
    CallRefused,
    CallSettings,
    CallTimeout,
    EstablishedCall,
    InvalidAnswer,
    KeyframeLimiter,
    build_live_offer,
    build_subject,
)
from farmwatch.sipserver.device_access import DeviceAccess, DeviceUnavailable
from farmwatch.sipserver.dialog import MANSRTSP_CONTENT_TYPE, build_invite
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError, TransactionFailed, TransactionTimeout
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.manscdp_build import build_device_control_iframe
from farmwatch.sipserver.invite_session import (
    Action,
    CallState,
    InviteSession,
    SendAck,
    SendBye,
    SendCancel,
)
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.sdp import SessionDescription, parse_sdp

log = logging.getLogger(__name__)

_DIALOG_GONE = frozenset({404, 408, 481})


class DialogOwner(Protocol):
    """Another part holding dialogs on this endpoint (the devices' audio INVITEs of a voice
    broadcast): a BYE whose Call-ID is none of our calls goes to it before a 481."""

    def owns_dialog(self, call_id: str) -> bool: ...

    async def handle_bye(self, incoming: IncomingRequest) -> SipResponse | None: ...


@dataclass(slots=True)
class CallRecord:
    """One call as `Calls` and `CallInbox` keep it."""

    session: InviteSession
    device_id: str
    channel_id: str
    dest: Address
    subject: str
    offer: SessionDescription | None
    outcome: asyncio.Future[SipResponse]
    established: EstablishedCall | None = None


class Calls:
    """INVITE sessions towards devices; owns their tasks and dialogs."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        access: DeviceAccess,
        settings: CallSettings | None = None,
        *,
        listener: CallListener | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._access = access
        self.settings = settings if settings is not None else CallSettings()
        self._listener = listener
        self._calls: dict[str, CallRecord] = {}
        self._ended: OrderedDict[str, tuple[float, CallRecord]] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keyframes = KeyframeLimiter(self.settings.keyframe_interval)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dialog_owners: list[DialogOwner] = []

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Install the BYE/INFO handlers, wrap MESSAGE, receive stray 2xx (after access)."""
        self._loop = asyncio.get_running_loop()
        inbox = CallInbox(self)
        self._endpoint.add_handler("BYE", inbox.handle_bye)
        self._endpoint.add_express_handler("BYE", inbox.handle_express_bye)
        self._endpoint.add_handler("INFO", inbox.handle_info)
        self._endpoint.add_sync_handler("MESSAGE", inbox.handle_message)
        self._endpoint.add_express_handler("MESSAGE", inbox.handle_express_message)
        self._endpoint.set_stray_response_handler(inbox.handle_stray_response)

    async def close(self) -> None:
        """BYE the confirmed calls (bounded), CANCEL the unanswered, stop every task."""
        hangups = [t for call in list(self._calls.values()) for t in self._hang_up(call)]
        if hangups:
            await asyncio.wait(hangups, timeout=self.settings.request_timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def set_listener(self, listener: CallListener) -> None:
        self._listener = listener

    def add_dialog_owner(self, owner: DialogOwner) -> None:
        """BYEs for `owner`'s dialogs go to it (the endpoint has one BYE handler: ours)."""
        self._dialog_owners.append(owner)

    def dialog_owner(self, call_id: str) -> DialogOwner | None:
        return next((o for o in self._dialog_owners if o.owns_dialog(call_id)), None)

    @property
    def endpoint(self) -> SipEndpoint:
        return self._endpoint

    @property
    def access(self) -> DeviceAccess:
        return self._access

    # -- API -------------------------------------------------------------------------

    @property
    def active_calls(self) -> list[EstablishedCall]:
        return [c.established for c in self._calls.values() if c.established is not None]

    def is_active(self, call_id: str) -> bool:
        call = self._calls.get(call_id)
        return call is not None and call.established is not None

    async def invite(
        self,
        device_id: str,
        channel_id: str,
        offer: SessionDescription | bytes,
        *,
        subject: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the CANCEL point, not a plain bound
    ) -> EstablishedCall:
        """INVITE `channel_id` of the registered `device_id` with `offer`; ACK the answer.

        Raises `DeviceUnavailable` (not registered), `CallRefused` (non-2xx),
        `CallTimeout` (no final answer within `timeout`: CANCEL sent), `InvalidAnswer`.
        Cancelling the caller CANCELs (or BYEs) the INVITE too.
        """
        registration = self._access.registration(device_id)
        if registration is None:
            raise DeviceUnavailable(device_id)
        wait = timeout if timeout is not None else self.settings.invite_timeout
        offer_sdp, body = _offer(offer)
        if subject is None:
            ssrc = offer_sdp.ssrc if offer_sdp is not None and offer_sdp.ssrc else "0"
            subject = build_subject(channel_id, ssrc, self._access.originator.platform_id)
        dest = registration.address
        invite = build_invite(
            self._access.originator,
            channel_id=channel_id,
            dest=dest,
            body=body,
            subject=subject,
            local_host=self._endpoint.local_host_for(dest),
            local_port=self._endpoint.port,
        )
        outcome: asyncio.Future[SipResponse] = self._running_loop().create_future()
        outcome.add_done_callback(_retrieve)
        call = CallRecord(
            InviteSession(invite), device_id, channel_id, dest, subject, offer_sdp, outcome
        )
        self._calls[invite.call_id] = call
        self._spawn(self._run_invite(call))
        try:
            async with asyncio.timeout(wait):
                response = await asyncio.shield(outcome)
        except TimeoutError:
            self._hang_up(call)
            raise CallTimeout(device_id, channel_id, wait) from None
        except TransactionTimeout:
            raise CallTimeout(device_id, channel_id, wait) from None
        except asyncio.CancelledError:
            self._hang_up(call)
            raise
        return self._established(call, response)

    async def bye(self, call: EstablishedCall | str) -> None:
        """End the call (BYE, bounded by `request_timeout`); a no-op once it has ended."""
        found = self._calls.get(call if isinstance(call, str) else call.call_id)
        if found is None:
            return
        tasks = self._hang_up(found)
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.request_timeout)

    async def info(
        self,
        call: EstablishedCall | str,
        body: bytes,
        *,
        content_type: str = MANSRTSP_CONTENT_TYPE,
    ) -> SipResponse:
        """INFO inside the dialog (MANSRTSP playback control, §7); the 2xx may carry the
        MANSRTSP answer. Raises `CallNotFound`, `TransactionFailed` (non-2xx; 481/408 also
        end the call as DIALOG_LOST), `TransactionTimeout`."""
        call_id = call if isinstance(call, str) else call.call_id
        found = self._calls.get(call_id)
        if found is None or found.established is None:
            raise CallNotFound(call_id)
        request = found.session.next_request("INFO", body=body, content_type=content_type)
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                response = await self._endpoint.request(request, self._dest(found))
        except TimeoutError:
            raise TransactionTimeout("INFO", str(self._dest(found))) from None
        if response.is_success:
            return response
        if response.status in _DIALOG_GONE and found.session.dialog_lost():
            self.finish(found)
            self.notify_ended(call_id, CallEndReason.DIALOG_LOST)
        raise TransactionFailed(response)

    async def request_keyframe(self, device_id: str, channel_id: str) -> bool:
        """Send IFameCmd for the channel; False when one was sent less than
        `keyframe_interval` ago. Raises `DeviceUnavailable`, `TransactionFailed`,
        `TransactionTimeout`."""
        if self._access.registration(device_id) is None:
            raise DeviceUnavailable(device_id)
        if not self._keyframes.allow(device_id, channel_id, self._running_loop().time()):
            return False
        access = self._access
        body = build_device_control_iframe(
            channel_id, access.next_sn(), access.charset_for(device_id)
        )
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                await access.send_manscdp(device_id, body, target_id=channel_id)
        except TimeoutError:
            raise TransactionTimeout("MESSAGE", device_id) from None
        return True

    # -- the INVITE and its outcome ------------------------------------------------------

    async def _run_invite(self, call: CallRecord) -> None:
        session = call.session

        def provisional(response: SipResponse) -> None:
            session.provisional_received(response)

        try:
            response = await self._endpoint.request(
                session.invite, call.dest, on_provisional=provisional
            )
        except TransactionTimeout as error:
            session.timed_out()
            self.finish(call)
            if not call.outcome.done():
                call.outcome.set_exception(error)
            return
        try:
            actions = session.final_received(response)
        except RemoteProtocolError as error:
            log.warning("unusable 2xx from %s (Call-ID %s): %s", call.device_id,
                        session.call_id, error.reason)  # fmt: skip
            actions = []
        self.perform(call, actions)
        self.finish(call)
        if not call.outcome.done():
            call.outcome.set_result(response)

    def _established(self, call: CallRecord, response: SipResponse) -> EstablishedCall:
        if not response.is_success:
            raise CallRefused(response.status, response.reason)
        dialog = call.session.dialog
        if dialog is None:
            raise InvalidAnswer(f"2xx without a usable dialog from {call.device_id}")
        try:
            answer = parse_sdp(response.body)
        except RemoteProtocolError as error:
            self._hang_up(call)
            raise InvalidAnswer(f"unusable SDP answer: {error.reason}") from None
        established = EstablishedCall(
            call.device_id, call.channel_id, dialog.id, call.subject, call.offer, answer
        )
        call.established = established
        log.info("call %s to %s/%s established (SSRC %s, %s)", established.call_id, call.device_id,
                 call.channel_id, established.ssrc, established.transport.value)  # fmt: skip
        return established

    # -- actions -----------------------------------------------------------------------

    def _hang_up(self, call: CallRecord) -> list[asyncio.Task[Any]]:
        return self.perform(call, call.session.hang_up())

    def perform(self, call: CallRecord, actions: list[Action]) -> list[asyncio.Task[Any]]:
        tasks: list[asyncio.Task[Any]] = []
        for action in actions:
            match action:
                case SendAck(request=ack):
                    self._endpoint.send_stateless(ack, self._dest(call))
                case SendCancel(request=cancel):
                    tasks.append(self._spawn(self._send_cancel(call, cancel)))
                case SendBye(request=bye):
                    tasks.append(self._spawn(self._send_bye(call, bye)))
        return tasks

    async def _send_cancel(self, call: CallRecord, cancel: SipRequest) -> None:
        try:
            response = await self._endpoint.request(cancel, call.dest)
            log.info("CANCEL of %s: %d", call.session.call_id, response.status)
        except SipError as error:
            log.info("CANCEL of %s failed: %s", call.session.call_id, error)

    async def _send_bye(self, call: CallRecord, bye: SipRequest) -> None:
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                response = await self._endpoint.request(bye, self._dest(call))
            log.info("BYE of %s: %d", call.session.call_id, response.status)
        except (SipError, TimeoutError) as error:
            log.info("BYE of %s got no answer: %r", call.session.call_id, error)
        finally:
            call.session.bye_finished()
            self.finish(call)

    def _dest(self, call: CallRecord) -> Address:
        """The device's current address (NAT rebinding, new TCP connection), else the old."""
        registration = self._access.registration(call.device_id)
        return registration.address if registration is not None else call.dest

    def finish(self, call: CallRecord) -> None:
        """Once terminated, keep the call only to ACK late 2xx retransmissions."""
        call_id = call.session.call_id
        if not call.session.is_terminated or self._calls.get(call_id) is not call:
            return
        del self._calls[call_id]
        now = self._running_loop().time()
        self._ended[call_id] = (now, call)
        while self._ended:
            first_id, (ended_at, _) = next(iter(self._ended.items()))
            if (
                now - ended_at < self.settings.linger
                and len(self._ended) <= self.settings.max_lingering
            ):
                break
            del self._ended[first_id]

    def find(self, call_id: str) -> CallRecord | None:
        call = self._calls.get(call_id)
        if call is not None:
            return call
        lingering = self._ended.get(call_id)
        return lingering[1] if lingering is not None else None

    def live(self, call_id: str) -> CallRecord | None:
        """The call, unless it has ended (for `CallInbox`)."""
        return self._calls.get(call_id)

    def notify_ended(self, call_id: str, reason: CallEndReason) -> None:
        if self._listener is None:
            return
        try:
            self._listener.call_ended(call_id, reason)
        except Exception:
            # Isolation boundary: a listener bug must not break signalling.
            log.exception("call listener failed (Call-ID %s)", call_id)

    def notify_media_status(self, call_id: str, status: MediaStatus) -> None:
        if self._listener is None:
            return
        try:
            self._listener.media_status(call_id, status)
        except Exception:
            log.exception("call listener failed on MediaStatus (Call-ID %s)", call_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = self._running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "Calls not started"
        return self._loop


def _offer(offer: SessionDescription | bytes) -> tuple[SessionDescription | None, bytes]:
    if isinstance(offer, SessionDescription):
        return offer, offer.serialise()
    try:
        return parse_sdp(offer), offer
    except RemoteProtocolError:
        return None, offer


def _retrieve(future: asyncio.Future[SipResponse]) -> None:
    """Mark an outcome nobody awaits any more as seen (no 'never retrieved' warning)."""
    if not future.cancelled():
        future.exception()


__all__ = [
    "CallEndReason",
    "CallState",
    "CallError",
    "CallListener",
    "CallNotFound",
    "CallRefused",
    "CallSettings",
    "CallTimeout",
    "Calls",
    "DeviceUnavailable",
    "EstablishedCall",
    "InvalidAnswer",
    "build_live_offer",
    "build_subject",
]
