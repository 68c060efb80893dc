"""Persistence of mobile positions (`device_positions`; gb28181.md §4.11): a track per
device. One unit of work per method; frozen records out, never rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import DevicePositionRow

__all__ = ["PositionRepository", "TrackPoint"]


@dataclass(frozen=True, slots=True)
class TrackPoint:
    device_id: str
    source_id: str
    time: datetime
    longitude: float
    latitude: float
    speed: float | None
    direction: float | None
    altitude: float | None
    received_at: datetime


def _point(row: DevicePositionRow) -> TrackPoint:
    return TrackPoint(
        device_id=row.device_id, source_id=row.source_id, time=row.time,
        longitude=row.longitude, latitude=row.latitude, speed=row.speed,
        direction=row.direction, altitude=row.altitude, received_at=row.received_at,
    )  # fmt: skip


class PositionRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_all(self, points: Sequence[TrackPoint]) -> None:
        rows = [
            DevicePositionRow(
                device_id=p.device_id,
                source_id=p.source_id,
                time=p.time,
                longitude=p.longitude,
                latitude=p.latitude,
                speed=p.speed,
                direction=p.direction,
                altitude=p.altitude,
                received_at=p.received_at,
            )  # fmt: skip
            for p in points
        ]
        async with self._sessions() as session, session.begin():
            session.add_all(rows)

    async def track(
        self,
        device_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
    ) -> list[TrackPoint]:
        """The device's positions in time order (the first `limit` from `since`)."""
        statement = select(DevicePositionRow).where(DevicePositionRow.device_id == device_id)
        if since is not None:
            statement = statement.where(DevicePositionRow.time >= since)
        if until is not None:
            statement = statement.where(DevicePositionRow.time < until)
        statement = statement.order_by(DevicePositionRow.time, DevicePositionRow.id).limit(limit)
        async with self._sessions() as session:
            rows = await session.execute(statement)
            return [_point(row) for row in rows.scalars()]
