"""A mobile device's track in `device_positions` (SQLite and PostgreSQL): stored, read in
time order whatever the arrival order, bounded by since/until and the limit, one device's
track apart from another's."""

from __future__ import annotations

from datetime import timedelta

from farmwatch.platform.db import Database
from farmwatch.platform.repositories.position_repository import PositionRepository, TrackPoint
from tests.integration.db.conftest import T0

CAR = "44010000001380000001"
OTHER = "44010000001380000002"


def _point(device: str, seconds: int, longitude: float) -> TrackPoint:
    return TrackPoint(
        device_id=device, source_id=device, time=T0 + timedelta(seconds=seconds),
        longitude=longitude, latitude=23.12, speed=30.0, direction=None, altitude=None,
        received_at=T0 + timedelta(seconds=60),
    )  # fmt: skip


async def test_a_track_in_time_order(database: Database) -> None:
    positions = PositionRepository(database.sessions)
    await positions.add_all([_point(CAR, 10, 113.3), _point(CAR, 0, 113.1)])
    await positions.add_all([_point(CAR, 5, 113.2), _point(OTHER, 3, 100.0)])
    track = await positions.track(CAR, limit=100)
    assert [p.longitude for p in track] == [113.1, 113.2, 113.3]
    assert track[0] == _point(CAR, 0, 113.1)
    window = await positions.track(
        CAR, since=T0 + timedelta(seconds=5), until=T0 + timedelta(seconds=10), limit=100
    )
    assert [p.longitude for p in window] == [113.2]
    assert [p.longitude for p in await positions.track(CAR, limit=2)] == [113.1, 113.2]
    assert [p.longitude for p in await positions.track(OTHER, limit=100)] == [100.0]
    assert await positions.track("44010000001380000009", limit=100) == []
