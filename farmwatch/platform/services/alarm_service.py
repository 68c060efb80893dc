"""Alarms from devices, stored, acknowledged and reset (gb28181.md §4.10; issue 12 item 3).

`AlarmService.device_event` is a `DeviceRecorder` listener: an alarm the device inbox
answered (200, then Response/Alarm) is queued (bounded) and one writer task stores what is
queued in one transaction, then wakes whoever waits on the notification feed (`events`).
The device's `AlarmTime` is read in the platform's zone (`[registrar] timezone`); a
position outside the earth's ranges is dropped, not stored.

Who sees what: an administrator of the top organisation every alarm; another administrator
the alarms of the devices placed within reach and of the cameras he may view; a monitor
only those whose source is a camera granted to him. Acknowledging needs the alarm in
view; resetting sends AlarmCmd ResetAlarm (with the alarm's method and type) to the
device and records what it answered. An alarm whose evidence clip is still awaited (the
"after" part being recorded, `clip_awaited`) shows its clip as pending before the clip
exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from farmwatch.platform.access import AccessGate, Principal, Role
from farmwatch.platform.errors import DeviceRefused, NotFound, PermissionDenied
from farmwatch.platform.recordings.records import ClipState
from farmwatch.platform.repositories.alarm_repository import (
    AlarmFilter,
    AlarmRepository,
    AlarmState,
    NewAlarm,
    StoredAlarm,
)
from farmwatch.platform.services.batch_writer import BatchWriter
from farmwatch.platform.services.device_command_service import (
    AlarmResetCommand,
    CommandResult,
    DeviceCommandService,
)
from farmwatch.sipserver.device_events import DeviceEvent, DeviceNotified
from farmwatch.sipserver.gb.manscdp import AlarmNotify

__all__ = [
    "AlarmFilter",
    "AlarmService",
    "AlarmState",
    "StoredAlarm",
    "alarm_from_notify",
    "device_time",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_QUEUED = 10_000
MAX_WAIT = 30.0
"""The longest an events poll waits for a new alarm (seconds)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def device_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A device's `YYYY-MM-DDTHH:MM:SS` in `zone`, as UTC; None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _coordinate(value: float | None, limit: float) -> float | None:
    if value is None or value != value or not -limit <= value <= limit:  # NaN is not a place
        return None
    return value


