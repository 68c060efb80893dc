"""Alembic environment of the platform database (async engine, no alembic.ini needed).

Two ways in. `Database.migrate()` opens a connection on its own async engine and passes
the synchronous facade in `config.attributes["connection"]`; migrations then run on that
connection inside the caller's transaction. A developer writing a new revision builds the
same configuration, `farmwatch.platform.db.alembic_config(url)`, and calls
`alembic.command.revision(config, message, autogenerate=True)`; then a fresh async engine
is made for the URL in `sqlalchemy.url` (or `-x url=...` when run from an ini file).
SQLite uses batch mode so later migrations can alter tables.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from farmwatch.platform.models import Base

target_metadata = Base.metadata


def run_on_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on_connection)
    finally:
        await engine.dispose()


def run_migrations() -> None:
    config = context.config
    shared = config.attributes.get("connection")
    if isinstance(shared, Connection):
        run_on_connection(shared)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(run_with_own_engine(url))


run_migrations()
