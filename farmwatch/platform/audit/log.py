"""The append-only audit log in the database (regulation art. 22; issue 10 §4).

`AuditLog.append` writes one row and moves the chain head in one transaction that first
locks the head row: `SELECT ... FOR UPDATE` on PostgreSQL; on SQLite every write transaction
starts with `BEGIN IMMEDIATE` (`platform.db`), which admits one writer at a time. So two
appends never both read the same head, and the chain cannot fork. `verify` reads the head
and the rows in one snapshot (REPEATABLE READ on PostgreSQL, one WAL read transaction on
SQLite) in batches, and hands them to the pure `ChainVerifier`. Nothing here updates or
deletes a row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.audit.chain import (
    ChainHead,
    ChainVerifier,
    VerifyResult,
    canonical_content,
    row_hash,
)
from farmwatch.platform.audit.records import (
    ActorKind,
    AuditAction,
    AuditActor,
    AuditEntry,
    AuditRecord,
    AuditResult,
    JsonValue,
    RecordedRange,
)
from farmwatch.platform.models import AuditChainHeadRow, AuditRow

__all__ = ["AuditLog", "Clock"]

Clock = Callable[[], datetime]

LOG: Table = AuditRow.__table__  # type: ignore[assignment]
HEAD: Table = AuditChainHeadRow.__table__  # type: ignore[assignment]
HEAD_ROW_ID = 1
VERIFY_BATCH = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _record(row: Any) -> AuditRecord:
    recorded = None
    if row.recorded_start is not None and row.recorded_end is not None:
        recorded = RecordedRange(row.recorded_start, row.recorded_end)
    entry = AuditEntry(
        at=row.at,
        actor=AuditActor(ActorKind(row.actor_kind), row.actor_id, row.actor_name),
        action=AuditAction(row.action),
        result=AuditResult(row.result),
        organisation_id=row.organisation_id,
        channel_id=row.channel_id,
        recorded=recorded,
        source=row.source,
        detail=row.detail,
    )
    return AuditRecord(row.id, entry, row.prev_hash, row.row_hash)


def _values(row_id: int, entry: AuditEntry, prev_hash: str, own_hash: str) -> dict[str, Any]:
    return {
        "id": row_id,
        "at": entry.at,
        "actor_kind": entry.actor.kind.value,
        "actor_id": entry.actor.id,
        "actor_name": entry.actor.name,
        "organisation_id": entry.organisation_id,
        "action": entry.action.value,
        "channel_id": entry.channel_id,
        "recorded_start": None if entry.recorded is None else entry.recorded.start,
        "recorded_end": None if entry.recorded is None else entry.recorded.end,
        "source": entry.source,
        "result": entry.result.value,
        "detail": dict(entry.detail),
        "prev_hash": prev_hash,
        "row_hash": own_hash,
    }


# Longest text each column takes (models/audit.py).
_TEXT_LIMITS = {"actor name": 128, "channel_id": 20, "source": 64}


def _check_lengths(entry: AuditEntry) -> None:
    texts = {"actor name": entry.actor.name, "channel_id": entry.channel_id,
             "source": entry.source}  # fmt: skip
    for name, value in texts.items():
        if value is not None and (len(value) > _TEXT_LIMITS[name] or "\x00" in value):
            raise ValueError(f"audit {name} {value[:40]!r}...: longer than "
                             f"{_TEXT_LIMITS[name]} characters or holding NUL")  # fmt: skip


class AuditLog:
    """Appends audit rows to the hash chain and verifies it; `clock` stamps the rows."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = _utc_now,
        verify_batch: int = VERIFY_BATCH,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._verify_batch = verify_batch

    async def append(
        self,
        action: AuditAction,
        actor: AuditActor,
        *,
        result: AuditResult = AuditResult.OK,
        organisation_id: int | None = None,
        channel_id: str | None = None,
        recorded: RecordedRange | None = None,
        source: str | None = None,
        detail: Mapping[str, JsonValue] | None = None,
    ) -> AuditRecord:
        """Append one row stamped now; returns it with its ID and hashes."""
        entry = AuditEntry(
            self._clock(), actor, action, result, organisation_id, channel_id, recorded,
            source, dict(detail or {}),
        )  # fmt: skip
        return await self.append_entry(entry)

    async def append_entry(self, entry: AuditEntry) -> AuditRecord:
        """Append `entry` as it is (its own time)."""
        # Fails here, before any lock is taken, for what the chain or a column cannot hold.
        canonical_content(0, entry)
        _check_lengths(entry)
        async with self._sessions.begin() as session:
            locked = select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == HEAD_ROW_ID)
            head = (await session.execute(locked.with_for_update())).one_or_none()
            if head is None:
                raise RuntimeError("the audit chain head row is missing; run the migrations")
            row_id = int(head.last_id) + 1
            own_hash = row_hash(head.last_hash, row_id, entry)
            await session.execute(
                insert(LOG).values(_values(row_id, entry, head.last_hash, own_hash))
            )
            await session.execute(
                update(HEAD)
                .where(HEAD.c.id == HEAD_ROW_ID)
                .values(last_id=row_id, last_hash=own_hash)
            )
        return AuditRecord(row_id, entry, head.last_hash, own_hash)

    async def head(self) -> ChainHead | None:
        async with self._sessions() as session:
            return await self._head(session)

    @staticmethod
    async def _head(session: AsyncSession) -> ChainHead | None:
        row = (
            await session.execute(
                select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == HEAD_ROW_ID)
            )
        ).one_or_none()
        return None if row is None else ChainHead(int(row.last_id), row.last_hash)

    async def verify(self) -> VerifyResult:
        """Walk the whole chain in ID order; the first break found, or the row count."""
        verifier = ChainVerifier()
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            head = await self._head(session)
            after = 0
            while True:
                batch = (
                    await session.execute(
                        select(LOG)
                        .where(LOG.c.id > after)
                        .order_by(LOG.c.id)
                        .limit(self._verify_batch)
                    )
                ).all()
                for row in batch:
                    broken = verifier.feed(_record(row), head)
                    if broken is not None:
                        return broken
                if len(batch) < self._verify_batch:
                    return verifier.finish(head)
                after = batch[-1].id

    async def recent(
        self,
        limit: int = 100,
        *,
        before_id: int | None = None,
        organisation_ids: Collection[int] | None = None,
        with_unassigned: bool = True,
    ) -> list[AuditRecord]:
        """The newest rows first (before row `before_id` when given), at most `limit`; only
        those of `organisation_ids` when given, and then rows of no organisation (failed
        logins of unknown names, the platform's own) only `with_unassigned`."""
        statement = select(LOG).order_by(LOG.c.id.desc()).limit(limit)
        if before_id is not None:
            statement = statement.where(LOG.c.id < before_id)
        if organisation_ids is not None:
            scope: ColumnElement[bool] = LOG.c.organisation_id.in_(organisation_ids)
            if with_unassigned:
                scope = or_(scope, LOG.c.organisation_id.is_(None))
            statement = statement.where(scope)
        async with self._sessions() as session:
            return [_record(row) for row in await session.execute(statement)]
