"""Recorded video's persistence on SQLite and PostgreSQL: segments, plans, downloads, clips."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

from farmwatch.platform.db import Database
from farmwatch.platform.recordings.records import (
    ClipState,
    DownloadState,
    DownloadTask,
    EvidenceClip,
    PlanMode,
    RecordPlan,
    SegmentData,
    WeeklyWindow,
)
from farmwatch.platform.recordings.repository import RecordingRepository

from .conftest import T0

CHANNEL = "34020000001320000001"
DEVICE = "34020000001110000001"


def segment(minute: int, length: int = 10, channel: str = CHANNEL) -> SegmentData:
    start = T0 + timedelta(minutes=minute)
    return SegmentData(
        channel, DEVICE, "GZ0001", f"recordings/GZ0001/{channel}/{minute}.mp4", start,
        start + timedelta(minutes=length), 1_000 + minute, 15_000, "h264", 1280, 720,
    )  # fmt: skip


async def test_segments_are_found_by_overlap_and_retired_oldest_unlocked_first(
    database: Database,
) -> None:
    repository = RecordingRepository(database.sessions)
    ids = [await repository.add_segment(segment(m), at=T0) for m in (0, 10, 20, 30)]
    await repository.add_segment(segment(0, channel="34020000001320000002"), at=T0)
    again = await repository.add_segment(replace(segment(30), bytes=99), at=T0)
    assert again == ids[3]  # a recovered file indexed twice is one row

    found = await repository.segments_between(
        CHANNEL, T0 + timedelta(minutes=15), T0 + timedelta(minutes=25)
    )
    assert [s.id for s in found] == ids[1:3]
    assert found[0].duration == 600 and found[0].width == 1280

    await repository.set_locked([ids[0]], True)
    oldest = await repository.oldest_unlocked(2)
    assert [s.id for s in oldest if s.channel_id == CHANNEL] == [ids[1]]
    assert len(oldest) == 2
    assert await repository.total_segment_bytes() == 1000 + 1010 + 1020 + 99 + 1000
    assert await repository.delete_segments([ids[1]]) == 1
    assert ids[1] not in [
        s.id for s in await repository.segments_between(CHANNEL, T0, T0 + timedelta(hours=1))
    ]


async def test_plans_downloads_and_clips_round_trip(database: Database) -> None:
    repository = RecordingRepository(database.sessions)
    plan = RecordPlan(
        CHANNEL,
        PlanMode.WEEKLY,
        (WeeklyWindow(0, time(8), time(18)), WeeklyWindow(6, time(0), time(23, 59, 59))),
        T0 + timedelta(minutes=5),
        T0,
    )
    await repository.put_plan(plan)
    assert await repository.get_plan(CHANNEL) == plan
    off = replace(plan, mode=PlanMode.OFF, windows=(), record_until=None)
    await repository.put_plan(off)
    assert await repository.plans() == [off]

    task = DownloadTask("d1", CHANNEL, DEVICE, "device", T0, T0 + timedelta(minutes=10), 4,
                        DownloadState.PENDING, 0.0, None, None, None, T0, None)  # fmt: skip
    await repository.add_download(task)
    done = replace(task, state=DownloadState.COMPLETED, progress=1.0, path="downloads/x.mp4",
                   bytes=123, finished_at=T0 + timedelta(minutes=3))  # fmt: skip
    assert await repository.unfinished_downloads() == [task]
    await repository.update_download(done)
    assert await repository.get_download("d1") == done
    assert await repository.unfinished_downloads() == []

    clip = EvidenceClip("c1", CHANNEL, T0, T0 + timedelta(seconds=30), "饲料投放处异常", "platform",
                        ClipState.PENDING, None, None, None, None, T0)  # fmt: skip
    await repository.add_clip(clip)
    ready = replace(clip, state=ClipState.READY, path="evidence/c1.mp4", sha256="ab" * 32,
                    bytes=10)  # fmt: skip
    await repository.update_clip(ready)
    assert await repository.get_clip("c1") == ready
    assert await repository.clip_paths() == {"evidence/c1.mp4"}
