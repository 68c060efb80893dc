"""What opens and closes fault tickets by itself (regulation art. 19).

- Offline: a device that went offline (keepalive timeout, expiry, unregister, lost
  connection; the `DeviceRecorder` passes the SIP part's events on) arms a timer of
  `[supervision] fault_offline_after` seconds; coming back cancels it. When it fires, each
  of the device's cameras gets an `offline` ticket (one per camera, so that each camera's
  ticket closes, is counted and is verified on its own, and so that a picture fault of the
  same camera later is a ticket of its own; a device with no catalogued camera gets one
  ticket under its own ID). At start-up, a device offline (by the stored state and the
  restored registrations) longer than the bound gets its tickets at once, a device offline
  for less a timer for the rest.
- Live view: a start that failed opens `start_failure`, a stream that stopped sending
  media `media_timeout` (not while the device is offline: the offline ticket covers it); a
  start that worked closes both.
- Picture: the video quality diagnosis calls `picture_failed` / `picture_passed`.

Automatic close (history `auto`): when the diagnosis runs (`picture_check` set), a camera's
tickets close when its picture passes — offline tickets only once its device is back
online, and a camera with an offline ticket is sampled as soon as its device is back, so
that the ticket closes then rather than at its next turn; without the diagnosis, offline
tickets close when the device is back online. A hand-opened `other` ticket is never closed
by the platform.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, Protocol

from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository
from farmwatch.platform.supervision.faults.service import FaultService
from farmwatch.platform.supervision.faults.states import (
    PICTURE_KINDS,
    FaultKind,
    picture_kind,
)
from farmwatch.sipserver.device_events import DeviceCameOnline, DeviceEvent, DeviceWentOffline

__all__ = ["DevicePresence", "FaultWatch"]

log = logging.getLogger(__name__)

STREAM_KINDS = (FaultKind.START_FAILURE, FaultKind.MEDIA_TIMEOUT)


class DevicePresence(Protocol):
    def is_online(self, device_id: str) -> bool: ...


class FaultWatch:
    """The `DeviceRecorder` listener, `StreamHealthListener` and picture fault sink."""

    def __init__(
        self,
        faults: FaultService,
        devices: DeviceRepository,
        directory: DirectoryRepository,
        presence: DevicePresence,
        *,
        offline_after: float,
        picture_check: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._faults = faults
        self._devices = devices
        self._directory = directory
        self._presence = presence
        self._offline_after = offline_after
        self.picture_check = picture_check
        """Samples a camera's picture now (the video quality diagnosis, which then calls
        `picture_passed` or `picture_failed`); set, offline tickets wait for a good picture
        before they close."""
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # One step at a time, in the order the events came: an offline ticket opening and
        # the device coming back must not overtake each other.
        self._lock = asyncio.Lock()
        self._is_closed = False

    async def start(self) -> None:
        """Arm the timers of devices offline now (after the registrations are restored)."""
        await self._faults.load_offline_devices()
        now = self._faults.now()
        page_size, offset = 1000, 0
        while True:
            page = await self._devices.list(offset=offset, limit=page_size)
            for record in page.items:
                if self._presence.is_online(record.device_id):
                    continue
                if record.is_online:  # stored online, not restored: its registration ran out
                    since = record.last_keepalive_at or record.last_register_at or now
                else:
                    since = record.updated_at
                self._arm(record.device_id, since, now)
            offset += page_size
            if offset >= page.total:
                break
        if self.picture_check is None:
            for ticket in await self._faults.open_tickets():
                if ticket.kind is FaultKind.OFFLINE and self._presence.is_online(ticket.device_id):
                    self._spawn(self._back_online(ticket.device_id))

    async def close(self) -> None:
        # The SIP part and live view close after us: what they still report arms nothing.
        self._is_closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def pending_steps(self) -> int:
        """Steps started and not finished yet."""
        return len(self._tasks)

    async def settled(self) -> None:
        """Wait until every step started so far is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- devices -------------------------------------------------------------------------

    def device_event(self, event: DeviceEvent) -> None:
        match event:
            case DeviceWentOffline(device_id=device_id):
                self._arm(device_id, self._faults.now(), self._faults.now())
            case DeviceCameOnline(registration=registration):
                timer = self._timers.pop(registration.device_id, None)
                if timer is not None:
                    timer.cancel()
                if self._faults.may_have_open_offline(registration.device_id):
                    self._spawn(self._back_online(registration.device_id))
            case _:
                pass

    def _arm(self, device_id: str, since: datetime, now: datetime) -> None:
        if self._is_closed:
            return
        old = self._timers.pop(device_id, None)
        if old is not None:
            old.cancel()
        remaining = self._offline_after - (now - since).total_seconds()
        if remaining <= 0:
            self._spawn(self._offline(device_id, since))
            return
        loop = asyncio.get_running_loop()
        self._timers[device_id] = loop.call_later(remaining, self._fire, device_id, since)

    def _fire(self, device_id: str, since: datetime) -> None:
        self._timers.pop(device_id, None)
        self._spawn(self._offline(device_id, since))

    async def _offline(self, device_id: str, since: datetime) -> None:
        if self._presence.is_online(device_id):
            return  # back meanwhile (its online event is queued behind us)
        cameras = await self._directory.device_cameras(device_id)
        channels = [camera.channel_id for camera in cameras] or [device_id]
        minutes = (self._faults.now() - since) / timedelta(minutes=1)
        detail = f"device {device_id} offline since {since.isoformat()} ({minutes:.1f} min)"
        log.warning("device %s offline longer than %g s: fault tickets for %d cameras",
                    device_id, self._offline_after, len(channels))  # fmt: skip
        for channel_id in channels:
            await self._faults.report(
                device_id, channel_id, FaultKind.OFFLINE, since=since, detail=detail
            )

    async def _back_online(self, device_id: str) -> None:
        reports_before = self._faults.offline_reports
        tickets = [
            ticket
            for ticket in await self._faults.open_tickets(device_id=device_id)
            if ticket.kind is FaultKind.OFFLINE
        ]
        if not tickets:
            self._faults.forget_offline(device_id, reports_before=reports_before)
            return
        check = self.picture_check
        for ticket in tickets:
            if check is not None:
                # Its offline tickets close when a picture of each camera passes: look now.
                self._spawn(self._look(check, ticket.channel_id), in_turn=False)
            else:
                await self._faults.close_automatically(
                    ticket.channel_id, (FaultKind.OFFLINE,), f"device {device_id} back online"
                )

    @staticmethod
    async def _look(check: Callable[[str], Awaitable[object]], channel_id: str) -> None:
        await check(channel_id)

    # -- live view (StreamHealthListener) ------------------------------------------------

    def stream_start_failed(self, device_id: str, channel_id: str, reason: str) -> None:
        self._spawn(self._stream_fault(device_id, channel_id, FaultKind.START_FAILURE, reason))

    def stream_media_stopped(self, device_id: str, channel_id: str) -> None:
        if not self._presence.is_online(device_id):
            return
        self._spawn(
            self._stream_fault(
                device_id, channel_id, FaultKind.MEDIA_TIMEOUT, "the stream stopped sending media"
            )
        )

    def stream_started(self, device_id: str, channel_id: str) -> None:
        self._spawn(
            self._faults.close_automatically(channel_id, STREAM_KINDS, "live video started")
        )

    async def _stream_fault(
        self, device_id: str, channel_id: str, kind: FaultKind, reason: str
    ) -> None:
        await self._faults.report(
            device_id, channel_id, kind, since=self._faults.now(), detail=reason
        )

    # -- picture (the video quality diagnosis) -------------------------------------------

    async def picture_failed(self, channel_id: str, kind: str, detail: str | None) -> None:
        """A sampled picture of `channel_id` showed `kind` (black, overexposed, frozen,
        blurred, low_contrast, colour_cast: the diagnosis's own enum or its text)."""
        fault = picture_kind(kind)
        if fault is None:
            log.warning("channel %s: picture fault %r is not one of %s", channel_id, kind,
                        ", ".join(sorted(k.value for k in PICTURE_KINDS)))  # fmt: skip
            fault = FaultKind.OTHER
            detail = f"{kind}: {detail}" if detail else str(kind)
        placements = await self._directory.camera_placements(channel_id)
        if not placements:
            log.warning("picture fault of unknown channel %s not recorded", channel_id)
            return
        async with self._lock:
            await self._faults.report(
                placements[0].device_id, channel_id, fault, since=self._faults.now(),
                detail=detail,
            )  # fmt: skip

    async def picture_passed(self, channel_id: str) -> None:
        """A sampled picture of `channel_id` was good: its picture and stream tickets close,
        and its offline ticket too when its device is online."""
        kinds: set[FaultKind] = set(PICTURE_KINDS) | set(STREAM_KINDS)
        placements = await self._directory.camera_placements(channel_id)
        if any(self._presence.is_online(p.device_id) for p in placements):
            kinds.add(FaultKind.OFFLINE)
        async with self._lock:
            await self._faults.close_automatically(
                channel_id, sorted(kinds), "the picture passed the diagnosis"
            )

    # -- tasks -------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], *, in_turn: bool = True) -> None:
        """Run `coroutine` as a task; `in_turn`: one such step at a time, in order (a picture
        check is not: the diagnosis reports back through `picture_passed`, which takes its
        own turn)."""
        if self._is_closed:
            coroutine.close()
            return
        task = asyncio.get_running_loop().create_task(self._guarded(coroutine, in_turn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coroutine: Coroutine[Any, Any, Any], in_turn: bool) -> None:
        try:
            if in_turn:
                async with self._lock:
                    await coroutine
            else:
                await coroutine
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fault ticket step failed")
