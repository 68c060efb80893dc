"""The platform database: async engine, session factory and migrations (STYLE B9).

`create_database(url)` builds a `Database` for a SQLAlchemy URL: SQLite through aiosqlite
(the embedded default, `sqlite+aiosqlite:///<data dir>/farmwatch.db`) or PostgreSQL
through asyncpg (`postgresql+asyncpg://user@host/db`). SQLite connections run in WAL mode
with foreign keys on and a busy timeout, and every transaction starts with
`BEGIN IMMEDIATE` so concurrent writers queue on the busy timeout instead of failing when
a read lock cannot be upgraded. `Database.start()` migrates the schema to the newest
Alembic revision shipped in `farmwatch.platform.migrations`; `close()` disposes the pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

DATABASE_FILE_NAME = "farmwatch.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message says where and why, in one
    line, with any password in the URL masked."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def _reason(error: BaseException) -> str:
    """One line saying why a connection failed (a driver error, or the OS's)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    if isinstance(cause, socket.gaierror) and cause.strerror:
        return cause.strerror.lower()
    if isinstance(cause, OSError) and cause.errno and cause.errno > 0:
        return os.strerror(cause.errno).lower()
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def default_database_url(data_dir: Path) -> str:
    """The embedded SQLite database inside the storage directory."""
    return f"sqlite+aiosqlite:///{data_dir.resolve() / DATABASE_FILE_NAME}"


def resolve_database_url(configured: str, data_dir: Path) -> str:
    """The configured `[database] url`, or the SQLite default when it is empty."""
    return configured or default_database_url(data_dir)


def _configure_sqlite_connection(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_immediate) instead of the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


READ_ONLY_OPTION = "farmwatch_read_only"


def _begin_immediate(connection: Connection) -> None:
    # Writers take the write lock at BEGIN, so two of them queue on busy_timeout instead of
    # failing at lock upgrade; readers must not, or a busy writer blocks every page view.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create_engine(url: str, schema: str | None, echo: bool) -> AsyncEngine:
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if parsed.get_backend_name() != "postgresql":
            raise ValueError("a schema can only be chosen on PostgreSQL")
        connect_args["server_settings"] = {"search_path": schema}
    engine = create_async_engine(url, echo=echo, connect_args=connect_args)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def alembic_config(url: str) -> Config:
    """Alembic configuration for `url` without an alembic.ini (e.g. for `command.revision`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade_to_head(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# How long /healthz waits for the database before calling it unavailable.
PING_TIMEOUT = 2.0


class Database:
    """One database: the engine, the session factory and the schema migrations.

    `sessions` is the `async_sessionmaker` the repositories take; sessions do not expire
    objects on commit.
    """

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self._url = url
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(
            engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def url(self) -> str:
        return self._url

    @property
    def dialect_name(self) -> str:
        return self._engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    @property
    def read_sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for reading only: on SQLite they never wait for a writer (WAL)."""
        return self._read_sessions

    @property
    def display_url(self) -> str:
        """The URL with its password masked, for messages."""
        return make_url(self._url).render_as_string(hide_password=True)

    async def start(self, *, migrate: bool = True) -> None:
        """Create the SQLite directory if needed, connect once, migrate the schema to head.

        Raises `DatabaseUnavailable` when the database cannot be reached or opened (a
        failing migration is not that, and raises as it is).
        """
        database_path = make_url(self._url).database
        try:
            if self.dialect_name == "sqlite" and database_path and database_path != ":memory:":
                Path(database_path).parent.mkdir(parents=True, exist_ok=True)
            async with self._engine.connect():
                pass
        except (OSError, SQLAlchemyError, TypeError) as error:
            # TypeError: the driver's connect() refused a URL query parameter (?foo=bar).
            raise DatabaseUnavailable(self.display_url, _reason(error)) from error
        if migrate:
            await self.migrate()

    async def migrate(self) -> None:
        """Run every pending Alembic migration (`upgrade head`) in one transaction."""
        config = alembic_config(self._url)
        async with self._engine.begin() as connection:
            await connection.run_sync(_upgrade_to_head, config)
            revision = await connection.run_sync(_current_revision)
        log.info("database schema at revision %s (%s)", revision, self.dialect_name)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query within `PING_TIMEOUT` seconds."""
        try:
            async with asyncio.timeout(PING_TIMEOUT), self._read_sessions() as session:
                await session.execute(text("SELECT 1"))
        except (OSError, SQLAlchemyError, TimeoutError):
            return False
        return True

    async def current_revision(self) -> str | None:
        """The Alembic revision the schema is at, None for an empty database."""
        async with self._engine.connect() as connection:
            return await connection.run_sync(_current_revision)

    async def close(self) -> None:
        await self._engine.dispose()


def create_database(url: str, *, schema: str | None = None, echo: bool = False) -> Database:
    """Build a `Database` for `url`; `schema` (PostgreSQL only) sets the search path."""
    return Database(url, _create_engine(url, schema, echo))
