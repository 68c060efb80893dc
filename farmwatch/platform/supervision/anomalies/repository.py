"""Persistence of anomalies (`anomalies`, `anomaly_evidence`, `anomaly_history`,
`anomaly_follow_ups`). One unit of work per method; frozen records out; times passed in.

A change of state is written only if the anomaly is still in the state it was read in
(two administrators acting at once: the second gets a `Conflict`), together with its
history row, in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.errors import Conflict
from farmwatch.platform.models import (
    AnomalyEvidenceRow,
    AnomalyFollowUpRow,
    AnomalyHistoryRow,
    AnomalyRow,
)
from farmwatch.platform.supervision.anomalies.records import (
    Anomaly,
    AnomalyFilter,
    EvidenceLink,
    FollowUp,
    HistoryEntry,
    NewAnomaly,
    ViewMode,
)
from farmwatch.platform.supervision.anomalies.states import AnomalyState, EvidenceState, Step

__all__ = ["AnomalyRepository"]


def _anomaly(row: AnomalyRow) -> Anomaly:
    return Anomaly(
        id=row.id, farm_id=row.farm_id, channel_id=row.channel_id, reporter=row.reporter,
        reporter_user_id=row.reporter_user_id, reported_at=row.reported_at,
        seen_at=row.seen_at, mode=ViewMode(row.mode), category=row.category,
        description=row.description, state=AnomalyState(row.state),
        evidence_state=EvidenceState(row.evidence_state), evidence_error=row.evidence_error,
        order=row.rectification_order, deadline=row.rectification_deadline,
        ordered_by=row.ordered_by, ordered_at=row.ordered_at, case_number=row.case_number,
        closed_at=row.closed_at, updated_at=row.updated_at,
    )  # fmt: skip


def _conditions(wanted: AnomalyFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.farms is not None:
        conditions.append(AnomalyRow.farm_id.in_(sorted(wanted.farms)))
    if wanted.farm_id is not None:
        conditions.append(AnomalyRow.farm_id == wanted.farm_id)
    if wanted.state is not None:
        conditions.append(AnomalyRow.state == wanted.state.value)
    if wanted.after_id is not None:
        conditions.append(AnomalyRow.id > wanted.after_id)
    return conditions


class AnomalyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, new: NewAnomaly, *, evidence: EvidenceState) -> Anomaly:
        """Store a reported anomaly (open) and its first history row."""
        row = AnomalyRow(
            farm_id=new.farm_id, channel_id=new.channel_id, reporter=new.reporter,
            reporter_user_id=new.reporter_user_id, reported_at=new.reported_at,
            seen_at=new.seen_at, mode=new.mode.value, category=new.category,
            description=new.description, state=AnomalyState.OPEN.value,
            evidence_state=evidence.value, updated_at=new.reported_at,
        )  # fmt: skip
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            session.add(AnomalyHistoryRow(
                anomaly_id=row.id, at=new.reported_at, by=new.reporter, from_state=None,
                to_state=AnomalyState.OPEN.value, remark=new.description,
            ))  # fmt: skip
            return _anomaly(row)

    async def get(self, anomaly_id: int) -> Anomaly | None:
        async with self._sessions() as session:
            row = await session.get(AnomalyRow, anomaly_id)
            return None if row is None else _anomaly(row)

    async def farm_of(self, anomaly_id: int) -> int | None:
        async with self._sessions() as session:
            found = await session.execute(
                select(AnomalyRow.farm_id).where(AnomalyRow.id == anomaly_id)
            )
            return found.scalar()

    async def find(
        self, wanted: AnomalyFilter, *, now: datetime, limit: int, offset: int = 0
    ) -> list[Anomaly]:
        """Overdue rectifications first (deadline passed, not reported done), then the
        newest."""
        overdue = case(
            (and_(AnomalyRow.state == AnomalyState.RECTIFICATION_ORDERED.value,
                  AnomalyRow.rectification_deadline < now), 0),
            else_=1,
        )  # fmt: skip
        statement = (
            select(AnomalyRow).where(*_conditions(wanted))
            .order_by(overdue, AnomalyRow.id.desc()).limit(limit).offset(offset)
        )  # fmt: skip
        async with self._sessions() as session:
            rows = await session.execute(statement)
            return [_anomaly(row) for row in rows.scalars()]

    async def after(self, wanted: AnomalyFilter, *, limit: int) -> list[Anomaly]:
        """Oldest first (the notification feed)."""
        statement = (
            select(AnomalyRow).where(*_conditions(wanted)).order_by(AnomalyRow.id).limit(limit)
        )
        async with self._sessions() as session:
            rows = await session.execute(statement)
            return [_anomaly(row) for row in rows.scalars()]

    async def latest_id(self) -> int:
        async with self._sessions() as session:
            found = await session.execute(select(func.max(AnomalyRow.id)))
            return found.scalar() or 0

    async def apply(
        self, anomaly_id: int, was: AnomalyState, step: Step, *, by: str, at: datetime
    ) -> Anomaly:
        """Move the anomaly from `was` to `step.wanted` (a checked step) with its history
        row; `Conflict` when it is no longer `was`, or the case number is taken."""
        values: dict[str, Any] = {"state": step.wanted.value, "updated_at": at}
        if step.wanted is AnomalyState.RECTIFICATION_ORDERED:
            values.update(rectification_order=step.order, rectification_deadline=step.deadline,
                          ordered_by=by, ordered_at=at)  # fmt: skip
        elif step.wanted is AnomalyState.CASE_OPENED:
            values["case_number"] = step.case_number
        elif step.wanted is AnomalyState.CLOSED:
            values["closed_at"] = at
        remark = step.remark
        if step.order is not None:
            remark = f"{step.order}\n{remark}".strip()
        try:
            async with self._sessions() as session, session.begin():
                changed = await session.execute(
                    update(AnomalyRow)
                    .where(AnomalyRow.id == anomaly_id, AnomalyRow.state == was.value)
                    .values(values)
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict(f"anomaly {anomaly_id} changed meanwhile: read it again")
                session.add(AnomalyHistoryRow(
                    anomaly_id=anomaly_id, at=at, by=by, from_state=was.value,
                    to_state=step.wanted.value, remark=remark,
                ))  # fmt: skip
                await session.flush()
                row = await session.get(AnomalyRow, anomaly_id, populate_existing=True)
                assert row is not None
                return _anomaly(row)
        except IntegrityError as error:
            raise Conflict(f"case number {step.case_number} is already used") from error

    async def set_evidence(
        self, anomaly_id: int, state: EvidenceState, error: str | None, *, at: datetime
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(AnomalyRow).where(AnomalyRow.id == anomaly_id)
                .values(evidence_state=state.value, evidence_error=error and error[:512],
                        updated_at=at)
            )  # fmt: skip

    async def pending_evidence(self) -> list[Anomaly]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(AnomalyRow).where(
                    AnomalyRow.evidence_state == EvidenceState.PENDING.value
                ).order_by(AnomalyRow.id)
            )  # fmt: skip
            return [_anomaly(row) for row in rows.scalars()]

    async def attach(self, anomaly_id: int, clip_id: str, *, by: str, at: datetime) -> bool:
        """Link an evidence clip; False when it was linked already."""
        async with self._sessions() as session, session.begin():
            if await session.get(AnomalyEvidenceRow, (anomaly_id, clip_id)) is not None:
                return False
            session.add(AnomalyEvidenceRow(anomaly_id=anomaly_id, clip_id=clip_id,
                                           attached_at=at, attached_by=by))  # fmt: skip
            return True

    async def evidence(self, anomaly_id: int) -> list[EvidenceLink]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(AnomalyEvidenceRow).where(AnomalyEvidenceRow.anomaly_id == anomaly_id)
                .order_by(AnomalyEvidenceRow.attached_at, AnomalyEvidenceRow.clip_id)
            )  # fmt: skip
            return [EvidenceLink(r.anomaly_id, r.clip_id, r.attached_at, r.attached_by)
                    for r in rows.scalars()]  # fmt: skip

    async def history(self, anomaly_id: int) -> list[HistoryEntry]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(AnomalyHistoryRow).where(AnomalyHistoryRow.anomaly_id == anomaly_id)
                .order_by(AnomalyHistoryRow.id)
            )  # fmt: skip
            return [
                HistoryEntry(r.anomaly_id, r.at, r.by,
                             None if r.from_state is None else AnomalyState(r.from_state),
                             AnomalyState(r.to_state), r.remark)
                for r in rows.scalars()
            ]  # fmt: skip

    async def link_follow_up(
        self, anomaly_id: int, record_id: int, *, by: str, at: datetime
    ) -> bool:
        """Link a monitoring record by ID; False when it was linked already."""
        async with self._sessions() as session, session.begin():
            if await session.get(AnomalyFollowUpRow, (anomaly_id, record_id)) is not None:
                return False
            session.add(AnomalyFollowUpRow(anomaly_id=anomaly_id, monitoring_record_id=record_id,
                                           linked_at=at, linked_by=by))  # fmt: skip
            return True

    async def follow_ups(self, anomaly_id: int) -> list[FollowUp]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(AnomalyFollowUpRow).where(AnomalyFollowUpRow.anomaly_id == anomaly_id)
                .order_by(AnomalyFollowUpRow.linked_at, AnomalyFollowUpRow.monitoring_record_id)
            )  # fmt: skip
            return [FollowUp(r.anomaly_id, r.monitoring_record_id, r.linked_at, r.linked_by)
                    for r in rows.scalars()]  # fmt: skip

    async def not_closed(self, farm_ids: Collection[int] | None) -> list[Anomaly]:
        """The anomalies not yet closed of these farms (None: of every farm), by ID."""
        statement = select(AnomalyRow).where(AnomalyRow.state != AnomalyState.CLOSED.value)
        if farm_ids is not None:
            statement = statement.where(AnomalyRow.farm_id.in_(sorted(farm_ids)))
        async with self._sessions() as session:
            rows = await session.execute(statement.order_by(AnomalyRow.id))
            return [_anomaly(row) for row in rows.scalars()]

    async def open_by_farm(self, farm_ids: Collection[int]) -> dict[int, int]:
        """How many anomalies not yet closed each farm has (farms with none left out)."""
        if not farm_ids:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(AnomalyRow.farm_id, func.count())
                .where(AnomalyRow.farm_id.in_(sorted(farm_ids)),
                       AnomalyRow.state != AnomalyState.CLOSED.value)
                .group_by(AnomalyRow.farm_id)
            )  # fmt: skip
            return {int(farm_id): int(count) for farm_id, count in rows}
