"""Readers never wait for a writer: an API read must not fail while the recorder writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text

from farmwatch.platform.db import Database
from farmwatch.platform.records import Transport
from farmwatch.platform.repositories.device_repository import DeviceRepository

DEVICE = "34020000001320000001"


async def test_a_read_completes_while_a_write_transaction_is_open(database: Database) -> None:
    devices = DeviceRepository(database.sessions, database.read_sessions)
    await devices.upsert_registration(
        DEVICE, transport=Transport.UDP, remote_host="127.0.0.1", remote_port=5060,
        contact_uri="", expires=3600, gb_version=None, at=datetime.now(UTC),
    )  # fmt: skip
    async with database.sessions.begin() as writer:
        await writer.execute(text("UPDATE devices SET name = 'writing' WHERE device_id = :d"),
                             {"d": DEVICE})  # fmt: skip
        # The write transaction holds the lock; the read must not queue behind it
        # (busy_timeout is 10 s: waiting for it would blow this bound).
        async with asyncio.timeout(2):
            record = await devices.get(DEVICE)
        assert record is not None and record.name is None  # the uncommitted name is unseen
    record = await devices.get(DEVICE)
    assert record is not None and record.name == "writing"
