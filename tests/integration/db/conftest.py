"""A migrated, empty database per test, on SQLite and on PostgreSQL.

SQLite lives in the test's tmp_path. PostgreSQL is the server on 127.0.0.1:5432, database
`test`, trust auth (user `postgres`, else the current user); each test gets a schema of
its own with a random name, dropped afterwards, so runs never see each other's rows. When
PostgreSQL is not reachable its parameters are skipped with the reason shown.
"""

from __future__ import annotations

import getpass
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from farmwatch.platform.db import Database, create_database, default_database_url
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository

POSTGRES_URLS = (
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    f"postgresql+asyncpg://{getpass.getuser()}@127.0.0.1:5432/test",
)
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


async def _reachable_postgres_url() -> str:
    failures: list[str] = []
    for url in POSTGRES_URLS:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return url
        except Exception as error:  # any connect or auth failure makes it unusable
            failures.append(f"{url}: {type(error).__name__}: {error}")
        finally:
            await engine.dispose()
    pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432: " + "; ".join(failures))


async def _run_on(url: str, statement: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A started but not yet migrated database (for the migration tests)."""
    if request.param == "sqlite":
        database = create_database(default_database_url(tmp_path / "data"))
        await database.start(migrate=False)
        try:
            yield database
        finally:
            await database.close()
        return
    url = await _reachable_postgres_url()
    schema = f"fw_test_{secrets.token_hex(6)}"
    await _run_on(url, f'CREATE SCHEMA "{schema}"')
    database = create_database(url, schema=schema)
    try:
        await database.start(migrate=False)
        yield database
    finally:
        await database.close()
        await _run_on(url, f'DROP SCHEMA "{schema}" CASCADE')


DATABASE_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "empty_database" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        params = DATABASE_PARAMS[:1] if only is not None else DATABASE_PARAMS
        metafunc.parametrize("empty_database", params, indirect=True)


@pytest.fixture
async def database(empty_database: Database) -> Database:
    """A database migrated to head, with no rows."""
    await empty_database.migrate()
    return empty_database


@pytest.fixture
def devices(database: Database) -> DeviceRepository:
    return DeviceRepository(database.sessions)


@pytest.fixture
def channels(database: Database) -> ChannelRepository:
    return ChannelRepository(database.sessions)


@pytest.fixture
def database_name(database: Database) -> str:
    return database.dialect_name
