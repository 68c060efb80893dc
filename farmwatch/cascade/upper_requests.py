"""What an upper platform asks of us outside calls (gb28181.md §9.2; issue 9 item 2).

Every MESSAGE is answered 200 at once and the answer follows as our own MESSAGEs (a slow
answer must never make the upper retransmit its query and so ask twice; field-notes.md
§2.3 items 12, 21):

- Query/Catalog: the shared catalog (`SharingService`), parents first, `items_per_message`
  items per Response MESSAGE, all with the upper's SN and SumNum = the total; each message
  waits for its 200 up to `CATALOG_ACK_WAIT`, then the next goes anyway (the unanswered one
  keeps being retransmitted by its transaction): acknowledgement-paced, with a timed
  fallback for uppers that answer late. A new Catalog query replaces a push in progress.
- Query/DeviceInfo, Query/DeviceStatus: for our own ID from what we are; for a shared
  device or channel from the database; for anything else Result ERROR.
- Query/RecordInfo for a shared channel addressed to us (To our ID) or with
  IndistinctQuery 1: answered from the platform's own recordings of the channel.
- Query/RecordInfo for a shared channel otherwise: asked of the channel's device with our own SN
  (two uppers' SNs never collide downstream, field-notes.md §2.3 item 20); the records go
  up with the upper's SN, re-paged (`RecordPager`) as the device's answers arrive. A channel
  not shared, unknown or offline gets an empty answer (SumNum 0) at once.
- Control/DeviceControl (PTZ and the rest) for a shared channel: passed on with our SN when
  `allow_ptz`; the upper's MESSAGE was answered already, so it never retransmits it; the
  device's Response to an answered command goes up with the upper's SN. The
  upper steers as a controller of the camera's floor (`upper_controller`: named after the
  upper, never an administrator): a camera a local user holds, or one steered faster than
  its rate, refuses the command, which is then not sent (logged naming the upper, the
  channel and the holder); a refused command the standard answers (RecordCmd, GuardCmd,
  AlarmCmd, HomePosition) gets Response/DeviceControl Result ERROR with the reason, a
  refused PTZCmd nothing (it has no Response).
- Notify/Broadcast: a voice broadcast from the upper to a shared channel (`UpperBroadcasts`).

Alarms (`forward_alarm`): a device's Notify/Alarm for a shared channel goes up as our own
Notify/Alarm (our SN, the source channel's ID); the upper's Response/Alarm is taken quietly.

SUBSCRIBE with a Catalog query (2016 §9.11, 2022 Annex N) is answered by a
`CatalogNotifier`; every stored change of a shared item (`CatalogChange`: a camera going
offline, a catalog NOTIFY from a device, a new catalog) becomes a NOTIFY in the live
subscription dialogs, in the order the changes were written, `items_per_message` items
per NOTIFY.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from farmwatch.cascade.record_pager import RecordPager
from farmwatch.cascade.settings import ShareMode, UpperSettings, UpperTransport
from farmwatch.cascade.upper_target import UpperTarget
from farmwatch.platform.catalog_changes import CatalogChange
from farmwatch.platform.errors import ControlLocked, PlatformError, RateLimited
from farmwatch.platform.services.control_floor import Controller
from farmwatch.platform.sharing.catalog_export import SystemItem
from farmwatch.platform.sharing.forwarding import UpperForwarding
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.sharing_service import SharingService
from farmwatch.sipserver.catalog_notifier import CatalogNotifier
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.errors import SipError, TransactionTimeout
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem
from farmwatch.sipserver.gb.control_commands import answers_with_result
from farmwatch.sipserver.gb.manscdp import (
    AlarmNotify,
    BroadcastNotify,
    CatalogQuery,
    CmdType,
    ControlResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceStatusQuery,
    Keepalive,
    RecordInfoQuery,
    RecordInfoResponse,
    ResultCode,
)
from farmwatch.sipserver.gb.manscdp_build import (
    build_alarm_notify,
    build_catalog_responses,
    build_control_response,
    build_device_info_response,
    build_device_status_response,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.register_client import DeviceIdentity
from farmwatch.sipserver.sip.message import build_response
from farmwatch.sipserver.sip.request_builder import new_tag

__all__ = ["UpperRequests", "share_rule", "upper_controller"]

log = logging.getLogger(__name__)

CATALOG_ACK_WAIT = 0.2
"""Seconds a catalog message waits for its 200 before the next one goes anyway."""
MAX_UNANSWERED = 64
"""Catalog messages in flight without a 200; beyond it the push waits for the oldest."""
ANSWER_TIMEOUT = 32.0
MANSCDP_TYPES = frozenset({"application/manscdp+xml"})
RECORD_ITEMS_PER_MESSAGE = {UpperTransport.UDP: 5, UpperTransport.TCP: 20}
"""Records per RecordInfo answer towards an upper (≤ 20; fewer over UDP, against IP
fragmentation)."""
MAX_QUEUED_CHANGES = 10_000
"""Changes waiting to be notified; beyond it the oldest are dropped (and logged): an upper
that cannot keep up gets the next full catalog instead."""
FIRMWARE = "farmwatch 0.1"


@dataclass(frozen=True, slots=True)
class _RuleChanged:
    """The upper's share went from `before` to `after` (queued with the other changes)."""

    before: ShareRule
    after: ShareRule


