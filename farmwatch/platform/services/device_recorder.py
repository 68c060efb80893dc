"""Writes what the SIP part reports about devices to the database, behind its back.

`DeviceRecorder.device_event` is the `DeviceListener`: it only appends to a bounded
in-memory queue, so signalling never waits for the database. One writer task drains
the queue in order, in batches: events wait up to `event_window` (0.1 s) for others to
join them (a transaction costs about a millisecond of CPU, several times a registration's
signalling: written one by one, 500 registrations a second took two thirds of a core);
keepalives are coalesced (the latest per device) and written once a `beat_window`, so
10,000 devices at 60 s keepalives cost a few statements a second; one that waits when its
device's registration is written goes into the registration's row.
A failing write is logged with the device ID and skipped: one bad row never stops
the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

from farmwatch.platform.catalog_changes import CatalogChange, CatalogChangeListener
from farmwatch.platform.catalog_mapping import channel_data, is_usable_item_id
from farmwatch.platform.records import (
    CatalogReplacement,
    ChannelData,
    DeviceInfoData,
    DeviceNotFound,
    KeepaliveBeat,
    OfflineReason,
    RegistrationData,
    Transport,
)
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository
from farmwatch.sipserver.device_events import (
    CatalogChanged,
    CatalogReceived,
    DeviceCameOnline,
    DeviceEvent,
    DeviceInfoReceived,
    DeviceWentOffline,
    KeepaliveReceived,
    Registration,
    RegistrationRefreshed,
)
from farmwatch.sipserver.device_events import OfflineReason as SipOfflineReason
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem

log = logging.getLogger(__name__)

OFFLINE_REASONS = {
    SipOfflineReason.UNREGISTERED: OfflineReason.UNREGISTERED,
    SipOfflineReason.REGISTRATION_EXPIRED: OfflineReason.EXPIRED,
    SipOfflineReason.KEEPALIVE_TIMEOUT: OfflineReason.KEEPALIVE_TIMEOUT,
    SipOfflineReason.CONNECTION_LOST: OfflineReason.CONNECTION_LOST,
}
OFFLINE_EVENTS = frozenset({CatalogEvent.OFF, CatalogEvent.VLOST, CatalogEvent.DEFECT})
BATCH_ROWS = 250
"""Rows per statement: SQLAlchemy binds a batch's parameters on the event loop, and 2,000
registrations held it for 80 ms; 250 keep it under 10 ms while still one statement."""


class DeviceRecorder:
    """The platform's `DeviceListener`: persists registrations, state and catalogs."""

    def __init__(
        self,
        devices: DeviceRepository,
        channels: ChannelRepository,
        *,
        max_queued: int = 200_000,
        event_window: float = 0.1,
        beat_window: float = 1.0,
    ) -> None:
        self._devices = devices
        self._channels = channels
        self._queue: deque[tuple[datetime, DeviceEvent]] = deque()
        self._beats: dict[str, KeepaliveBeat] = {}
        self._max_queued = max_queued
        self._wakeup = asyncio.Event()
        self._event_window = event_window
        self._beat_window = beat_window
        self._queued_since = 0.0
        self._beats_since = 0.0
        self._is_closing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.listeners: list[Callable[[DeviceEvent], None]] = []
        self.change_listeners: list[CatalogChangeListener] = []
        """Told of each catalog change once it is written (`CatalogChange`)."""

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._is_closing = True
        self._wakeup.set()
        await self.drained()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def drained(self) -> None:
        """Wait until everything queued so far is written."""
        await self._idle.wait()

    def device_event(self, event: DeviceEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("device event subscriber failed")
        now = datetime.now(UTC)
        if isinstance(event, KeepaliveReceived):
            if not self._beats:
                self._beats_since = time.monotonic()
            self._beats[event.device_id] = KeepaliveBeat(
                event.device_id, now, event.source.host, event.source.port
            )
        elif len(self._queue) >= self._max_queued:
            self.dropped += 1
            log.error("device event queue full; dropped %s", type(event).__name__)
            return
        else:
            if not self._queue:
                self._queued_since = time.monotonic()
            self._queue.append((now, event))
        self._idle.clear()
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue or self._beats:
                await self._until_due()
                # What arrives while this is written waits for its own window.
                await self._write_events(len(self._queue))
                if self._beats and (
                    self._is_closing or time.monotonic() >= self._beats_since + self._beat_window
                ):
                    # Events first: a keepalive is always preceded by its device's
                    # registration, whose row must exist before the beat can update it.
                    while self._queue:
                        await self._write_events(len(self._queue))
                    beats, self._beats = list(self._beats.values()), {}
                    for start in range(0, len(beats), BATCH_ROWS):
                        batch = beats[start : start + BATCH_ROWS]
                        await self._guarded("keepalives", self._devices.mark_keepalives(batch))
            if not self._queue and not self._beats:
                self._idle.set()

    async def _write_events(self, count: int) -> None:
        """Write the first `count` queued events: runs of registrations, DeviceInfo and
        complete catalog answers in batches, anything else one by one, in order."""
        while count > 0 and self._queue:
            segment = self._take_segment(min(count, BATCH_ROWS))
            if segment.size:
                count -= segment.size
                await self._write_segment(segment)
            else:
                count -= 1
                at, event = self._queue.popleft()
                await self._write(at, event)

    def _with_keepalives(self, registrations: list[RegistrationData]) -> list[RegistrationData]:
        """The registrations, each device's last one carrying the keepalive that waits to be
        written for it, taken from the keepalives: in a registration storm every device
        sends one right after its REGISTER, and one row written instead of two halves the
        storm's rows (the database's threads spent 9 µs per registration instead of 12-14).
        The row ends as the two writes in turn would have left it."""
        if not self._beats:
            return registrations
        folded = list(registrations)
        for index in range(len(folded) - 1, -1, -1):
            beat = self._beats.pop(folded[index].device_id, None)
            if beat is not None:
                folded[index] = replace(folded[index], keepalive=beat)
        return folded

    def _take_segment(self, limit: int) -> _Segment:
        """The batchable events at the head of the queue (up to `limit`).

        Within a segment registrations are written first, then DeviceInfo answers, then
        catalogs: the only order that matters, a device's row before what fills it in,
        holds whatever the order of arrival.
        """
        segment = _Segment()
        while self._queue and segment.size < limit:
            at, event = self._queue[0]
            match event:
                case (
                    DeviceCameOnline(registration=registration)
                    | RegistrationRefreshed(registration=registration)
                ):
                    segment.registrations.append(_registration_data(registration, at))
                    if isinstance(event, DeviceCameOnline):
                        segment.changes.append(
                            CatalogChange(registration.device_id, CatalogEvent.ON, None)
                        )
                case DeviceInfoReceived(device_id=device_id, info=info):
                    segment.infos.append(
                        DeviceInfoData(
                            device_id,
                            name=info.device_name,
                            manufacturer=info.manufacturer,
                            model=info.model,
                            firmware=info.firmware,
                            channel_count=info.channel_count,
                            at=at,
                        )
                    )
                case CatalogReceived(device_id=device_id, result=result) if result.is_complete:
                    items = tuple(
                        channel_data(i) for i in result.items if is_usable_item_id(i.device_id)
                    )
                    segment.catalogs.append(
                        CatalogReplacement(
                            device_id, items, at, result.expected, received=len(result.items)
                        )
                    )
                    segment.changes.append(CatalogChange(device_id, CatalogEvent.UPDATE, None))
                case _:
                    break
            self._queue.popleft()
            segment.size += 1
        return segment

    async def _write_segment(self, segment: _Segment) -> None:
        if segment.registrations:
            registrations = self._with_keepalives(segment.registrations)
            await self._write_batch(
                "registrations", registrations, self._devices.upsert_registrations
            )
        if segment.infos:
            await self._write_batch("device infos", segment.infos, self._devices.set_infos)
        for catalogs in _by_rows(segment.catalogs):
            await self._write_batch("catalogs", catalogs, self._replace_catalogs)
        for change in segment.changes:
            self._tell(change)

    def _tell(self, change: CatalogChange) -> None:
        for listener in self.change_listeners:
            try:
                listener(change)
            except Exception:
                # Isolation boundary: one listener (an upper link) failing.
                log.exception("catalog change listener failed (device %s)", change.device_id)

    async def _replace_catalogs(self, catalogs: Sequence[CatalogReplacement]) -> None:
        stored = await self._channels.replace_catalogs(catalogs)
        missing = sorted({catalog.device_id for catalog in catalogs} - stored.keys())
        if missing:
            log.warning("catalogs of %d devices not stored: no such device (%s)",
                        len(missing), ", ".join(missing[:5]))  # fmt: skip

    async def _write_batch(
        self,
        what: str,
        batch: Sequence[_BatchItem],
        write: Callable[[Sequence[_BatchItem]], Awaitable[object]],
    ) -> None:
        """Write `batch` in one go; if that fails, item by item, so that one bad item (a
        row the database refuses) costs only itself."""
        try:
            await write(batch)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if len(batch) == 1:
                log.exception("writing the %s of %s failed", what, batch[0].device_id)
                return
            log.warning("writing %d %s at once failed; writing them one by one",
                        len(batch), what, exc_info=True)  # fmt: skip
        for item in batch:
            await self._write_batch(what, [item], write)

    async def _until_due(self) -> None:
        """Wait until the queued events have waited `event_window`, or the keepalives
        `beat_window`, whichever comes first; a full batch or closing ends the wait."""
        while not self._is_closing and len(self._queue) < BATCH_ROWS:
            dues = []
            if self._queue:
                dues.append(self._queued_since + self._event_window)
            if self._beats:
                dues.append(self._beats_since + self._beat_window)
            delay = min(dues) - time.monotonic() if dues else 0.0
            if delay <= 0:
                return
            self._wakeup.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()
            except TimeoutError:
                return

    async def _guarded(self, what: str, work: Awaitable[object]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except DeviceNotFound as error:
            log.warning("%s: device not stored yet: %s", what, error)
        except Exception:
            # Isolation boundary: one write. Log it with the device and go on.
            log.exception("writing %s failed", what)

    async def _write(self, at: datetime, event: DeviceEvent) -> None:
        match event:
            case DeviceWentOffline(device_id=device_id, reason=reason):
                await self._guarded(
                    f"offline of {device_id}",
                    self._offline(device_id, OFFLINE_REASONS[reason], at),
                )
                self._tell(CatalogChange(device_id, CatalogEvent.OFF, None))
            case CatalogReceived(device_id=device_id, result=result):
                # A partial answer (complete ones are written in batches, `_take_segment`).
                items = [channel_data(i) for i in result.items if is_usable_item_id(i.device_id)]
                write = self._channels.merge_partial_catalog(
                    device_id, items, at=at, sum_num=result.expected, received=len(result.items)
                )
                await self._guarded(f"catalog of {device_id}", write)
            case CatalogChanged(device_id=device_id, items=items):
                await self._guarded(
                    f"catalog change of {device_id}", self._apply(device_id, items, at)
                )
                for change in _changes_of(device_id, items):
                    self._tell(change)
            case _:
                pass

    async def _offline(self, device_id: str, reason: OfflineReason, at: datetime) -> None:
        await self._devices.mark_offline(device_id, reason=reason, at=at)
        await self._channels.set_all_offline(device_id, at=at)

    async def _apply(self, device_id: str, items: tuple[CatalogItem, ...], at: datetime) -> None:
        upserted: list[ChannelData] = []
        deleted: list[str] = []
        online: list[str] = []
        offline: list[str] = []
        for item in items:
            if not is_usable_item_id(item.device_id):
                continue
            if item.event in (CatalogEvent.ADD, CatalogEvent.UPDATE):
                upserted.append(channel_data(item))
            elif item.event is CatalogEvent.DEL:
                deleted.append(item.device_id)
            elif item.event is CatalogEvent.ON:
                online.append(item.device_id)
            elif item.event in OFFLINE_EVENTS:
                offline.append(item.device_id)
            elif item.event is None and item.name is not None:
                upserted.append(channel_data(item))  # a full push without Event: an update
        await self._channels.apply_changes(
            device_id, at=at, upserted=upserted, deleted=deleted, online=online, offline=offline
        )


_BatchItem = TypeVar("_BatchItem", RegistrationData, DeviceInfoData, CatalogReplacement)
_CATALOG_ROWS = 2_000
"""Catalog items per batch: binding a statement's parameters holds the event loop."""


@dataclass(slots=True)
class _Segment:
    """A run of batchable events taken off the queue."""

    size: int = 0
    registrations: list[RegistrationData] = field(default_factory=list)
    infos: list[DeviceInfoData] = field(default_factory=list)
    catalogs: list[CatalogReplacement] = field(default_factory=list)
    changes: list[CatalogChange] = field(default_factory=list)


def _changes_of(device_id: str, items: tuple[CatalogItem, ...]) -> list[CatalogChange]:
    """A device's catalog NOTIFY as changes, one per event (a push without Event: UPDATE)."""
    by_event: dict[CatalogEvent, list[str]] = {}
    for item in items:
        if is_usable_item_id(item.device_id):
            event = item.event if item.event is not None else CatalogEvent.UPDATE
            by_event.setdefault(event, []).append(item.device_id)
    return [CatalogChange(device_id, event, tuple(ids)) for event, ids in by_event.items()]


def _by_rows(catalogs: list[CatalogReplacement]) -> Iterator[list[CatalogReplacement]]:
    """`catalogs` in batches of about `_CATALOG_ROWS` items (at least one catalog each)."""
    batch: list[CatalogReplacement] = []
    rows = 0
    for catalog in catalogs:
        if batch and rows + len(catalog.items) > _CATALOG_ROWS:
            yield batch
            batch, rows = [], 0
        batch.append(catalog)
        rows += len(catalog.items)
    if batch:
        yield batch


def _registration_data(registration: Registration, at: datetime) -> RegistrationData:
    return RegistrationData(
        device_id=registration.device_id,
        transport=Transport(registration.address.transport.value),
        remote_host=registration.address.host,
        remote_port=registration.address.port,
        contact_uri=registration.contact[:1024],
        expires=round(registration.expires_at - registration.registered_at),
        gb_version=_clip(registration.gb_version, 16),
        at=at,
    )


def _clip(text: str | None, length: int) -> str | None:
    return text[:length] if text else None
