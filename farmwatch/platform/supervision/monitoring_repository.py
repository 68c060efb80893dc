"""Persistence of monitoring records (`monitoring_records`, append-only) and of the
organisations' own supervision schedules (`organisation_schedules`).

Like the other repositories: built with the injected `async_sessionmaker`, each public
method one unit of work, records out frozen, no clock read here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.models import MonitoringRecordRow, OrganisationScheduleRow
from farmwatch.platform.supervision.monitoring_records import (
    Answer,
    MonitoringFilter,
    MonitoringRecord,
    Outcome,
    PointAnswer,
    Signature,
    Snapshot,
    ViewMode,
)

__all__ = ["MonitoringRepository"]

RECORDS: Table = MonitoringRecordRow.__table__  # type: ignore[assignment]
SCHEDULES: Table = OrganisationScheduleRow.__table__  # type: ignore[assignment]


def _answers_json(answers: tuple[PointAnswer, ...]) -> list[dict[str, Any]]:
    return [{"point": a.point_id, "answer": a.answer.value, "remark": a.remark} for a in answers]


def _record(row: Any) -> MonitoringRecord:
    return MonitoringRecord(
        id=row.id, channel_id=row.channel_id, device_id=row.device_id, farm_id=row.farm_id,
        organisation_id=row.organisation_id, key_area=KeyArea(row.key_area),
        mode=ViewMode(row.mode), recorded_at=row.recorded_at,
        answers=tuple(
            PointAnswer(item["point"], Answer(item["answer"]), item.get("remark") or "")
            for item in row.answers
        ),
        remark=row.remark, outcome=Outcome(row.outcome),
        snapshot=Snapshot(row.snapshot_sha256, row.snapshot_missing),
        signature=Signature(row.user_id, row.username, row.display_name, row.signed_at),
        corrects_id=row.corrects_id,
    )  # fmt: skip


class MonitoringRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions

    async def add(self, record: MonitoringRecord) -> MonitoringRecord:
        """Store `record` (its `id` is ignored); the stored record, with its ID."""
        signature = record.signature
        values = {
            "channel_id": record.channel_id, "device_id": record.device_id,
            "farm_id": record.farm_id, "organisation_id": record.organisation_id,
            "key_area": record.key_area.value, "mode": record.mode.value,
            "recorded_at": record.recorded_at, "answers": _answers_json(record.answers),
            "remark": record.remark, "outcome": record.outcome.value,
            "snapshot_sha256": record.snapshot.sha256,
            "snapshot_missing": record.snapshot.missing_reason,
            "user_id": signature.user_id, "username": signature.username,
            "display_name": signature.display_name, "signed_at": signature.signed_at,
            "corrects_id": record.corrects_id,
        }  # fmt: skip
        async with self._sessions.begin() as session:
            new_id = await session.scalar(insert(RECORDS).values(values).returning(RECORDS.c.id))
        assert new_id is not None
        return replace(record, id=new_id)

    async def get(self, record_id: int) -> MonitoringRecord | None:
        async with self._read_sessions() as session:
            row = (
                await session.execute(select(RECORDS).where(RECORDS.c.id == record_id))
            ).one_or_none()
            return None if row is None else _record(row)

    async def find(
        self,
        wanted: MonitoringFilter,
        farms: Collection[int] | None,
        *,
        limit: int,
        offset: int = 0,
    ) -> list[MonitoringRecord]:
        """Records matching `wanted` on the farms `farms` (None: every farm), the most
        recently recorded first."""
        statement = select(RECORDS)
        if farms is not None:
            statement = statement.where(RECORDS.c.farm_id.in_(sorted(farms)))
        if wanted.farm_id is not None:
            statement = statement.where(RECORDS.c.farm_id == wanted.farm_id)
        if wanted.channel_id is not None:
            statement = statement.where(RECORDS.c.channel_id == wanted.channel_id)
        if wanted.user_id is not None:
            statement = statement.where(RECORDS.c.user_id == wanted.user_id)
        if wanted.since is not None:
            statement = statement.where(RECORDS.c.recorded_at >= wanted.since)
        if wanted.until is not None:
            statement = statement.where(RECORDS.c.recorded_at < wanted.until)
        if wanted.outcome is not None:
            statement = statement.where(RECORDS.c.outcome == wanted.outcome.value)
        statement = (
            statement.order_by(RECORDS.c.recorded_at.desc(), RECORDS.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._read_sessions() as session:
            return [_record(row) for row in await session.execute(statement)]

    async def last_recorded(self, farms: Collection[int] | None) -> dict[int, datetime]:
        """The latest recorded time monitored on each farm that has a record."""
        statement = select(RECORDS.c.farm_id, func.max(RECORDS.c.recorded_at)).group_by(
            RECORDS.c.farm_id
        )
        if farms is not None:
            statement = statement.where(RECORDS.c.farm_id.in_(sorted(farms)))
        async with self._read_sessions() as session:
            rows = await session.execute(statement)
            return {farm_id: latest for farm_id, latest in rows if latest is not None}

    async def records_per_farm(
        self, farms: Collection[int] | None, since: datetime, until: datetime
    ) -> dict[int, int]:
        """How many records each farm has, recorded in [since, until) (none: left out)."""
        statement = (
            select(RECORDS.c.farm_id, func.count())
            .where(RECORDS.c.recorded_at >= since, RECORDS.c.recorded_at < until)
            .group_by(RECORDS.c.farm_id)
        )
        if farms is not None:
            statement = statement.where(RECORDS.c.farm_id.in_(sorted(farms)))
        async with self._read_sessions() as session:
            return {int(farm_id): int(count) for farm_id, count in await session.execute(statement)}

    # -- schedules -------------------------------------------------------------------------

    async def schedule_overrides(self) -> dict[int, int]:
        """The days each organisation set for itself, by organisation ID."""
        async with self._read_sessions() as session:
            rows = await session.execute(select(SCHEDULES.c.organisation_id, SCHEDULES.c.days))
            return {organisation_id: days for organisation_id, days in rows}

    async def set_schedule(
        self, organisation_id: int, days: int | None, *, at: datetime, by: str
    ) -> None:
        """Set the organisation's own days; None: inherit again."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SCHEDULES).where(SCHEDULES.c.organisation_id == organisation_id)
            )
            if days is not None:
                await session.execute(
                    insert(SCHEDULES).values(
                        organisation_id=organisation_id, days=days, updated_at=at, updated_by=by
                    )
                )
