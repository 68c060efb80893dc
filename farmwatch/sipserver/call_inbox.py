"""What devices send inside our INVITE dialogs (gb28181.md §2 item 6, §4.12, §6.10, §10 items
15, 25): BYE, INFO, in-dialog MESSAGE (MediaStatus) and 2xx retransmissions.

Every request is matched to its call by Call-ID alone, as wvp does: Hikvision puts something
other than the channel in the From of MediaStatus, and devices are loose with tags.
BYE → 200, then `CallListener.call_ended(call_id, REMOTE_BYE)`; a BYE in a dialog another
part holds (`Calls.add_dialog_owner`: a device's audio INVITE) goes to it; unknown → 481, on
the express path when the BYE is plain (a peer that BYEs every request it gave up on, as
sipp does by default, costs a scan rather than a parse and a transaction).
INFO or MESSAGE in a call → 200, and MediaStatus goes to `CallListener.media_status`;
a MESSAGE outside any call goes on to `DeviceInbox`. A 2xx to INVITE that no transaction
awaits any more is ACKed (again) through the call's `InviteSession`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from farmwatch.sipserver.call_types import CallEndReason
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.express import ExpressRequest, Reply
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

if TYPE_CHECKING:
    from farmwatch.sipserver.calls import CallRecord, Calls

log = logging.getLogger(__name__)

MANSCDP_TYPES = frozenset({"application/manscdp+xml"})


class CallInbox:
    """The endpoint handlers `Calls.start()` installs."""

    def __init__(self, calls: Calls) -> None:
        self._calls = calls

    def handle_stray_response(self, response: SipResponse) -> None:
        call = self._calls.find(response.call_id)
        if call is None:
            log.info("2xx to an INVITE we do not know (Call-ID %s)", response.call_id)
            return
        try:
            actions = call.session.success_retransmitted(response)
        except RemoteProtocolError as error:
            log.warning("unusable 2xx (Call-ID %s): %s", response.call_id, error.reason)
            return
        self._calls.perform(call, actions)

    async def handle_bye(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        call = self._calls.live(request.call_id)
        if call is None:
            owner = self._calls.dialog_owner(request.call_id)
            if owner is not None:
                return await owner.handle_bye(incoming)
        if call is None or not call.session.accepts_bye():
            return build_response(request, 481, to_tag=new_tag())
        was_confirmed = call.session.bye_received()
        self._calls.finish(call)
        self._calls.endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        log.info("device %s ended call %s (BYE)", call.device_id, request.call_id)
        if was_confirmed:
            self._calls.notify_ended(request.call_id, CallEndReason.REMOTE_BYE)
        return None

    def handle_express_bye(self, request: ExpressRequest, source: Address) -> Reply | None:
        """481 for a BYE that matches no call; any other goes the general way (`handle_bye`)."""
        call_id = request.call_id
        if self._calls.live(call_id) is None and self._calls.dialog_owner(call_id) is None:
            return Reply(481)
        return None

    async def handle_info(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        call = self._calls.live(request.call_id)
        if call is None:
            return build_response(request, 481, to_tag=new_tag())
        self._calls.endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        self._media_status(call, request)
        return None

    def handle_express_message(self, request: ExpressRequest, source: Address) -> Reply | None:
        """As `handle_message` chooses: a MESSAGE in a live call is the call's (only a plain
        keepalive is taken on the express path), any other the device inbox's."""
        inbox = self._calls.access.inbox
        if self._calls.live(request.call_id) is not None:
            return inbox.handle_express_keepalive(request, source)
        return inbox.handle_express_message(request, source)

    def handle_message(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        call = self._calls.live(request.call_id)
        if call is None:
            return self._calls.access.inbox.handle_message(incoming)
        self._calls.endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        self._media_status(call, request)
        return None

    def _media_status(self, call: CallRecord, request: SipRequest) -> None:
        if request.content_type not in MANSCDP_TYPES:
            return
        access = self._calls.access
        try:
            message = parse_manscdp(
                request.body, charset_override=access.charset_override(call.device_id)
            )
        except ManscdpError as error:
            log.warning("unreadable MANSCDP in call %s: %s", request.call_id, error)
            return
        if not isinstance(message, MediaStatus):
            log.info("%s inside call %s ignored", type(message).__name__, request.call_id)
            return
        log.info("MediaStatus %s in call %s", message.notify_type, request.call_id)
        self._calls.notify_media_status(request.call_id, message)
