"""The audit log on SQLite and PostgreSQL: appends chain, concurrent writers do not fork the
chain, and tampering done with plain SQL is found and named."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from farmwatch.platform.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditActor,
    AuditLog,
    AuditResult,
    ChainProblem,
    RecordedRange,
)
from farmwatch.platform.db import Database

from .conftest import T0

CHANNEL = "34020000001320000001"


def clock_from(start: int = 0) -> Callable[[], datetime]:
    """A clock one second later at each reading."""
    ticks = iter(range(start, 10_000))
    return lambda: T0 + timedelta(seconds=next(ticks))


async def fill(log: AuditLog, count: int) -> None:
    for index in range(count):
        await log.append(
            AuditAction.PLAYBACK,
            AuditActor.user(1, "王监控"),
            organisation_id=2,
            channel_id=CHANNEL,
            recorded=RecordedRange(T0 - timedelta(hours=1), T0 - timedelta(minutes=index)),
            source="192.0.2.7",
            detail={"speed": 4, "n": index, "note": "回放"},
        )


async def test_rows_chain_from_the_genesis_hash_and_read_back_newest_first(
    database: Database,
) -> None:
    log = AuditLog(database.sessions, clock=clock_from())
    first = await log.append(AuditAction.LOGIN, AuditActor.user(1, "admin"), source="192.0.2.1")
    await fill(log, 3)
    assert first.id == 1 and first.prev_hash == GENESIS_HASH
    rows = await log.recent(10)
    assert [row.id for row in rows] == [4, 3, 2, 1]
    assert rows[-1] == first  # what was stored reads back exactly
    assert rows[0].prev_hash == rows[1].row_hash
    assert rows[0].entry.detail == {"speed": 4, "n": 2, "note": "回放"}
    assert [row.id for row in await log.recent(2, before_id=3)] == [2, 1]
    head = await log.head()
    assert head is not None and (head.last_id, head.last_hash) == (4, rows[0].row_hash)
    result = await log.verify()
    assert result.is_intact and result.rows == 4 and result.head_hash == rows[0].row_hash


async def test_an_empty_log_verifies(database: Database) -> None:
    result = await AuditLog(database.sessions).verify()
    assert result.is_intact and result.rows == 0


async def test_concurrent_appends_never_fork_the_chain(database: Database) -> None:
    writers = [AuditLog(database.sessions) for _ in range(3)]
    await asyncio.gather(
        *(
            writer.append(AuditAction.LIVE_START, AuditActor.system(), channel_id=CHANNEL)
            for _ in range(10)
            for writer in writers
        )
    )
    result = await writers[0].verify()
    assert result.is_intact and result.rows == 30
    ids = sorted(row.id for row in await writers[0].recent(100))
    assert ids == list(range(1, 31))


async def test_an_edited_row_is_named(database: Database) -> None:
    log = AuditLog(database.sessions, clock=clock_from())
    await fill(log, 5)
    async with database.sessions.begin() as session:
        await session.execute(text("UPDATE audit_log SET result = 'denied' WHERE id = 3"))
    result = await log.verify()
    assert (result.problem, result.row_id, result.rows) == (ChainProblem.EDITED, 3, 2)


async def test_a_deleted_row_is_named(database: Database) -> None:
    log = AuditLog(database.sessions, clock=clock_from())
    await fill(log, 5)
    async with database.sessions.begin() as session:
        await session.execute(text("DELETE FROM audit_log WHERE id IN (2, 5)"))
    result = await log.verify()
    assert (result.problem, result.row_id) == (ChainProblem.DELETED, 2)


async def test_a_row_inserted_with_sql_is_found(database: Database) -> None:
    log = AuditLog(database.sessions, clock=clock_from())
    await fill(log, 2)
    await log.append(AuditAction.LOGOUT, AuditActor.user(1, "a"), result=AuditResult.OK)
    async with database.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO audit_log (id, at, actor_kind, actor_name, action, result, detail,"
                " prev_hash, row_hash) SELECT 4, at, actor_kind, actor_name, action, result,"
                " detail, row_hash, row_hash FROM audit_log WHERE id = 3"
            )
        )
    result = await log.verify()
    assert (result.problem, result.row_id) == (ChainProblem.INSERTED, 4)


async def test_batches_are_walked_past_the_first(database: Database) -> None:
    await fill(AuditLog(database.sessions, clock=clock_from()), 5)
    assert (await AuditLog(database.sessions, verify_batch=2).verify()).rows == 5


async def test_what_a_column_cannot_hold_is_refused_before_anything_is_written(
    database: Database,
) -> None:
    log = AuditLog(database.sessions, clock=clock_from())
    for bad in ({"channel_id": "3" * 21}, {"source": "x\x00y"}):
        with pytest.raises(ValueError):
            await log.append(AuditAction.LIVE_START, AuditActor.system(), **bad)
    with pytest.raises(ValueError):
        await log.append(AuditAction.CONFIG_CHANGE, AuditActor.system(), detail={"x": float("inf")})
    assert (await log.verify()).rows == 0
    assert (await log.append(AuditAction.LOGOUT, AuditActor.system())).id == 1
