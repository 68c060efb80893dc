"""Persistence of fault tickets (`fault_tickets`, `fault_transitions`).

One unit of work per method; frozen records out, never rows; times are passed in. A state
change is conditional on the state the caller saw, so two people moving one ticket at once
cannot both succeed (the second gets None and is told of the conflict).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import FaultTicketRow, FaultTransitionRow
from farmwatch.platform.supervision.faults.records import (
    FaultFilter,
    FaultTicket,
    FaultTransition,
    NewFault,
)
from farmwatch.platform.supervision.faults.states import FaultKind, FaultState

__all__ = ["FaultRepository", "open_key"]

MAX_DETAIL = 512
MAX_REMARK = 1024


def open_key(channel_id: str, kind: FaultKind) -> str:
    return f"{channel_id}:{kind.value}"


def _ticket(row: FaultTicketRow, history: tuple[FaultTransition, ...] = ()) -> FaultTicket:
    return FaultTicket(
        id=row.id, farm_id=row.farm_id, device_id=row.device_id, channel_id=row.channel_id,
        kind=FaultKind(row.kind), state=FaultState(row.state), since=row.since,
        opened_at=row.opened_at, opened_by=row.opened_by, detail=row.detail,
        updated_at=row.updated_at, fixed_at=row.fixed_at, ended_at=row.ended_at,
        reminders_sent=row.reminders_sent, last_reminded_at=row.last_reminded_at,
        escalated_at=row.escalated_at, occurrences=row.occurrences, history=history,
    )  # fmt: skip


def _transition(row: FaultTransitionRow) -> FaultTransition:
    return FaultTransition(
        source=None if row.source is None else FaultState(row.source),
        target=FaultState(row.target), by=row.by, at=row.at, remark=row.remark,
    )  # fmt: skip


def _conditions(wanted: FaultFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.state is not None:
        conditions.append(FaultTicketRow.state == wanted.state.value)
    if wanted.kind is not None:
        conditions.append(FaultTicketRow.kind == wanted.kind.value)
    if wanted.farm_id is not None:
        conditions.append(FaultTicketRow.farm_id == wanted.farm_id)
    if wanted.farms is not None:
        conditions.append(FaultTicketRow.farm_id.in_(sorted(wanted.farms)))
    if wanted.channel_id is not None:
        conditions.append(FaultTicketRow.channel_id == wanted.channel_id)
    if wanted.device_id is not None:
        conditions.append(FaultTicketRow.device_id == wanted.device_id)
    if wanted.is_open is True:
        conditions.append(FaultTicketRow.open_key.is_not(None))
    elif wanted.is_open is False:
        conditions.append(FaultTicketRow.open_key.is_(None))
    return conditions


class FaultRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def report(self, fault: NewFault, at: datetime) -> tuple[FaultTicket, bool]:
        """Open a ticket for `fault`, or, when its camera has one of its kind open already,
        count the occurrence on that one; the ticket and whether it is new."""
        key = open_key(fault.channel_id, fault.kind)
        for _ in range(3):  # a racing report of the same fault wins the insert: update it
            existing = await self._count_occurrence(key, fault.detail, at)
            if existing is not None:
                return existing, False
            try:
                return await self._insert(fault, key, at), True
            except IntegrityError:
                continue
        raise RuntimeError(f"fault {key}: neither inserted nor found")

    async def _count_occurrence(
        self, key: str, detail: str | None, at: datetime
    ) -> FaultTicket | None:
        values: dict[str, object] = {
            "occurrences": FaultTicketRow.occurrences + 1, "updated_at": at,
        }  # fmt: skip
        if detail:
            values["detail"] = detail[:MAX_DETAIL]
        async with self._sessions() as session, session.begin():
            statement = (
                update(FaultTicketRow)
                .where(FaultTicketRow.open_key == key)
                .values(values)
                .returning(FaultTicketRow.id)
            )
            fault_id = (await session.execute(statement)).scalar()
            if fault_id is None:
                return None
            row = await session.get(FaultTicketRow, fault_id, populate_existing=True)
            assert row is not None
            return _ticket(row)

    async def _insert(self, fault: NewFault, key: str, at: datetime) -> FaultTicket:
        row = FaultTicketRow(
            farm_id=fault.farm_id, device_id=fault.device_id, channel_id=fault.channel_id,
            kind=fault.kind.value, state=FaultState.OPEN.value, open_key=key, since=fault.since,
            opened_at=at, opened_by=fault.opened_by[:128],
            detail=None if fault.detail is None else fault.detail[:MAX_DETAIL],
            updated_at=at, reminders_sent=0, occurrences=1,
        )  # fmt: skip
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            step = FaultTransitionRow(
                fault_id=row.id, source=None, target=FaultState.OPEN.value,
                by=fault.opened_by[:128], at=at,
                remark=None if fault.detail is None else fault.detail[:MAX_REMARK],
            )  # fmt: skip
            session.add(step)
            await session.flush()
            return _ticket(row, (_transition(step),))

    async def get(self, fault_id: int) -> FaultTicket | None:
        """The ticket with its history, oldest step first."""
        async with self._sessions() as session:
            row = await session.get(FaultTicketRow, fault_id)
            if row is None:
                return None
            steps = await session.execute(
                select(FaultTransitionRow)
                .where(FaultTransitionRow.fault_id == fault_id)
                .order_by(FaultTransitionRow.id)
            )
            return _ticket(row, tuple(_transition(step) for step in steps.scalars()))

    async def find(self, wanted: FaultFilter, *, limit: int, offset: int = 0) -> list[FaultTicket]:
        """Newest first, without their history."""
        statement = (
            select(FaultTicketRow)
            .where(*_conditions(wanted))
            .order_by(FaultTicketRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._sessions() as session:
            return [_ticket(row) for row in (await session.execute(statement)).scalars()]

    async def transition(
        self,
        fault_id: int,
        source: FaultState,
        target: FaultState,
        *,
        by: str,
        at: datetime,
        remark: str | None,
    ) -> FaultTicket | None:
        """Move the ticket from `source` to `target` and write the history row; None when
        the ticket is not (any more) in `source`."""
        values: dict[str, object] = {"state": target.value, "updated_at": at}
        if target is FaultState.FIXED:
            values["fixed_at"] = at
        elif target is FaultState.FARM_NOTIFIED and source is FaultState.FIXED:
            values["fixed_at"] = None  # the fix did not hold
        if not target.is_open:
            values["ended_at"] = at
            values["open_key"] = None
        async with self._sessions() as session, session.begin():
            changed = await session.execute(
                update(FaultTicketRow)
                .where(FaultTicketRow.id == fault_id, FaultTicketRow.state == source.value)
                .values(values)
                .returning(FaultTicketRow.id)
            )
            if changed.scalar() is None:
                return None
            session.add(
                FaultTransitionRow(
                    fault_id=fault_id,
                    source=source.value,
                    target=target.value,
                    by=by[:128],
                    at=at,
                    remark=None if remark is None else remark[:MAX_REMARK],
                )  # fmt: skip
            )
        return await self.get(fault_id)

    async def record_reminder(self, fault_id: int, at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(FaultTicketRow)
                .where(FaultTicketRow.id == fault_id)
                .values(reminders_sent=FaultTicketRow.reminders_sent + 1, last_reminded_at=at)
            )

    async def record_escalation(self, fault_id: int, at: datetime) -> bool:
        """Mark the ticket escalated; False when it was already."""
        async with self._sessions() as session, session.begin():
            changed = await session.execute(
                update(FaultTicketRow)
                .where(FaultTicketRow.id == fault_id, FaultTicketRow.escalated_at.is_(None))
                .values(escalated_at=at)
                .returning(FaultTicketRow.id)
            )
            return changed.scalar() is not None

    async def open_by_farm(self, farm_ids: Collection[int] | None) -> dict[int, int]:
        """Open tickets per farm (farms without one are left out); None: every farm."""
        statement = (
            select(FaultTicketRow.farm_id, func.count())
            .where(FaultTicketRow.open_key.is_not(None), FaultTicketRow.farm_id.is_not(None))
            .group_by(FaultTicketRow.farm_id)
        )
        if farm_ids is not None:
            statement = statement.where(FaultTicketRow.farm_id.in_(sorted(farm_ids)))
        async with self._sessions() as session:
            rows = await session.execute(statement)
            return {int(farm): int(count) for farm, count in rows if farm is not None}

    async def for_statistics(
        self, farm_ids: Collection[int] | None, repaired_since: datetime
    ) -> list[FaultTicket]:
        """The tickets still open and those repaired since `repaired_since`."""
        statement = select(FaultTicketRow).where(
            FaultTicketRow.farm_id.is_not(None),
            or_(
                FaultTicketRow.open_key.is_not(None),
                func.coalesce(FaultTicketRow.fixed_at, FaultTicketRow.ended_at) >= repaired_since,
            ),
        )
        if farm_ids is not None:
            statement = statement.where(FaultTicketRow.farm_id.in_(sorted(farm_ids)))
        async with self._sessions() as session:
            return [_ticket(row) for row in (await session.execute(statement)).scalars()]
