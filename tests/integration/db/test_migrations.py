"""Migrations take an empty database to head, and head matches the models exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from farmwatch.platform.db import Database, alembic_config
from farmwatch.platform.models import Base

from .conftest import T0

HEAD = "0017"


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

    assert await empty_database.current_revision() == HEAD
    async with empty_database.engine.connect() as connection:
        tables = await connection.run_sync(_table_names)
        differences = await connection.run_sync(_schema_differences)
    assert tables == {
        "alembic_version",
        "devices",
        "channels",
        "recording_segments",
        "record_plans",
        "download_tasks",
        "evidence_clips",
        "organisations",
        "farms",
        "farm_devices",
        "users",
        "user_grants",
        "login_sessions",
        "api_tokens",
        "token_grants",
        "audit_log",
        "audit_chain_head",
        "media_owners",
        "camera_placements",
        "upper_shares",
        "alarms",
        "device_positions",
        "monitoring_records",
        "organisation_schedules",
        "farm_state_changes",
        "farm_documents",
        "fault_tickets",
        "fault_transitions",
        "anomalies",
        "anomaly_evidence",
        "anomaly_history",
        "anomaly_follow_ups",
        "spot_checks",
        "spot_check_items",
        "picture_samples",
        "picture_states",
        "device_snapshots",
    }
    assert differences == []


async def test_migrate_twice_is_harmless(database: Database) -> None:
    await database.migrate()
    assert await database.current_revision() == HEAD


async def test_start_migrates_by_default(empty_database: Database) -> None:
    await empty_database.start()
    assert await empty_database.current_revision() == HEAD


@pytest.mark.sqlite_only
async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(database: Database) -> None:
    assert database.dialect_name == "sqlite"
    async with database.engine.connect() as connection:
        journal_mode = await connection.scalar(text("PRAGMA journal_mode"))
        foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
        busy_timeout = await connection.scalar(text("PRAGMA busy_timeout"))
    assert (journal_mode, foreign_keys, busy_timeout) == ("wal", 1, 10_000)


async def test_devices_stored_before_0002_count_as_complete_when_their_channels_are(
    empty_database: Database,
) -> None:
    """Upgrading must not make a restarted platform ask every device's catalog again."""
    config = alembic_config(empty_database.url)

    def upgrade_to(revision: str) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    async with empty_database.engine.begin() as connection:
        await connection.run_sync(upgrade_to("0001"))
        for device_id, sum_num, channels in (("A", 2, 2), ("B", 3, 1), ("C", None, 0)):
            await connection.execute(
                text(
                    "INSERT INTO devices (device_id, catalog_sum_num, created_at, updated_at)"
                    " VALUES (:id, :sum_num, :at, :at)"
                ),
                {"id": device_id, "sum_num": sum_num, "at": T0},
            )
            for serial in range(channels):
                await connection.execute(
                    text(
                        "INSERT INTO channels (device_id, channel_id, kind, tree_parent_id, extra,"
                        " created_at, updated_at)"
                        " VALUES (:id, :channel, 'channel', :id, '{}', :at, :at)"
                    ),
                    {"id": device_id, "channel": f"{device_id}{serial}", "at": T0},
                )
        await connection.run_sync(upgrade_to("head"))
        rows = await connection.execute(
            text(
                "SELECT device_id, catalog_received, is_catalog_complete FROM devices"
                " ORDER BY device_id"
            )
        )
        outcome = [(row[0], row[1], bool(row[2])) for row in rows]
        channel_count = await connection.scalar(text("SELECT count(*) FROM channels"))
    assert channel_count == 3
    assert outcome == [("A", 2, True), ("B", 1, False), ("C", None, False)]
