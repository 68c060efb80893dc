"""Migrations take an empty database to head, and head matches the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from farmwatch.platform.db import Database
from farmwatch.platform.models import Base


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrate_takes_an_empty_database_to_head(empty_database: Database) -> None:
    assert await empty_database.current_revision() is None
    async with empty_database.engine.connect() as connection:
        assert await connection.run_sync(_table_names) == set()

    await empty_database.migrate()

    assert await empty_database.current_revision() == "0001"
    async with empty_database.engine.connect() as connection:
        tables = await connection.run_sync(_table_names)
        differences = await connection.run_sync(_schema_differences)
    assert tables == {"alembic_version", "devices", "channels"}
    assert differences == []


async def test_migrate_twice_is_harmless(database: Database) -> None:
    await database.migrate()
    assert await database.current_revision() == "0001"


async def test_start_migrates_by_default(empty_database: Database) -> None:
    await empty_database.start()
    assert await empty_database.current_revision() == "0001"


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(database: Database) -> None:
    if database.dialect_name != "sqlite":
        pytest.skip("SQLite pragmas do not apply to PostgreSQL")
    async with database.engine.connect() as connection:
        journal_mode = await connection.scalar(text("PRAGMA journal_mode"))
        foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
        busy_timeout = await connection.scalar(text("PRAGMA busy_timeout"))
    assert (journal_mode, foreign_keys, busy_timeout) == ("wal", 1, 10_000)