def share_rule(settings: UpperSettings) -> ShareRule:
    return ShareRule(
        share_all=settings.share_mode is ShareMode.ALL,
        devices=frozenset(settings.share_devices),
        channels=frozenset(settings.share_channels),
        farms=frozenset(settings.share_farms),
    )


def upper_controller(settings: UpperSettings) -> Controller:
    """The upper as a controller of our cameras' floor: one per link, shown to local users
    by its name and ID, never an administrator (it cannot take a camera from a local user)."""
    return Controller(
        key=f"upper:{settings.name}:{settings.id}",
        name=f"upper platform {settings.name} ({settings.id})",
        is_administrator=False,
    )


def _what_changed(change: CatalogChange | _RuleChanged | None) -> str:
    if change is None:
        return "the catalog"
    if isinstance(change, _RuleChanged):
        return "the share"
    return change.device_id


class UpperRequests:
    def __init__(
        self,
        target: UpperTarget,
        settings: UpperSettings,
        sharing: SharingService,
        forwarding: UpperForwarding,
        system: SystemItem,
        identity: DeviceIdentity,
    ) -> None:
        self._target = target
        self._forwarding = forwarding
        self._settings = settings
        self._sharing = sharing
        self._system = system
        self.rule = share_rule(settings)
        self._catalog_push: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.catalog_pushes = 0
        self.notifier = CatalogNotifier(
            target.endpoint, identity, clock=time.monotonic, request_timeout=ANSWER_TIMEOUT
        )
        self._changes: asyncio.Queue[CatalogChange | _RuleChanged | None] = asyncio.Queue()
        """Changes to NOTIFY in order; None: the whole shared catalog (a new subscription);
        `_RuleChanged`: what the upper gained and lost when its share changed."""
        self._notifying: asyncio.Task[None] | None = None
        self.notifies_sent = 0
        self.alarms_forwarded = 0
        self.controller = upper_controller(settings)
        self.broadcast_handler: Callable[[BroadcastNotify], None] | None = None
        """Takes the upper's Notify/Broadcast (`UpperBroadcasts.notified`)."""
        self.controls_forwarded = 0
        self.controls_refused = 0

    def catalog_changed(self, change: CatalogChange) -> None:
        """A stored change: NOTIFY it when the upper subscribed and the device is shared."""
        if not self.notifier.live() or not self._concerns(change):
            return
        self._queue_change(change)

    def change_rule(self, rule: ShareRule) -> None:
        """The upper sees `rule` from now on (queries answer it at once); a subscribed
        upper is NOTIFYed of what it lost (DEL) and gained (ADD), in order with the other
        changes."""
        before, self.rule = self.rule, rule
        if before != rule and self.notifier.live():
            self._queue_change(_RuleChanged(before, rule))

    def _queue_change(self, change: CatalogChange | _RuleChanged | None) -> None:
        if self._changes.qsize() >= MAX_QUEUED_CHANGES:
            self._changes.get_nowait()
            log.warning("upper %s: catalog changes pile up; the oldest dropped",
                        self._settings.name)  # fmt: skip
        self._changes.put_nowait(change)
        if self._notifying is None or self._notifying.done():
            self._notifying = self._spawn(self._notify_changes())

    def _concerns(self, change: CatalogChange) -> bool:
        if self.rule.farms or self.rule.shares_device(change.device_id):
            return True
        return any(self.rule.shares_item(change.device_id, i) for i in change.item_ids or ())

    async def _notify_changes(self) -> None:
        while not self._changes.empty():
            change = self._changes.get_nowait()
            try:
                if change is None:
                    items = await self._whole_catalog()
                elif isinstance(change, _RuleChanged):
                    items = await self._sharing.rule_changed_items(
                        self._system, change.before, change.after
                    )
                else:
                    items = await self._sharing.changed_items(self._system, self.rule, change)
            except Exception:
                # Isolation boundary: one change (a read failing); the next ones go on.
                log.exception("upper %s: change of %s not readable", self._settings.name,
                              _what_changed(change))  # fmt: skip
                continue
            per_message = self._settings.items_per_message
            for start in range(0, len(items), per_message):
                await self.notifier.notify(items[start : start + per_message])
                self.notifies_sent += 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def handle(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        endpoint = self._target.endpoint
        if request.method == "SUBSCRIBE":
            self._spawn(self._subscribe(incoming))
            return
        if request.method != "MESSAGE":
            status = 405 if request.method in ("REGISTER", "PUBLISH") else 501
            endpoint.respond(build_response(request, status, to_tag=new_tag()))
            return
        if (request.content_type or "").lower() not in MANSCDP_TYPES:
            endpoint.respond(build_response(request, 415, to_tag=new_tag()))
            return
        try:
            message = parse_manscdp(request.body, charset_override=None)
        except ManscdpError as error:
            log.warning("upper %s: unreadable MANSCDP: %s", self._settings.name, error)
            endpoint.respond(build_response(request, 400, "Bad MANSCDP", to_tag=new_tag()))
            return
        endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        match message:
            case CatalogQuery():
                self._start_catalog_push(message)
            case DeviceInfoQuery():
                self._spawn(self._answer_device_info(message))
            case DeviceStatusQuery():
                self._spawn(self._answer_device_status(message))
            case RecordInfoQuery():
                to_platform = request.to.uri.user == self._target.local_id
                self._spawn(self._answer_records(message, to_platform=to_platform))
            case DeviceControl():
                self._spawn(self._forward_control(message))
            case BroadcastNotify() if self.broadcast_handler is not None:
                self.broadcast_handler(message)
            case Keepalive():
                pass
            case ControlResponse(cmd_type=CmdType.ALARM):
                pass  # the upper's Response/Alarm to one we forwarded
            case _:
                log.info("upper %s: %s not handled yet", self._settings.name,
                         type(message).__name__)  # fmt: skip

    async def _subscribe(self, incoming: IncomingRequest) -> None:
        created = self.notifier.created
        response = await self.notifier.handle_subscribe(incoming)
        if response is not None:
            self._target.endpoint.respond(response)
        if self.notifier.created > created:
            # What changed between the upper's catalog query and its subscription would
            # otherwise never reach it: the new dialog starts with the whole catalog.
            self._queue_change(None)

    async def _whole_catalog(self) -> list[CatalogItem]:
        items = await self._sharing.catalog(self._system, self.rule)
        return [replace(item, event=CatalogEvent.UPDATE) for item in items[1:]]

    # -- catalog -------------------------------------------------------------------------

    def _start_catalog_push(self, query: CatalogQuery) -> None:
        if self._catalog_push is not None and not self._catalog_push.done():
            self._catalog_push.cancel()
        self._catalog_push = self._spawn(self._push_catalog(query.sn))

    async def _push_catalog(self, sn: int) -> None:
        items = await self._sharing.catalog(self._system, self.rule)
        bodies = build_catalog_responses(
            items,
            sn,
            self._target.local_id,
            items_per_message=self._settings.items_per_message,
            charset=self._target.charset,
        )
        in_flight: list[asyncio.Task[bool]] = []
        refused = 0
        for body in bodies:
            sent = asyncio.get_running_loop().create_task(self._send(body))
            in_flight.append(sent)
            await asyncio.wait({sent}, timeout=CATALOG_ACK_WAIT)
            if len(in_flight) > MAX_UNANSWERED:
                await asyncio.wait({in_flight[0]})
            refused += sum(1 for t in in_flight if t.done() and not t.result())
            in_flight = [t for t in in_flight if not t.done()]
        if in_flight:
            done, _ = await asyncio.wait(in_flight)
            refused += sum(1 for t in done if not t.result())
        self.catalog_pushes += 1
        log.info("upper %s: catalog SN %d sent, %d items in %d messages (%d not answered 200)",
                 self._settings.name, sn, len(items), len(bodies), refused)  # fmt: skip

    async def _send(self, body: bytes) -> bool:
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                response = await self._target.send_message(body)
        except (TimeoutError, TransactionTimeout, OSError):
            return False
        return response.status == 200

    # -- alarms ----------------------------------------------------------------------------

    def forward_alarm(self, alarm: AlarmNotify) -> None:
        """A device's alarm: up to this upper when it shares the source channel."""
        self._spawn(self._forward_alarm(alarm))

    async def _forward_alarm(self, alarm: AlarmNotify) -> None:
        if await self._sharing.shared_channel(self.rule, alarm.device_id) is None:
            return
        body = build_alarm_notify(
            replace(alarm, sn=self._target.next_sn()), charset=self._target.charset
        )
        delivered = await self._send(body)
        log.info("upper %s: alarm of %s (priority %s) %s", self._settings.name,
                 alarm.device_id, alarm.priority,
                 "forwarded" if delivered else "not answered 200")  # fmt: skip
        self.alarms_forwarded += int(delivered)

    # -- records and control -------------------------------------------------------------------

    async def _answer_records(self, query: RecordInfoQuery, *, to_platform: bool) -> None:
        channel_id = query.device_id
        pager = RecordPager(
            channel_id,
            query.sn,
            per_message=RECORD_ITEMS_PER_MESSAGE[self._settings.upper_transport],
            charset=self._target.charset,
        )
        pages: asyncio.Queue[bytes | None] = asyncio.Queue()

        def arrived(response: RecordInfoResponse) -> None:
            for page in pager.add(response.sum_num, response.items):
                pages.put_nowait(page)

        sender = self._spawn(self._send_pages(pages))
        shared = await self._sharing.shared_channel(self.rule, channel_id)
        if shared is None or query.start_time is None or query.end_time is None:
            log.info("upper %s: RecordInfo for %s answered empty (not shared or no times)",
                     self._settings.name, channel_id)  # fmt: skip
        elif to_platform or query.indistinct_query == 1:
            # Addressed to us, or "any": the platform's own recordings of the channel.
            try:
                items = await self._forwarding.platform_records(
                    channel_id, query.start_time, query.end_time
                )
            except PlatformError as error:
                log.info("upper %s: RecordInfo for %s: %s", self._settings.name, channel_id,
                         error)  # fmt: skip
            else:
                for page in pager.add(len(items), items):
                    pages.put_nowait(page)
        else:
            try:
                await self._forwarding.records(
                    channel_id, query.start_time, query.end_time, arrived
                )
            except (PlatformError, SipError) as error:
                log.info("upper %s: RecordInfo for %s: %s", self._settings.name, channel_id,
                         error)  # fmt: skip
        for page in pager.finish():
            pages.put_nowait(page)
        pages.put_nowait(None)
        await sender
        log.info("upper %s: RecordInfo SN %d for %s: %d records in %d messages",
                 self._settings.name, query.sn, channel_id, pager.items_sent,
                 pager.messages_sent)  # fmt: skip

    async def _send_pages(self, pages: asyncio.Queue[bytes | None]) -> None:
        while (page := await pages.get()) is not None:
            await self._send(page)

    async def _forward_control(self, control: DeviceControl) -> None:
        channel_id = control.device_id
        if not self._settings.allow_ptz:
            log.info("upper %s: DeviceControl for %s not passed on (allow_ptz off)",
                     self._settings.name, channel_id)  # fmt: skip
            return
        if await self._sharing.shared_channel(self.rule, channel_id) is None:
            log.info("upper %s: DeviceControl for %s, not shared", self._settings.name,
                     channel_id)  # fmt: skip
            return
        try:
            answer = await self._forwarding.control(channel_id, control, self.controller)
        except (ControlLocked, RateLimited) as error:
            self.controls_refused += 1
            holder = self._forwarding.holder_name(channel_id)
            log.warning(
                "upper %s: DeviceControl for channel %s refused (held by %s): %s",
                self._settings.name, channel_id, holder or "nobody", error,
                extra={"upper": self._settings.name, "channel_id": channel_id,
                       "holder": holder},
            )  # fmt: skip
            if answers_with_result(control.command):
                await self._send(
                    build_control_response(
                        channel_id, control.sn, CmdType.DEVICE_CONTROL, ResultCode.ERROR,
                        reason=str(error), charset=self._target.charset,
                    )
                )  # fmt: skip
        except (PlatformError, SipError) as error:
            log.info("upper %s: DeviceControl for %s not delivered: %s", self._settings.name,
                     channel_id, error)  # fmt: skip
        else:
            self.controls_forwarded += 1
            if answer is not None:  # the device's Result goes up with the upper's SN
                await self._send(
                    build_control_response(
                        channel_id, control.sn, CmdType.DEVICE_CONTROL,
                        answer.result or ResultCode.ERROR, reason=answer.reason,
                        charset=self._target.charset,
                    )
                )  # fmt: skip

    # -- device info and status ----------------------------------------------------------------

    async def _answer_device_info(self, query: DeviceInfoQuery) -> None:
        charset = self._target.charset
        if query.device_id == self._target.local_id:
            channels = sum(1 for _ in await self._sharing.catalog(self._system, self.rule)) - 1
            body = build_device_info_response(
                query.device_id,
                query.sn,
                device_name=self._system.name,
                manufacturer=self._system.manufacturer,
                model=self._system.model,
                firmware=FIRMWARE,
                channel_count=channels,
                charset=charset,
            )
        else:
            device = await self._sharing.shared_device(self.rule, query.device_id)
            if device is None:
                body = build_device_info_response(
                    query.device_id, query.sn, result=ResultCode.ERROR, charset=charset
                )
            else:
                body = build_device_info_response(
                    query.device_id,
                    query.sn,
                    device_name=device.name,
                    manufacturer=device.manufacturer,
                    model=device.model,
                    firmware=device.firmware,
                    channel_count=device.channel_count,
                    charset=charset,
                )
        await self._send(body)

    async def _answer_device_status(self, query: DeviceStatusQuery) -> None:
        charset = self._target.charset
        online: bool | None
        if query.device_id == self._target.local_id:
            online = True
        else:
            device = await self._sharing.shared_device(self.rule, query.device_id)
            if device is not None:
                online = device.is_online
            else:
                channel = await self._sharing.shared_channel(self.rule, query.device_id)
                online = None if channel is None else channel.is_online
        if online is None:
            body = build_device_status_response(
                query.device_id, query.sn, result=ResultCode.ERROR, online=None, status=None,
                reason="not shared", charset=charset,
            )  # fmt: skip
        else:
            body = build_device_status_response(
                query.device_id,
                query.sn,
                online=online,
                status=ResultCode.OK if online else ResultCode.ERROR,
                encode=online,
                charset=charset,
            )
        await self._send(body)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