def alarm_from_notify(
    device_id: str, alarm: AlarmNotify, received_at: datetime, zone: ZoneInfo
) -> NewAlarm:
    """What is stored of one Notify/Alarm (a bad position is dropped, both halves)."""
    longitude = _coordinate(alarm.longitude, 180.0)
    latitude = _coordinate(alarm.latitude, 90.0)
    if longitude is None or latitude is None:
        longitude = latitude = None
    description = alarm.description[:256] if alarm.description else None
    return NewAlarm(
        device_id=device_id, source_id=(alarm.device_id or device_id)[:20], sn=alarm.sn,
        priority=alarm.priority, method=alarm.method, alarm_type=alarm.alarm_type,
        alarm_time=device_time(alarm.alarm_time, zone), longitude=longitude,
        latitude=latitude, description=description, received_at=received_at,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Seen:
    """What one principal sees: None for everything."""

    devices: frozenset[str] | None
    sources: frozenset[str] | None

    def covers(self, alarm: StoredAlarm) -> bool:
        if self.devices is None and self.sources is None:
            return True
        return alarm.device_id in (self.devices or ()) or alarm.source_id in (self.sources or ())


def _who(principal: Principal) -> str:
    return principal.name if principal.token_id is None else f"token {principal.name}"


class AlarmService:
    def __init__(
        self,
        alarms: AlarmRepository,
        commands: DeviceCommandService,
        gate: AccessGate,
        *,
        zone: ZoneInfo,
        clock: Clock = _utc_now,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._alarms = alarms
        self._commands = commands
        self._gate = gate
        self._zone = zone
        self._clock = clock
        self._writer: BatchWriter[NewAlarm] = BatchWriter(
            self._store, max_queued=max_queued, what="alarms"
        )
        self._stored = asyncio.Event()
        """Set (and replaced) each time alarms are stored: the feed's waiters wake."""
        self._releasing = False
        self.stored_listeners: list[Callable[[list[StoredAlarm]], None]] = []
        """Told of each batch once it is stored (never waiting: the evidence clips)."""
        self.clip_awaited: Callable[[int], bool] | None = None
        """Whether an alarm's evidence clip is awaited and not made yet (`AlarmEvidence`):
        such an alarm is shown with `clip_state` pending rather than none."""

    def _shown(self, alarm: StoredAlarm) -> StoredAlarm:
        awaited = self.clip_awaited
        if alarm.clip_id is None and awaited is not None and awaited(alarm.id):
            return replace(alarm, clip_state=ClipState.PENDING.value)
        return alarm

    @property
    def zone(self) -> ZoneInfo:
        """The zone of device times (and of times given to the API without an offset)."""
        return self._zone

    @property
    def dropped(self) -> int:
        """Alarms not stored because too many were queued already."""
        return self._writer.dropped

    async def start(self) -> None:
        await self._writer.start()

    def release_waiters(self) -> None:
        """The platform is stopping: every feed request waiting for an alarm answers now
        (with what it has: none), and new ones do not wait."""
        self._releasing = True
        stored_now, self._stored = self._stored, asyncio.Event()
        stored_now.set()

    async def close(self) -> None:
        await self._writer.close()

    def device_event(self, event: DeviceEvent) -> None:
        """The `DeviceRecorder` listener: queues each alarm, never waits."""
        if not (isinstance(event, DeviceNotified) and isinstance(event.message, AlarmNotify)):
            return
        alarm = alarm_from_notify(event.device_id, event.message, self._clock(), self._zone)
        if self._writer.offer([alarm]):
            log.warning("alarm from device %s not stored: %d alarms queued already",
                        event.device_id, self._writer.queued)  # fmt: skip

    async def _store(self, batch: list[NewAlarm]) -> None:
        stored = await self._alarms.add_all(batch)
        for alarm in stored:
            log.info("alarm %d stored: device %s, source %s, priority %s, method %s",
                     alarm.id, alarm.device_id, alarm.source_id, alarm.priority,
                     alarm.method)  # fmt: skip
        stored_now, self._stored = self._stored, asyncio.Event()
        stored_now.set()
        for listener in self.stored_listeners:
            listener(stored)

    async def _seen(self, principal: Principal) -> _Seen:
        visibility = await self._gate.visibility(principal)
        if visibility.devices is None and visibility.cameras is None:
            return _Seen(None, None)
        devices = visibility.devices if principal.role is Role.ADMINISTRATOR else frozenset()
        return _Seen(devices or frozenset(), visibility.cameras or frozenset())

    async def find(
        self, principal: Principal, wanted: AlarmFilter, *, limit: int, offset: int = 0
    ) -> list[StoredAlarm]:
        """The newest first, limited to what `principal` sees."""
        seen = await self._seen(principal)
        scoped = replace(wanted, devices=seen.devices, sources=seen.sources)
        return [self._shown(a) for a in await self._alarms.find(scoped, limit=limit, offset=offset)]

    async def events(
        self, principal: Principal, since_id: int | None, *, wait: float, limit: int
    ) -> tuple[list[StoredAlarm], int]:
        """The alarms stored after `since_id` (oldest first), waiting up to `wait` s for
        one when there is none; and the ID to ask from next. `since_id` None: only what
        comes from now on (the cursor is the newest ID)."""
        cursor = await self._alarms.latest_id() if since_id is None else since_id
        seen = await self._seen(principal)
        wanted = AlarmFilter(after_id=cursor, devices=seen.devices, sources=seen.sources)
        # Taken before each query: an alarm stored between the query and the wait wakes it.
        stored = self._stored
        found = await self._alarms.find(wanted, limit=limit, oldest_first=True)
        if not found and wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, MAX_WAIT)):
                    # Woken by alarms the caller may not see: wait on (not at shutdown).
                    while not found and not self._releasing:
                        await stored.wait()
                        if self._releasing:
                            break
                        stored = self._stored
                        found = await self._alarms.find(wanted, limit=limit, oldest_first=True)
        next_id = found[-1].id if found else cursor
        return [self._shown(alarm) for alarm in found], next_id

    async def _visible(self, principal: Principal, alarm_id: int) -> StoredAlarm:
        alarm = await self._alarms.get(alarm_id)
        if alarm is None:
            raise NotFound(f"no alarm {alarm_id}")
        if not (await self._seen(principal)).covers(alarm):
            raise PermissionDenied(f"alarm {alarm_id} is not within your reach")
        return alarm

    async def get(self, principal: Principal, alarm_id: int) -> StoredAlarm:
        return self._shown(await self._visible(principal, alarm_id))

    async def acknowledge(
        self, principal: Principal, alarm_id: int, note: str | None
    ) -> StoredAlarm:
        await self._visible(principal, alarm_id)
        stored = await self._alarms.acknowledge(alarm_id, _who(principal), self._clock(), note)
        if stored is None:
            raise NotFound(f"no alarm {alarm_id}")
        log.info("alarm %d acknowledged by %s", alarm_id, _who(principal))
        return self._shown(stored)

    async def reset(self, principal: Principal, alarm_id: int) -> tuple[StoredAlarm, CommandResult]:
        """AlarmCmd ResetAlarm to the alarm's source (or the device when the source is not
        one of its catalogued channels); the device's answer is recorded either way."""
        alarm = await self._visible(principal, alarm_id)
        command = AlarmResetCommand(method=alarm.method, alarm_type=alarm.alarm_type)
        try:
            result = await self._commands.send(alarm.device_id, command, alarm.source_id)
        except NotFound:
            result = await self._commands.send(alarm.device_id, command)
        text = result.result if result.reason is None else f"{result.result} ({result.reason})"
        stored = await self._alarms.record_reset(
            alarm_id, _who(principal), self._clock(), text, is_done=result.is_ok
        )
        if stored is None:
            raise NotFound(f"no alarm {alarm_id}")
        if not result.is_ok:
            raise DeviceRefused(f"device {alarm.device_id} refused the alarm reset: {text}")
        return self._shown(stored), result
