"""Pictures devices uploaded, in `device_snapshots` (SQLite and PostgreSQL): stored with
their session, size and hash, listed per channel newest first within the limit, read back
by ID."""

from __future__ import annotations

from datetime import timedelta

from farmwatch.platform.db import Database
from farmwatch.platform.repositories.device_snapshot_repository import (
    DeviceSnapshotRepository,
    NewDeviceSnapshot,
)
from tests.integration.db.conftest import T0

DEVICE = "34020000001320000001"
CAMERA = "34020000001320000002"
OTHER = "34020000001320000003"


def _new(channel: str, seconds: int, sha: str) -> NewDeviceSnapshot:
    return NewDeviceSnapshot(
        channel_id=channel, device_id=DEVICE, session_id="s" * 32,
        received_at=T0 + timedelta(seconds=seconds), size=1000 + seconds, sha256=sha * 64,
    )  # fmt: skip


async def test_pictures_listed_newest_first_per_channel(database: Database) -> None:
    snapshots = DeviceSnapshotRepository(database.sessions)
    first = await snapshots.add(_new(CAMERA, 0, "a"))
    await snapshots.add(_new(OTHER, 5, "b"))
    last = await snapshots.add(_new(CAMERA, 10, "c"))
    assert (first.size, first.sha256, first.received_at) == (1000, "a" * 64, T0)
    listed = await snapshots.of_channel(CAMERA, limit=10)
    assert [s.id for s in listed] == [last.id, first.id]
    assert [s.id for s in await snapshots.of_channel(CAMERA, limit=1)] == [last.id]
    assert await snapshots.get(first.id) == first
    assert await snapshots.get(last.id + 1000) is None
    assert await snapshots.of_channel("34020000001320000009", limit=10) == []
