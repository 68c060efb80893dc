"""Requests devices send us: MESSAGE (keepalive, answers, notifications) and NOTIFY.

gb28181.md §2 item 9: every MESSAGE/NOTIFY gets its final response at once — 200
before any processing, 400 for a body that is not MANSCDP we can read (logged with the
device ID), 403 from a device with no live registration so that it registers again
(the documented policy after a platform restart whose state did not survive).
Answers to our queries are matched by (device, CmdType, SN); anything else goes to
the listener as a typed event.

Who sent a request is decided before its body is read (issue 13): the From user must be
a registered device and the packet must come from its registered address
(`RegistrationTable.sender`). Anything else is refused at the cost of a table lookup, so
that a flood of large bodies from strangers costs next to nothing, and a request naming
a device from elsewhere neither moves it nor proves it alive: it is answered 403
"register again" (GB devices re-register on a 403 to a keepalive), so a device whose NAT
mapping changed pays one re-registration. Refusals are counted (`stats`) and logged
once per burst (`BurstLog`): per device when it was named from elsewhere, per source
host for unregistered senders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from farmwatch.sipserver.device_events import CatalogChanged, DeviceNotified, KeepaliveReceived
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.catalog_collector import CollectionState, QueryKey
from farmwatch.sipserver.gb.manscdp import (
    AlarmNotify,
    CatalogNotify,
    CatalogResponse,
    CmdType,
    ConfigDownloadResponse,
    ControlResponse,
    CruiseTrackListResponse,
    CruiseTrackResponse,
    DeviceInfoResponse,
    DeviceStatusResponse,
    HomePositionResponse,
    Keepalive,
    ManscdpMessage,
    MobilePositionNotify,
    PresetQueryResponse,
    PtzPositionResponse,
    RecordInfoResponse,
    SdCardStatusResponse,
)
from farmwatch.sipserver.gb.manscdp_build import build_control_response
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp, plain_keepalive
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.gb.registrations import SenderStatus
from farmwatch.sipserver.gb.versions import OUR_GB_VERSION
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.bursts import BurstLog, BurstReport, BurstStage
from farmwatch.sipserver.sip.express import ExpressRequest, Reply
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

if TYPE_CHECKING:
    from farmwatch.sipserver.device_access import DeviceAccess

log = logging.getLogger(__name__)

MANSCDP_TYPES = frozenset({"application/manscdp+xml"})

NOT_REGISTERED = Reply(403, "Forbidden (not registered)")
UNSUPPORTED_TYPE = Reply(415, extra=(("Accept", "Application/MANSCDP+xml"),))
REGISTER_AGAIN = Reply(403, "Forbidden (register again)")


@dataclass(frozen=True, slots=True)
class InboxStats:
    """Requests refused before their body was read."""

    refused_unregistered: int
    """From a device ID with no live registration."""
    refused_elsewhere: int
    """Naming a registered device, from an address other than its registered one."""


class _Refusal(StrEnum):
    UNREGISTERED = "unregistered"
    ELSEWHERE = "elsewhere"


class _BurstKey(NamedTuple):
    refusal: _Refusal
    subject: str
    """The source host for unregistered senders, the device ID for the other ones."""


class DeviceInbox:
    def __init__(self, access: DeviceAccess) -> None:
        self._access = access
        self._bursts: BurstLog[_BurstKey] = BurstLog(
            overflow=lambda key: _BurstKey(key.refusal, "other senders")
        )
        self._refused_unregistered = 0
        self._refused_elsewhere = 0

    @property
    def stats(self) -> InboxStats:
        return InboxStats(self._refused_unregistered, self._refused_elsewhere)

    def next_deadline(self) -> float | None:
        """When a burst of refusals may have ended (its summary is logged by `tick`)."""
        return self._bursts.next_deadline()

    def tick(self, now: float) -> None:
        for report in self._bursts.ended(now):
            self._log_burst(report, None, None)

    def handle_message(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        device_id = (request.from_.uri.user or "").strip()
        reply = self._decide_message(
            device_id,
            incoming.source,
            request.content_type,
            request.body,
            gb_version=request.headers.get("X-GB-Ver"),
        )
        response = build_response(
            request, reply.status, reply.reason, to_tag=new_tag(), extra=reply.extra
        )
        if reply.then is None:
            return response
        self._access.endpoint.respond(response)
        reply.then()
        return None

    def handle_express_message(self, request: ExpressRequest, source: Address) -> Reply | None:
        """The express path's MESSAGE handler outside calls: plain keepalives, and every
        other MANSCDP request (the answers to our queries above all: a DeviceInfo and a
        Catalog per device of a registration storm), decided as `handle_message` does.
        Declined (to the general path): any other content."""
        return self._express_message(request, source, keepalives_only=False)

    def handle_express_keepalive(self, request: ExpressRequest, source: Address) -> Reply | None:
        """The express path's handler for a MESSAGE on a call's Call-ID: a plain keepalive
        is counted; anything else is declined, for the call's handler (MediaStatus)."""
        return self._express_message(request, source, keepalives_only=True)

    def _express_message(
        self, request: ExpressRequest, source: Address, *, keepalives_only: bool
    ) -> Reply | None:
        if request.media_type not in MANSCDP_TYPES:
            return None
        device_id = request.from_user
        override = self._access.charset_override(device_id)
        keepalive = plain_keepalive(request.body, charset_override=override)
        if keepalive is None:
            if keepalives_only:
                return None
            return self._decide_message(
                device_id, source, request.media_type, request.body,
                gb_version=request.gb_version, override=override,
            )  # fmt: skip
        reply = self.keepalive(device_id, source, keepalive)
        if reply.status == 200 and request.gb_version:
            self._access.note_version(device_id, request.gb_version)
            return Reply(200, extra=(("X-GB-Ver", OUR_GB_VERSION),))
        return reply

    def _decide_message(
        self,
        device_id: str,
        source: Address,
        media_type: str | None,
        body: bytes,
        *,
        gb_version: str | None,
        override: str | None = None,
    ) -> Reply:
        """What a MESSAGE outside calls gets, on either path; a 200 carries in `then` what
        the request brings, to act upon once the answer is sent."""
        access = self._access
        status = access.table.sender(device_id, source, access.now())
        if status is not SenderStatus.REGISTERED:  # before the body is read: see above
            return self._refuse(status, device_id, source, "MESSAGE")
        access.note_version(device_id, gb_version)
        if media_type not in MANSCDP_TYPES:
            return UNSUPPORTED_TYPE
        if override is None:
            override = access.charset_override(device_id)
        try:
            message = parse_manscdp(body, charset_override=override)
        except ManscdpError as error:
            return self._unreadable(device_id, source, error)
        version = (("X-GB-Ver", OUR_GB_VERSION),) if gb_version else ()
        if isinstance(message, Keepalive):
            reply = self.keepalive(device_id, source, message)
            return Reply(reply.status, reply.reason, (*reply.extra, *version))

        def then() -> None:
            access.table.seen(device_id, access.now())
            self._dispatch(device_id, message)

        return Reply(200, extra=version, then=then)

    def keepalive(self, device_id: str, source: Address, keepalive: Keepalive) -> Reply:
        """Count a keepalive; 403 to a device with no live registration, or one that is
        registered elsewhere, so that it registers (again)."""
        access = self._access
        outcome, events = access.table.keepalive(device_id, source, access.now())
        if outcome is not SenderStatus.REGISTERED:
            return self._refuse(outcome, device_id, source, "keepalive")
        registration = access.table.get(device_id)
        # The registered address, which `source` may differ from in its port (`host` check).
        address = registration.address if registration is not None else source
        access.publish(KeepaliveReceived(device_id, address, _status(keepalive)))
        if events:
            access.publish_presence(events)
        if access.restored_silent:
            access.spoke_after_restore(device_id)
        return Reply(200)

    def _refuse(self, status: SenderStatus, device_id: str, source: Address, what: str) -> Reply:
        access = self._access
        if status is SenderStatus.NOT_REGISTERED:
            self._refused_unregistered += 1
            key = _BurstKey(_Refusal.UNREGISTERED, source.host)
            reply = NOT_REGISTERED
        else:
            self._refused_elsewhere += 1
            key = _BurstKey(_Refusal.ELSEWHERE, device_id)
            reply = REGISTER_AGAIN
        report = self._bursts.record(key, access.now())
        if report is not None:
            self._log_burst(report, device_id, source, what)
            if report.stage is BurstStage.STARTED:
                access.rearm()  # for the summary when the burst ends
        return reply

    def _log_burst(
        self,
        report: BurstReport[_BurstKey],
        device_id: str | None,
        source: Address | None,
        what: str = "",
    ) -> None:
        refusal, subject = report.key
        if report.stage is BurstStage.STARTED and refusal is _Refusal.UNREGISTERED:
            log.info("%s from unregistered device %s (%s) refused; more from %s are summarised",
                     what, device_id, source, subject)  # fmt: skip
        elif report.stage is BurstStage.STARTED:
            registration = self._access.table.get(subject)
            log.warning(
                "%s naming device %s from %s refused: it is registered at %s (only a REGISTER "
                "moves a device); more are summarised",
                what, subject, source, registration.address if registration else "?",
            )  # fmt: skip
        elif refusal is _Refusal.UNREGISTERED:
            log.info("%d more requests from unregistered devices at %s refused (%s)",
                     report.count, subject, report.stage.value)  # fmt: skip
        else:
            log.warning("%d more requests naming device %s from other addresses refused (%s)",
                        report.count, subject, report.stage.value)  # fmt: skip

    def _parse(self, incoming: IncomingRequest, device_id: str) -> ManscdpMessage | SipResponse:
        request = incoming.request
        if request.content_type not in MANSCDP_TYPES:
            reply = UNSUPPORTED_TYPE
            return build_response(request, reply.status, to_tag=new_tag(), extra=reply.extra)
        try:
            return parse_manscdp(
                request.body, charset_override=self._access.charset_override(device_id)
            )
        except ManscdpError as error:
            reply = self._unreadable(device_id, incoming.source, error)
            return build_response(request, reply.status, reply.reason, to_tag=new_tag())

    @staticmethod
    def _unreadable(device_id: str, source: Address, error: ManscdpError) -> Reply:
        log.warning("unreadable MANSCDP from device %s (%s): %s", device_id, source, error)
        reason = "".join(c if c.isprintable() else "?" for c in str(error))[:120]
        return Reply(400, f"Bad Request ({reason})")

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
            case (
                ConfigDownloadResponse()
                | PresetQueryResponse()
                | PtzPositionResponse()
                | HomePositionResponse()
                | CruiseTrackListResponse()
                | CruiseTrackResponse()
                | SdCardStatusResponse()
            ):
                key = QueryKey(device_id, _ANSWERED[type(message)], message.sn)
                if not access.answer_received(device_id, key, message):
                    log.info("unsolicited %s from device %s (SN %d)",
                             type(message).__name__, device_id, message.sn)  # fmt: skip
            case RecordInfoResponse():
                access.records_received(device_id, message)
            case CatalogNotify():
                access.publish(CatalogChanged(device_id, message.items))
            case AlarmNotify():
                # 2016 9.4.2 steps 3-4: after the 200, a Response/Alarm (Result OK) of its
                # own, which many platforms skip (gb28181.md §10 item 18).
                log.info("alarm from device %s: source %s, priority %s, method %s, type %s",
                         device_id, message.device_id, message.priority, message.method,
                         message.alarm_type)  # fmt: skip
                access.publish(DeviceNotified(device_id, message))
                access.spawn(self._answer_alarm(device_id, message))
            case _:
                access.publish(DeviceNotified(device_id, message))

    async def _answer_alarm(self, device_id: str, alarm: AlarmNotify) -> None:
        access = self._access
        body = build_control_response(
            alarm.device_id, alarm.sn, CmdType.ALARM, charset=access.charset_for(device_id)
        )
        try:
            await access.send_manscdp(device_id, body, target_id=alarm.device_id)
        except SipError as error:
            log.info("alarm response to device %s not delivered: %s", device_id, error)

    def handle_notify(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        device_id = (request.from_.uri.user or "").strip()
        access = self._access
        status = access.table.sender(device_id, incoming.source, access.now())
        if status is not SenderStatus.REGISTERED:
            reply = self._refuse(status, device_id, incoming.source, "NOTIFY")
            if status is SenderStatus.NOT_REGISTERED:
                reply = Reply(481)  # no subscription of ours can exist with it
            return build_response(request, reply.status, reply.reason, to_tag=new_tag())
        access.note_version(device_id, request.headers.get("X-GB-Ver"))
        parsed = self._parse(incoming, device_id)
        if isinstance(parsed, SipResponse):
            return parsed
        version = _version_answer(request)
        access.endpoint.respond(build_response(request, 200, to_tag=new_tag(), extra=version))
        if isinstance(parsed, CatalogNotify | CatalogResponse) or _event(request) == "catalog":
            # Only a catalog NOTIFY speaks for the catalog subscription: an alarm or a
            # position NOTIFY must never be adopted as (or end) that dialog.
            access.subscriptions.notified(device_id, request)
        elif (kind := _EVENT_KINDS.get(type(parsed))) is not None:
            # Likewise an alarm NOTIFY speaks only for the alarm subscription (when one is
            # kept), a position NOTIFY for the position one: both say `Event: presence`.
            subscriptions = access.subscriptions_of(kind)
            if subscriptions is not None:
                subscriptions.notified(device_id, request)
        if isinstance(parsed, CatalogNotify | CatalogResponse):
            access.publish(CatalogChanged(device_id, parsed.items))
        else:
            access.publish(DeviceNotified(device_id, parsed))
        return None


_EVENT_KINDS: dict[type, CmdType] = {
    AlarmNotify: CmdType.ALARM,
    MobilePositionNotify: CmdType.MOBILE_POSITION,
}

_ANSWERED: dict[type, CmdType] = {
    ConfigDownloadResponse: CmdType.CONFIG_DOWNLOAD,
    PresetQueryResponse: CmdType.PRESET_QUERY,
    PtzPositionResponse: CmdType.PTZ_POSITION,
    HomePositionResponse: CmdType.HOME_POSITION_QUERY,
    CruiseTrackListResponse: CmdType.CRUISE_TRACK_LIST_QUERY,
    CruiseTrackResponse: CmdType.CRUISE_TRACK_QUERY,
    SdCardStatusResponse: CmdType.SD_CARD_STATUS,
}


def _event(request: SipRequest) -> str:
    """The event package of a NOTIFY (`Event: Catalog;id=1` → "catalog")."""
    return (request.headers.get("Event") or "").partition(";")[0].strip().lower()


def _version_answer(request: SipRequest) -> tuple[tuple[str, str], ...]:
    """Our `X-GB-Ver` for the answer to a request that carried one (2022 Annex I)."""
    return (("X-GB-Ver", OUR_GB_VERSION),) if request.headers.get("X-GB-Ver") else ()


def _status(keepalive: Keepalive) -> str | None:
    return keepalive.status.value if keepalive.status is not None else None
