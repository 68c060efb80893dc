"""How a simulated device answers the platform's MESSAGEs (GB/T 28181-2016 §9.3, §9.5, Annex N).

`QueryResponder.handle_message` gives every readable query `200 OK` at once and then
answers in a new MESSAGE (ref. §4.1): Catalog split over messages of `items_per_message`
items sharing the query's SN and sent one after another, each waiting for its 200
(ref. §4.4); DeviceInfo (§4.5); DeviceStatus (§4.6); RecordInfo (§4.7, §11.8) from the
channel's record index, every file overlapping [StartTime, EndTime] whole, in messages of
`records_per_message` items sent the same way (SumNum the total; none: one message with
SumNum 0; `Type` other than all/time finds nothing, the recordings being scheduled ones).
Notify/Broadcast goes to `on_broadcast` (the device's `BroadcastReceiver`).
Controls, configuration, PresetQuery, PTZPosition and the [2022] queries of what the camera
keeps go to `control` (`ControlResponder`,
which acts on them the way a camera does); PTZCmd codes are also kept in `ptz_commands`
(channel, code); IFameCmd is counted and makes the channel's calls send a key frame next, as
a camera does; other controls get `Result OK`. A body
that is not MANSCDP gets 400, a MESSAGE for another target 404. `drop_catalog_message`
and `drop_record_message` lose one message of the next catalog or RecordInfo answer, for
tests of partial results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from farmwatch.simulator.channels import ChannelTable, DeviceProfile
from farmwatch.simulator.control_responder import ControlResponder
from farmwatch.simulator.outbox import Outbox
from farmwatch.simulator.record_index import RECORD_TYPE, RecordIndex
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp import (
    BroadcastNotify,
    CatalogQuery,
    CmdType,
    ControlResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceStatusQuery,
    IFrameCommand,
    ManscdpMessage,
    OtherControlCommand,
    PtzCommand,
    RecordInfoQuery,
)
from farmwatch.sipserver.gb.manscdp_build import (
    build_catalog_responses,
    build_control_response,
    build_device_info_response,
    build_device_status_response,
    build_record_info_responses,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.sip.message import SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], object]


class QueryResponder:
    """Answers queries and controls addressed to one device or its channels."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        profile: DeviceProfile,
        channels: ChannelTable,
        outbox: Outbox,
        spawn: Spawn,
        *,
        items_per_message: int,
        on_key_frame_request: Callable[[str], object] = lambda channel_id: None,
        record_index: Callable[[str], RecordIndex],
        bytes_per_second: Callable[[], int],
        records_per_message: int = 10,
        device_time: Callable[[], str] = lambda: datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
    ) -> None:
        self._device_time = device_time
        self._record_index = record_index
        self._bytes_per_second = bytes_per_second
        self._records_per_message = records_per_message
        self._drop_record_index: int | None = None
        self.record_answers_sent = 0
        self._endpoint = endpoint
        self._on_key_frame_request = on_key_frame_request
        self._profile = profile
        self._channels = channels
        self._outbox = outbox
        self._spawn = spawn
        self._items_per_message = items_per_message
        self._drop_index: int | None = None
        self.iframe_requests = 0
        self.ptz_commands: list[tuple[str, str]] = []
        self.alarm_responses: list[tuple[str, int]] = []
        """(alarm source, SN) of each Response/Alarm the platform sent back."""
        self.catalogs_sent = 0
        self.control: ControlResponder | None = None
        """Acts on controls, configuration and PTZ queries (set by the device)."""
        self.on_broadcast: Callable[[BroadcastNotify, str | None], None] | None = None
        """Takes Notify/Broadcast (set by the device: `BroadcastReceiver.notified`)."""

    def drop_catalog_message(self, index: int) -> None:
        """Lose message `index` (0-based) of the next catalog answer."""
        self._drop_index = index

    def drop_record_message(self, index: int) -> None:
        """Lose message `index` (0-based) of the next RecordInfo answer."""
        self._drop_record_index = index

    async def handle_message(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        device_id = self._profile.device_id
        target = request.request_uri.user
        if target is not None and target != device_id and target not in self._channels:
            return build_response(request, 404, to_tag=new_tag())
        try:
            message = parse_manscdp(request.body)
        except ManscdpError as error:
            log.warning("device %s: unreadable MESSAGE from %s: %s", device_id,
                        incoming.source, error)  # fmt: skip
            return build_response(request, 400, to_tag=new_tag())
        self._endpoint.respond(build_response(request, 200, to_tag=new_tag()))
        reply_to = request.from_.uri.user
        self._answer(message, reply_to)
        return None

    def _answer(self, message: ManscdpMessage, reply_to: str | None) -> None:
        profile = self._profile
        if self.control is not None and self.control.answer(message, reply_to):
            return
        if isinstance(message, BroadcastNotify) and self.on_broadcast is not None:
            self.on_broadcast(message, reply_to)
            return
        match message:
            case CatalogQuery(sn=sn):
                self._spawn(self._send_catalog(sn, reply_to))
            case DeviceInfoQuery(device_id=queried, sn=sn):
                body = build_device_info_response(
                    queried,
                    sn,
                    device_name=profile.name,
                    manufacturer=profile.manufacturer,
                    model=profile.model,
                    firmware=profile.firmware,
                    channel_count=len(self._channels),
                )
                self._spawn(self._send(body, reply_to, "DeviceInfo"))
            case DeviceStatusQuery(device_id=queried, sn=sn):
                body = build_device_status_response(
                    queried,
                    sn,
                    encode=True,
                    record=False,
                    device_time=self._device_time(),
                )
                self._spawn(self._send(body, reply_to, "DeviceStatus"))
            case RecordInfoQuery():
                self._spawn(self._send_records(message, reply_to))
            case DeviceControl(device_id=target, command=IFrameCommand()):
                self.iframe_requests += 1
                self._on_key_frame_request(target)
            case ControlResponse(cmd_type=CmdType.ALARM, device_id=source, sn=sn):
                self.alarm_responses.append((source, sn))
            case DeviceControl(device_id=target, command=PtzCommand(hex_code=code)):
                self.ptz_commands.append((target, code))
                log.info("device %s: PTZCmd %s for %s", profile.device_id, code, target)
            case DeviceControl(device_id=queried, sn=sn, command=OtherControlCommand()):
                self._spawn(self._send(build_control_response(queried, sn), reply_to, "control"))
            case _:
                log.debug("device %s: nothing to answer to %s", profile.device_id, message)

    async def _send_catalog(self, sn: int, reply_to: str | None) -> None:
        device_id = self._profile.device_id
        bodies = build_catalog_responses(
            self._channels.items, sn, device_id, items_per_message=self._items_per_message
        )
        drop, self._drop_index = self._drop_index, None
        for index, body in enumerate(bodies):
            if index == drop:
                log.info("device %s: dropping catalog message %d of %d", device_id, index,
                         len(bodies))  # fmt: skip
                continue
            if not await self._send(body, reply_to, f"catalog {index + 1}/{len(bodies)}"):
                return  # the standard's serial sending: no point going on
        self.catalogs_sent += 1

    async def _send_records(self, query: RecordInfoQuery, reply_to: str | None) -> None:
        channel = query.device_id
        catalog = next((item for item in self._channels.items if item.device_id == channel), None)
        wanted = (query.record_type or "all").strip().lower()
        items = []
        if catalog is not None and wanted in ("all", RECORD_TYPE):
            index = self._record_index(channel)
            items = [
                index.item(file, name=catalog.name, address=catalog.address,
                           bytes_per_second=self._bytes_per_second())
                for file in index.query(query.start_time, query.end_time)
            ]  # fmt: skip
        bodies = build_record_info_responses(
            channel, query.sn, items, name=catalog.name if catalog is not None else None,
            items_per_message=self._records_per_message,
        )  # fmt: skip
        drop, self._drop_record_index = self._drop_record_index, None
        for number, body in enumerate(bodies):
            what = f"RecordInfo {number + 1}/{len(bodies)}"
            if number == drop:
                log.info("device %s: dropping %s", self._profile.device_id, what)
                continue
            if not await self._send(body, reply_to, what):
                return
        self.record_answers_sent += 1

    async def send_answer(self, body: bytes, reply_to: str | None, what: str) -> bool:
        """Send an answer MESSAGE; False (logged) unless the platform took it."""
        return await self._send(body, reply_to, what)

    async def _send(self, body: bytes, reply_to: str | None, what: str) -> bool:
        try:
            response = await self._outbox.send(body, to_id=reply_to)
        except SipError as error:
            log.warning("device %s: %s not delivered: %s", self._profile.device_id, what, error)
            return False
        if not response.is_success:
            log.warning("device %s: %s answered %d %s", self._profile.device_id, what,
                        response.status, response.reason)  # fmt: skip
            return False
        return True
