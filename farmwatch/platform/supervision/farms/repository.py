"""Persistence of the farm register: the register's columns of `farms`, the decisions on
each farm's approval state (`farm_state_changes`) and its application documents
(`farm_documents`). Decisions and documents are only ever added.

Like the other repositories: built with the injected `async_sessionmaker` (and an optional
read-only one), each public method is one unit of work, records go out frozen, no clock is
read here. A filing number taken twice raises `Conflict`. `writing` wraps every write to
`farms`: the access directory caches who reaches which farm, and a farm moved to another
organisation must be read again (`DirectoryRepository.writing`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.errors import Conflict, NotFound
from farmwatch.platform.models import FarmDocumentRow, FarmRow, FarmStateChangeRow
from farmwatch.platform.supervision.farms.approval import ApprovalState, Decision
from farmwatch.platform.supervision.farms.records import (
    FarmDocument,
    FarmFilter,
    FarmParticulars,
    FarmRecord,
    NewDocument,
    StateChange,
)
from farmwatch.platform.supervision.farms.species import Species

__all__ = ["FarmRegisterRepository", "Officer"]

FARMS: Table = FarmRow.__table__  # type: ignore[assignment]
CHANGES: Table = FarmStateChangeRow.__table__  # type: ignore[assignment]
DOCUMENTS: Table = FarmDocumentRow.__table__  # type: ignore[assignment]

WriteGuard = Callable[[], AbstractAsyncContextManager[Any]]


@dataclass(frozen=True, slots=True)
class Officer:
    """Who recorded a decision or uploaded a document (a user: accounts are personal)."""

    id: int | None
    name: str


def _species(value: str | None) -> Species | None:
    # A value no longer known reads as unset rather than failing a list.
    try:
        return None if value is None else Species(value)
    except ValueError:
        return None


def _farm(row: Any) -> FarmRecord:
    particulars = FarmParticulars(
        row.operator, row.phone, row.address, _species(row.species), row.species_other
    )
    return FarmRecord(
        row.id, row.name, row.filing_number, row.organisation_id, particulars,
        ApprovalState(row.state), row.created_at,
    )  # fmt: skip


def _change(row: Any) -> StateChange:
    return StateChange(
        row.id, row.farm_id, None if row.from_state is None else ApprovalState(row.from_state),
        ApprovalState(row.to_state), row.decided_on, row.officer_id, row.officer_name,
        row.remark, row.recorded_at,
    )  # fmt: skip


def _document(row: Any) -> FarmDocument:
    return FarmDocument(
        row.id, row.farm_id, row.file_name, row.content_type, row.size, row.sha256, row.remark,
        row.supersedes_id, row.uploaded_by, row.uploaded_by_name, row.uploaded_at,
    )  # fmt: skip


def _particulars(particulars: FarmParticulars) -> dict[str, Any]:
    species = particulars.species
    return {
        "operator": particulars.operator,
        "phone": particulars.phone,
        "address": particulars.address,
        "species": None if species is None else species.value,
        "species_other": particulars.species_other,
    }


def _taken(filing_number: str) -> Conflict:
    return Conflict(f"a farm with filing number {filing_number} exists")


class FarmRegisterRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        writing: WriteGuard = nullcontext,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._writing = writing

    # -- farms ---------------------------------------------------------------------------

    async def enrol(
        self,
        name: str,
        filing_number: str,
        organisation_id: int,
        particulars: FarmParticulars,
        *,
        applied_on: date,
        officer: Officer,
        remark: str | None,
        at: datetime,
    ) -> tuple[FarmRecord, StateChange]:
        """Add a farm in state applied with its first history row (None → applied)."""
        values = {
            "name": name, "filing_number": filing_number, "organisation_id": organisation_id,
            "created_at": at, "state": ApprovalState.APPLIED.value, **_particulars(particulars),
        }  # fmt: skip
        try:
            async with self._writing(), self._sessions.begin() as session:
                row = (await session.execute(insert(FARMS).values(values).returning(FARMS))).one()
                change = await self._add_change(
                    session, row.id, None, ApprovalState.APPLIED, applied_on, officer, remark, at
                )
        except IntegrityError as error:
            raise _taken(filing_number) from error
        return _farm(row), change

    async def farm(self, farm_id: int) -> FarmRecord | None:
        async with self._read_sessions() as session:
            row = (await session.execute(select(FARMS).where(FARMS.c.id == farm_id))).one_or_none()
            return None if row is None else _farm(row)

    async def farms(
        self, wanted: FarmFilter, farm_ids: Collection[int] | None = None
    ) -> list[FarmRecord]:
        """The farms `wanted` describes, of `farm_ids` (None: of every farm), by ID."""
        statement = select(FARMS).order_by(FARMS.c.id)
        if farm_ids is not None:
            statement = statement.where(FARMS.c.id.in_(sorted(farm_ids)))
        if wanted.state is not None:
            statement = statement.where(FARMS.c.state == wanted.state.value)
        if wanted.organisation_id is not None:
            statement = statement.where(FARMS.c.organisation_id == wanted.organisation_id)
        if wanted.text:
            statement = statement.where(
                FARMS.c.name.icontains(wanted.text, autoescape=True)
                | FARMS.c.filing_number.icontains(wanted.text, autoescape=True)
            )
        async with self._read_sessions() as session:
            return [_farm(row) for row in await session.execute(statement)]

    async def update(self, farm: FarmRecord) -> FarmRecord:
        """Write `farm`'s name, filing number, organisation and particulars (not its state:
        that moves only by `change_state`)."""
        values = {
            "name": farm.name, "filing_number": farm.filing_number,
            "organisation_id": farm.organisation_id, **_particulars(farm.particulars),
        }  # fmt: skip
        statement = update(FARMS).where(FARMS.c.id == farm.id).values(values).returning(FARMS)
        try:
            async with self._writing(), self._sessions.begin() as session:
                row = (await session.execute(statement)).one_or_none()
        except IntegrityError as error:
            raise _taken(farm.filing_number) from error
        if row is None:
            raise NotFound(f"no farm {farm.id}")
        return _farm(row)

    # -- the approval state --------------------------------------------------------------

    async def change_state(
        self,
        farm_id: int,
        decision: Decision,
        *,
        officer: Officer,
        remark: str | None,
        at: datetime,
    ) -> StateChange:
        """Move the farm from `decision.from_state` to `decision.to_state` and add the
        history row, together; `Conflict` when the farm is no longer in `from_state` (two
        officers deciding at once: the second one is told, not applied)."""
        statement = (
            update(FARMS)
            .where(FARMS.c.id == farm_id, FARMS.c.state == decision.from_state.value)
            .values(state=decision.to_state.value)
        )
        async with self._writing(), self._sessions.begin() as session:
            result = await session.execute(statement)
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(
                    f"farm {farm_id} is no longer {decision.from_state.value}: "
                    "it was changed meanwhile; look at it again"
                )
            return await self._add_change(
                session, farm_id, decision.from_state, decision.to_state, decision.decided_on,
                officer, remark, at,
            )  # fmt: skip

    async def history(self, farm_id: int) -> list[StateChange]:
        """The farm's decisions, oldest first."""
        statement = select(CHANGES).where(CHANGES.c.farm_id == farm_id).order_by(CHANGES.c.id)
        async with self._read_sessions() as session:
            return [_change(row) for row in await session.execute(statement)]

    @staticmethod
    async def _add_change(
        session: AsyncSession,
        farm_id: int,
        from_state: ApprovalState | None,
        to_state: ApprovalState,
        decided_on: date,
        officer: Officer,
        remark: str | None,
        at: datetime,
    ) -> StateChange:
        values = {
            "farm_id": farm_id, "from_state": None if from_state is None else from_state.value,
            "to_state": to_state.value, "decided_on": decided_on, "officer_id": officer.id,
            "officer_name": officer.name, "remark": remark, "recorded_at": at,
        }  # fmt: skip
        row = (await session.execute(insert(CHANGES).values(values).returning(CHANGES))).one()
        return _change(row)

    # -- documents -----------------------------------------------------------------------

    async def add_document(
        self, farm_id: int, document: NewDocument, *, officer: Officer, at: datetime
    ) -> FarmDocument:
        """Put a stored file on the farm's record; `NotFound` when the document it says it
        supersedes is not one of this farm's."""
        values = {
            "farm_id": farm_id, "file_name": document.file_name,
            "content_type": document.content_type, "size": document.size,
            "sha256": document.sha256, "remark": document.remark,
            "supersedes_id": document.supersedes_id, "uploaded_by": officer.id,
            "uploaded_by_name": officer.name, "uploaded_at": at,
        }  # fmt: skip
        async with self._sessions.begin() as session:
            if document.supersedes_id is not None:
                superseded = await session.scalar(
                    select(DOCUMENTS.c.farm_id).where(DOCUMENTS.c.id == document.supersedes_id)
                )
                if superseded != farm_id:
                    raise NotFound(
                        f"supersedes: farm {farm_id} has no document {document.supersedes_id}"
                    )
            statement = insert(DOCUMENTS).values(values).returning(DOCUMENTS)
            return _document((await session.execute(statement)).one())

    async def documents(self, farm_id: int) -> list[FarmDocument]:
        """The farm's documents, oldest first (superseded ones too: they stay on record)."""
        statement = select(DOCUMENTS).where(DOCUMENTS.c.farm_id == farm_id).order_by(DOCUMENTS.c.id)
        async with self._read_sessions() as session:
            return [_document(row) for row in await session.execute(statement)]

    async def document(self, document_id: int) -> FarmDocument | None:
        statement = select(DOCUMENTS).where(DOCUMENTS.c.id == document_id)
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).one_or_none()
            return None if row is None else _document(row)
