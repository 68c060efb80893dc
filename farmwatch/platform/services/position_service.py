"""Mobile positions stored as a track per device (gb28181.md §4.11; issue 12 item 3).

`PositionService.device_event` is a `DeviceRecorder` listener: each position of a
Notify/MobilePosition (2016 or [2022] form, MESSAGE or NOTIFY) whose longitude and
latitude are on the earth is queued (bounded) and one writer task stores what is queued in
one transaction; a position without both, or outside ±180/±90, is refused (logged, not
stored). The device's time is read in `[registrar] timezone`; the received time stands in
for a missing or unreadable one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from farmwatch.platform.repositories.position_repository import PositionRepository, TrackPoint
from farmwatch.platform.services.alarm_service import device_time
from farmwatch.platform.services.batch_writer import BatchWriter
from farmwatch.sipserver.device_events import DeviceEvent, DeviceNotified
from farmwatch.sipserver.gb.manscdp import MobilePosition, MobilePositionNotify

__all__ = ["PositionService", "TrackPoint", "is_on_earth", "track_points"]

log = logging.getLogger(__name__)

MAX_QUEUED = 50_000
MAX_TRACK = 10_000
"""Points one track request returns at most."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_on_earth(longitude: float | None, latitude: float | None) -> bool:
    return (
        longitude is not None
        and latitude is not None
        and math.isfinite(longitude)
        and math.isfinite(latitude)
        and -180.0 <= longitude <= 180.0
        and -90.0 <= latitude <= 90.0
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _point(
    device_id: str, position: MobilePosition, received_at: datetime, zone: ZoneInfo
) -> TrackPoint | None:
    if not is_on_earth(position.longitude, position.latitude):
        return None
    assert position.longitude is not None and position.latitude is not None
    return TrackPoint(
        device_id=device_id, source_id=(position.device_id or device_id)[:20],
        time=device_time(position.time, zone) or received_at, longitude=position.longitude,
        latitude=position.latitude, speed=_finite(position.speed),
        direction=_finite(position.direction), altitude=_finite(position.altitude),
        received_at=received_at,
    )  # fmt: skip


def track_points(
    device_id: str, notify: MobilePositionNotify, received_at: datetime, zone: ZoneInfo
) -> tuple[list[TrackPoint], int]:
    """The points stored of one notify, and how many positions were refused."""
    points = [_point(device_id, p, received_at, zone) for p in notify.positions]
    kept = [p for p in points if p is not None]
    return kept, len(points) - len(kept)


class PositionService:
    def __init__(
        self,
        positions: PositionRepository,
        *,
        zone: ZoneInfo,
        clock: Callable[[], datetime] = _utc_now,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._positions = positions
        self._zone = zone
        self._clock = clock
        self._writer: BatchWriter[TrackPoint] = BatchWriter(
            self._positions.add_all, max_queued=max_queued, what="positions"
        )
        self.refused = 0

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def dropped(self) -> int:
        """Positions not stored because too many were queued already."""
        return self._writer.dropped

    async def start(self) -> None:
        await self._writer.start()

    async def close(self) -> None:
        await self._writer.close()

    def device_event(self, event: DeviceEvent) -> None:
        """The `DeviceRecorder` listener: queues the positions, never waits."""
        if not (
            isinstance(event, DeviceNotified) and isinstance(event.message, MobilePositionNotify)
        ):
            return
        points, refused = track_points(event.device_id, event.message, self._clock(), self._zone)
        if refused:
            self.refused += refused
            log.warning("device %s: %d positions refused (no longitude and latitude on the "
                        "earth)", event.device_id, refused)  # fmt: skip
        if self._writer.offer(points):
            log.warning("device %s: positions not stored, %d queued already",
                        event.device_id, self._writer.queued)  # fmt: skip

    async def track(
        self, device_id: str, since: datetime | None, until: datetime | None
    ) -> list[TrackPoint]:
        return await self._positions.track(device_id, since=since, until=until, limit=MAX_TRACK)
