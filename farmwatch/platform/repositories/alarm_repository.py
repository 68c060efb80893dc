"""Persistence of alarms (`alarms`; gb28181.md §4.10, issue 12 item 3).

One unit of work per method; frozen records out, never rows. Times are passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import AlarmRow, EvidenceClipRow

__all__ = ["AlarmFilter", "AlarmRepository", "AlarmState", "NewAlarm", "StoredAlarm"]


class AlarmState(StrEnum):
    """Where an alarm stands: nobody looked at it yet, a person acknowledged it, or it was
    reset on the device (whatever the device answered)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class NewAlarm:
    device_id: str
    source_id: str
    sn: int
    priority: int | None
    method: int | None
    alarm_type: int | None
    alarm_time: datetime | None
    longitude: float | None
    latitude: float | None
    description: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    id: int
    device_id: str
    source_id: str
    sn: int
    priority: int | None
    method: int | None
    alarm_type: int | None
    alarm_time: datetime | None
    longitude: float | None
    latitude: float | None
    description: str | None
    received_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None
    reset_at: datetime | None
    reset_by: str | None
    reset_result: str | None
    clip_id: str | None = None
    """The evidence clip cut around the alarm (`[supervision] alarm_evidence`)."""
    clip_state: str | None = None
    """That clip's state (`pending`, `ready`, `failed`); None without a clip."""

    @property
    def state(self) -> AlarmState:
        if self.reset_at is not None:
            return AlarmState.RESET
        if self.acknowledged_at is not None:
            return AlarmState.ACKNOWLEDGED
        return AlarmState.NEW


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    """What `AlarmRepository.find` returns: all set conditions hold. `devices`/`sources`
    None: no limit by visibility; an alarm passes when its device is in `devices` or its
    source in `sources`."""

    device_id: str | None = None
    source_id: str | None = None
    since: datetime | None = None
    state: AlarmState | None = None
    after_id: int | None = None
    devices: frozenset[str] | None = None
    sources: frozenset[str] | None = None


def _stored(row: AlarmRow, clip_state: str | None = None) -> StoredAlarm:
    return StoredAlarm(
        id=row.id, device_id=row.device_id, source_id=row.source_id, sn=row.sn,
        priority=row.priority, method=row.method, alarm_type=row.alarm_type,
        alarm_time=row.alarm_time, longitude=row.longitude, latitude=row.latitude,
        description=row.description, received_at=row.received_at,
        acknowledged_at=row.acknowledged_at, acknowledged_by=row.acknowledged_by,
        note=row.note, reset_at=row.reset_at, reset_by=row.reset_by,
        reset_result=row.reset_result, clip_id=row.clip_id, clip_state=clip_state,
    )  # fmt: skip


def _conditions(wanted: AlarmFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.device_id is not None:
        conditions.append(AlarmRow.device_id == wanted.device_id)
    if wanted.source_id is not None:
        conditions.append(AlarmRow.source_id == wanted.source_id)
    if wanted.since is not None:
        conditions.append(AlarmRow.received_at >= wanted.since)
    if wanted.after_id is not None:
        conditions.append(AlarmRow.id > wanted.after_id)
    if wanted.state is AlarmState.NEW:
        conditions.append(and_(AlarmRow.acknowledged_at.is_(None), AlarmRow.reset_at.is_(None)))
    elif wanted.state is AlarmState.ACKNOWLEDGED:
        conditions.append(and_(AlarmRow.acknowledged_at.is_not(None), AlarmRow.reset_at.is_(None)))
    elif wanted.state is AlarmState.RESET:
        conditions.append(AlarmRow.reset_at.is_not(None))
    if wanted.devices is not None or wanted.sources is not None:
        conditions.append(
            or_(
                AlarmRow.device_id.in_(sorted(wanted.devices or ())),
                AlarmRow.source_id.in_(sorted(wanted.sources or ())),
            )
        )
    return conditions


def _with_clip_state() -> Select[AlarmRow, str]:
    """Alarms with their clip's state (one query, not one per alarm)."""
    return select(AlarmRow, EvidenceClipRow.state).outerjoin(
        EvidenceClipRow, EvidenceClipRow.id == AlarmRow.clip_id
    )


async def _get(session: AsyncSession, alarm_id: int) -> StoredAlarm | None:
    statement = _with_clip_state().where(AlarmRow.id == alarm_id)
    found = (await session.execute(statement.execution_options(populate_existing=True))).first()
    return None if found is None else _stored(found[0], found[1])


class AlarmRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_all(self, alarms: Sequence[NewAlarm]) -> list[StoredAlarm]:
        """Store `alarms` in one transaction, in order; the stored records (with IDs)."""
        rows = [
            AlarmRow(
                device_id=a.device_id,
                source_id=a.source_id,
                sn=a.sn,
                priority=a.priority,
                method=a.method,
                alarm_type=a.alarm_type,
                alarm_time=a.alarm_time,
                longitude=a.longitude,
                latitude=a.latitude,
                description=a.description,
                received_at=a.received_at,
            )  # fmt: skip
            for a in alarms
        ]
        async with self._sessions() as session, session.begin():
            session.add_all(rows)
            await session.flush()
            return [_stored(row) for row in rows]

    async def get(self, alarm_id: int) -> StoredAlarm | None:
        async with self._sessions() as session:
            return await _get(session, alarm_id)

    async def link_clip(self, alarm_id: int, clip_id: str) -> None:
        """Link the evidence clip cut around the alarm."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(AlarmRow).where(AlarmRow.id == alarm_id).values(clip_id=clip_id)
            )

    async def find(
        self, wanted: AlarmFilter, *, limit: int, offset: int = 0, oldest_first: bool = False
    ) -> list[StoredAlarm]:
        order = AlarmRow.id.asc() if oldest_first else AlarmRow.id.desc()
        statement = (
            _with_clip_state()
            .where(*_conditions(wanted))
            .order_by(order)
            .limit(limit)
            .offset(offset)
        )
        async with self._sessions() as session:
            rows = await session.execute(statement)
            return [_stored(row, state) for row, state in rows]

    async def acknowledge(
        self, alarm_id: int, by: str, at: datetime, note: str | None
    ) -> StoredAlarm | None:
        """Record who acknowledged the alarm (a later acknowledgement replaces an earlier)."""
        return await self._update(alarm_id, acknowledged_at=at, acknowledged_by=by, note=note)

    async def record_reset(
        self, alarm_id: int, by: str, at: datetime, result: str, *, is_done: bool
    ) -> StoredAlarm | None:
        """Record a reset sent to the device and its answer; only a reset the device took
        (`is_done`) moves the alarm to `reset`, a refused one keeps its state."""
        if not is_done:
            return await self._update(alarm_id, reset_by=by, reset_result=result[:256])
        return await self._update(alarm_id, reset_at=at, reset_by=by, reset_result=result[:256])

    async def _update(self, alarm_id: int, **values: object) -> StoredAlarm | None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(AlarmRow).where(AlarmRow.id == alarm_id).values(values))
            return await _get(session, alarm_id)

    async def latest_id(self) -> int:
        async with self._sessions() as session:
            row = await session.execute(select(AlarmRow.id).order_by(AlarmRow.id.desc()).limit(1))
            return row.scalar() or 0


def visible_to(devices: Collection[str] | None, sources: Collection[str] | None) -> AlarmFilter:
    """A filter limited to what one principal sees (None, None: everything)."""
    if devices is None and sources is None:
        return AlarmFilter()
    return AlarmFilter(devices=frozenset(devices or ()), sources=frozenset(sources or ()))
