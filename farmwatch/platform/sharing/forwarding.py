"""What an upper platform's queries and controls become towards our devices (gb28181.md §9.2).

The cascade passes on, for a channel it shares: RecordInfo (sent to the channel's device
with our own SN; each answer MESSAGE handed back as it arrives) and DeviceControl (PTZ and
the rest, re-sent with our SN, the command unchanged; the device's Response to an answered
command handed back). The channel's device is whatever
holds it here: a camera, an NVR, or a lower platform.

An upper's DeviceControl takes the camera's control floor first (`ControlFloor`, the one
the platform's own users share): the upper is a controller like any other, never an
administrator, so it cannot take a camera a local user holds, counts against the camera's
rate, and a local administrator may take the camera from it. A refused command raises
`ControlLocked` / `RateLimited` and is not sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from farmwatch.platform.errors import DeviceOffline, InvalidInput, NotFound
from farmwatch.platform.recordings.record_search import RecordSearchService
from farmwatch.platform.recordings.record_spans import (
    RecordSpan,
    merge_spans,
    parse_device_time,
)
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.services.control_floor import ControlFloor, Controller
from farmwatch.sipserver.device_access import DeviceAccess, DeviceUnavailable
from farmwatch.sipserver.gb.catalog_collector import RecordResult
from farmwatch.sipserver.gb.control_commands import answers_with_result
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    ControlResponse,
    DeviceControl,
    RecordInfoResponse,
    RecordItem,
)
from farmwatch.sipserver.gb.manscdp_build import build_device_control
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = ["UpperForwarding"]

log = logging.getLogger(__name__)


class UpperForwarding:
    def __init__(
        self,
        access: DeviceAccess,
        channels: ChannelRepository,
        search: RecordSearchService,
        *,
        floor: ControlFloor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._channels = channels
        self._search = search
        self.floor = floor or ControlFloor()
        """The cameras' control floor: the platform's own (`DeviceControlService.floor`)."""
        self._clock = clock

    async def platform_records(
        self, channel_id: str, start_time: str, end_time: str
    ) -> list[RecordItem]:
        """The platform's own recordings of `channel_id` between two device-local times, as
        RecordInfo items (merged spans, split at midnight, `RecordLocation` 0: central)."""
        zone = self._search.zone
        start = parse_device_time(start_time, zone)
        end = parse_device_time(end_time, zone)
        if start is None or end is None or end <= start:
            raise InvalidInput(f"times {start_time!r} - {end_time!r} do not make a range")
        spans = merge_spans(await self._search.platform_spans(channel_id, start, end), start, end)
        return [record_item(channel_id, span) for span in spans]

    async def device_of(self, channel_id: str) -> str:
        """The device that holds `channel_id` here; `NotFound`, or `DeviceOffline`."""
        record = await self._channels.get(channel_id)
        if record is None:
            raise NotFound(f"no channel {channel_id}")
        if not self._access.is_online(record.device_id):
            raise DeviceOffline(record.device_id)
        return record.device_id

    def holder_name(self, channel_id: str) -> str | None:
        """Who steers the camera now (for logs), None when nobody does."""
        held = self.floor.holder(channel_id, self._clock())
        return None if held is None else held[0].name

    async def records(
        self,
        channel_id: str,
        start_time: str,
        end_time: str,
        on_message: Callable[[RecordInfoResponse], None],
    ) -> RecordResult:
        """RecordInfo of `channel_id` from its device (device-local times as the upper sent
        them); `on_message` gets each answer MESSAGE as it comes."""
        device_id = await self.device_of(channel_id)
        try:
            future = self._access.query_records(
                device_id, channel_id, start_time, end_time, on_message=on_message
            )
        except DeviceUnavailable as error:
            raise DeviceOffline(device_id) from error
        return await future

    async def control(
        self, channel_id: str, control: DeviceControl, controller: Controller
    ) -> ControlResponse | None:
        """DeviceControl for `channel_id` by `controller` (the upper), sent to its device
        with our own SN once it took the camera's floor (`ControlLocked`, `RateLimited`).
        A command the device answers (RecordCmd, GuardCmd, AlarmCmd, HomePosition) returns
        its Response (`QueryTimeout` when none came); the others None."""
        command = control.command
        if command is None:
            raise NotFound("no control command recognised")
        device_id = await self.device_of(channel_id)
        self.floor.take(channel_id, controller, self._clock())

        def body_for_sn(sn: int, charset: ManscdpCharset) -> bytes:
            return build_device_control(
                channel_id, sn, command, control_priority=control.control_priority,
                charset=charset,
            )  # fmt: skip

        if answers_with_result(command):
            answer: ControlResponse = await self._access.query(
                device_id, CmdType.DEVICE_CONTROL, body_for_sn, target_id=channel_id
            )
            return answer
        body = body_for_sn(self._access.next_sn(), self._access.charset_for(device_id))
        await self._access.send_manscdp(device_id, body, target_id=channel_id)
        return None


def record_item(channel_id: str, span: RecordSpan) -> RecordItem:
    """One span of the platform's recordings as a RecordInfo item, times in the zone of
    the span (the platform's)."""
    zone = span.start.tzinfo
    assert zone is not None
    return RecordItem(
        device_id=channel_id,
        start_time=span.start.strftime("%Y-%m-%dT%H:%M:%S"),
        end_time=span.end.strftime("%Y-%m-%dT%H:%M:%S"),
        name=span.name or channel_id,
        file_path=span.file_path,
        address=span.address,
        secrecy=0,
        record_type=span.record_type or "time",
        file_size=span.file_size,
        record_location="0",
        stream_number=span.stream_number or 0,
    )
