"""Persistence of pictures devices uploaded (`device_snapshots`; SnapShotConfig, issue 12
item 4). One unit of work per method; frozen records out, never rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import DeviceSnapshotRow

__all__ = ["DeviceSnapshotRepository", "NewDeviceSnapshot", "StoredDeviceSnapshot"]


@dataclass(frozen=True, slots=True)
class NewDeviceSnapshot:
    channel_id: str
    device_id: str
    session_id: str
    received_at: datetime
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class StoredDeviceSnapshot:
    id: int
    channel_id: str
    device_id: str
    session_id: str
    received_at: datetime
    size: int
    sha256: str


def _stored(row: DeviceSnapshotRow) -> StoredDeviceSnapshot:
    return StoredDeviceSnapshot(
        id=row.id, channel_id=row.channel_id, device_id=row.device_id,
        session_id=row.session_id, received_at=row.received_at, size=row.size,
        sha256=row.sha256,
    )  # fmt: skip


class DeviceSnapshotRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, snapshot: NewDeviceSnapshot) -> StoredDeviceSnapshot:
        row = DeviceSnapshotRow(
            channel_id=snapshot.channel_id, device_id=snapshot.device_id,
            session_id=snapshot.session_id, received_at=snapshot.received_at,
            size=snapshot.size, sha256=snapshot.sha256,
        )  # fmt: skip
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            return _stored(row)

    async def get(self, snapshot_id: int) -> StoredDeviceSnapshot | None:
        async with self._sessions() as session:
            row = await session.get(DeviceSnapshotRow, snapshot_id)
            return None if row is None else _stored(row)

    async def of_channel(self, channel_id: str, *, limit: int) -> list[StoredDeviceSnapshot]:
        """The channel's pictures, newest first."""
        statement = (
            select(DeviceSnapshotRow)
            .where(DeviceSnapshotRow.channel_id == channel_id)
            .order_by(DeviceSnapshotRow.received_at.desc(), DeviceSnapshotRow.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = await session.execute(statement)
            return [_stored(row) for row in rows.scalars()]
