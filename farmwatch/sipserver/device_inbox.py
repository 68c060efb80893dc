"""Requests devices send us: MESSAGE (keepalive, answers, notifications) and NOTIFY.

gb28181.md §2 item 9: every MESSAGE/NOTIFY gets its final response at once — 200
before any processing, 400 for a body that is not MANSCDP we can read (logged with the
device ID), 403 from a device with no live registration so that it registers again
(the documented policy after a platform restart whose state did not survive).
Answers to our queries are matched by (device, CmdType, SN); anything else goes to
the listener as a typed event.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from farmwatch.sipserver.device_events import CatalogChanged, DeviceNotified, KeepaliveReceived
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.gb.catalog_collector import CollectionState, QueryKey
from farmwatch.sipserver.gb.manscdp import (
    CatalogNotify,
    CatalogResponse,
    CmdType,
    ControlResponse,
    DeviceInfoResponse,
    DeviceStatusResponse,
    Keepalive,
    ManscdpMessage,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp, plain_keepalive
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.gb.registrations import KeepaliveOutcome
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.express import ExpressRequest, Reply
from farmwatch.sipserver.sip.message import SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

if TYPE_CHECKING:
    from farmwatch.sipserver.device_access import DeviceAccess

log = logging.getLogger(__name__)

MANSCDP_TYPES = frozenset({"application/manscdp+xml"})


class DeviceInbox:
    def __init__(self, access: DeviceAccess) -> None:
        self._access = access

    def handle_message(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        device_id = (request.from_.uri.user or "").strip()
        parsed = self._parse(incoming, device_id)
        if isinstance(parsed, SipResponse):
            return parsed
        access = self._access
        if isinstance(parsed, Keepalive):
            reply = self.keepalive(device_id, incoming.source, parsed)
            return build_response(request, reply.status, reply.reason, to_tag=new_tag())
        if access.table.get(device_id) is None:
            log.info("MESSAGE from unregistered device %s (%s)", device_id, incoming.source)
            return build_response(request, 403, "Forbidden (not registered)", to_tag=new_tag())
        access.endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        access.table.seen(device_id, access.now())
        self._dispatch(device_id, parsed)
        return None

    def handle_express_message(self, request: ExpressRequest, source: Address) -> Reply | None:
        """The express path's MESSAGE handler: plain keepalives; anything else declined."""
        if request.media_type not in MANSCDP_TYPES:
            return None
        override = self._access.charset_override(request.from_user)
        keepalive = plain_keepalive(request.body, charset_override=override)
        if keepalive is None:
            return None
        return self.keepalive(request.from_user, source, keepalive)

    def keepalive(self, device_id: str, source: Address, keepalive: Keepalive) -> Reply:
        """Count a keepalive; 403 to a device with no live registration, so it registers."""
        access = self._access
        outcome, events = access.table.keepalive(device_id, source, access.now())
        if outcome is KeepaliveOutcome.NOT_REGISTERED:
            log.info("keepalive from unregistered device %s (%s)", device_id, source)
            return Reply(403, "Forbidden (not registered)")
        access.publish(KeepaliveReceived(device_id, source, _status(keepalive)))
        if events:
            access.publish_presence(events)
        if access.restored_silent:
            access.spoke_after_restore(device_id)
        return Reply(200)

    def _parse(self, incoming: IncomingRequest, device_id: str) -> ManscdpMessage | SipResponse:
        request = incoming.request
        if request.content_type not in MANSCDP_TYPES:
            return build_response(request, 415, to_tag=new_tag(),
                                  extra=(("Accept", "Application/MANSCDP+xml"),))  # fmt: skip
        try:
            return parse_manscdp(
                request.body, charset_override=self._access.charset_override(device_id)
            )
        except ManscdpError as error:
            log.warning("unreadable MANSCDP from device %s (%s): %s", device_id,
                        incoming.source, error)  # fmt: skip
            reason = "".join(c if c.isprintable() else "?" for c in str(error))[:120]
            return build_response(request, 400, f"Bad Request ({reason})", to_tag=new_tag())

    def _dispatch(self, device_id: str, message: ManscdpMessage) -> None:
        access = self._access
        match message:
            case CatalogResponse():
                progress = access.collector.add(message, access.now())
                if progress.state in (CollectionState.COMPLETE, CollectionState.PARTIAL):
                    access.catalog_finished(device_id, progress)
                access.rearm()
            case DeviceInfoResponse():
                key = QueryKey(device_id, CmdType.DEVICE_INFO, message.sn)
                access.answer_received(device_id, key, message)
            case DeviceStatusResponse():
                key = QueryKey(device_id, CmdType.DEVICE_STATUS, message.sn)
                access.answer_received(device_id, key, message)
            case ControlResponse():
                key = QueryKey(device_id, message.cmd_type, message.sn)
                access.answer_received(device_id, key, message)
            case CatalogNotify():
                access.publish(CatalogChanged(device_id, message.items))
            case _:
                access.publish(DeviceNotified(device_id, message))

    def handle_notify(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        device_id = (request.from_.uri.user or "").strip()
        parsed = self._parse(incoming, device_id)
        if isinstance(parsed, SipResponse):
            return parsed
        access = self._access
        if access.table.get(device_id) is None:
            return build_response(request, 481, to_tag=new_tag())
        access.endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        access.subscriptions.notified(device_id, request)
        if isinstance(parsed, CatalogNotify | CatalogResponse):
            access.publish(CatalogChanged(device_id, parsed.items))
        else:
            access.publish(DeviceNotified(device_id, parsed))
        return None


def _status(keepalive: Keepalive) -> str | None:
    return keepalive.status.value if keepalive.status is not None else None
