"""Retention and evidence (art. 21): while an anomaly's clip waits for its "after" part or
is cut, the platform segments of its range are locked, so that retention (which takes the
oldest unlocked segments) cannot delete them under it; a segment someone else locked stays
locked when the clip lets go."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from farmwatch.platform.db import Database
from farmwatch.platform.recordings.clip_service import ClipService
from farmwatch.platform.recordings.records import SegmentData
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories import ChannelRepository

from .conftest import T0

CHANNEL = "34020000001320000001"


def segment(minute: int) -> SegmentData:
    start = T0 + timedelta(minutes=minute)
    return SegmentData(
        CHANNEL, "34020000001110000001", "GZ0001", f"recordings/GZ0001/{CHANNEL}/{minute}.ps",
        start, start + timedelta(minutes=1), 1_000, 1_500, "h264", 320, 180,
    )  # fmt: skip


async def test_held_segments_are_out_of_retentions_reach_until_released(
    database: Database, tmp_path: Path
) -> None:
    recordings = RecordingRepository(database.sessions)
    ids = [await recordings.add_segment(segment(minute), at=T0) for minute in range(5)]
    await recordings.set_locked([ids[2]], True)  # locked by someone else (an operator)
    clips = ClipService(
        recordings, None, ChannelRepository(database.sessions),  # type: ignore[arg-type]
        storage=tmp_path, zone=ZoneInfo("Asia/Shanghai"),
    )  # fmt: skip
    assert await clips.covers(CHANNEL, T0 + timedelta(seconds=30), T0 + timedelta(minutes=4))
    assert not await clips.covers(CHANNEL, T0 + timedelta(minutes=4), T0 + timedelta(minutes=6))

    held = await clips.hold(
        CHANNEL, T0 + timedelta(seconds=90), T0 + timedelta(minutes=3, seconds=30)
    )
    assert sorted(held) == [ids[1], ids[3]]  # minutes 1-3, minus the one locked already
    unlocked = await recordings.oldest_unlocked(100)
    assert [s.id for s in unlocked] == [ids[0], ids[4]]  # what retention may take

    await clips.release(held)
    unlocked = await recordings.oldest_unlocked(100)
    assert [s.id for s in unlocked] == [ids[0], ids[1], ids[3], ids[4]]  # ids[2] stays locked
