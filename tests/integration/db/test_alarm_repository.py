"""Alarms kept in `alarms` (SQLite and PostgreSQL): stored in order with their IDs, found by
device, source, time, state and visibility, paged newest first or read after an ID (the
console's feed), acknowledged and reset (a refused reset keeps the state)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from farmwatch.platform.db import Database
from farmwatch.platform.recordings.records import ClipState, EvidenceClip
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.alarm_repository import (
    AlarmFilter,
    AlarmRepository,
    AlarmState,
    NewAlarm,
)
from tests.integration.db.conftest import T0

DEVICE = "44010000001320000001"
CAMERA_A = "44010000001310000001"
CAMERA_B = "44010000001310000002"
OTHER_DEVICE = "44010000001320000002"


def _alarm(source: str, minutes: int, device: str = DEVICE) -> NewAlarm:
    return NewAlarm(
        device_id=device, source_id=source, sn=minutes, priority=1, method=5, alarm_type=2,
        alarm_time=T0 + timedelta(minutes=minutes), longitude=113.25, latitude=23.1,
        description="移动侦测", received_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


async def test_alarms_are_stored_found_and_paged(database: Database) -> None:
    alarms = AlarmRepository(database.sessions)
    assert await alarms.latest_id() == 0
    stored = await alarms.add_all(
        [_alarm(CAMERA_A, 0), _alarm(CAMERA_B, 1), _alarm(OTHER_DEVICE, 2, OTHER_DEVICE)]
    )
    assert [a.source_id for a in stored] == [CAMERA_A, CAMERA_B, OTHER_DEVICE]
    assert stored[0].id < stored[1].id < stored[2].id
    assert await alarms.latest_id() == stored[2].id
    first = await alarms.get(stored[0].id)
    assert first == stored[0]
    assert first is not None and first.alarm_time == T0 and first.description == "移动侦测"
    assert first.state is AlarmState.NEW

    newest = await alarms.find(AlarmFilter(), limit=2)
    assert [a.id for a in newest] == [stored[2].id, stored[1].id]
    rest = await alarms.find(AlarmFilter(), limit=2, offset=2)
    assert [a.id for a in rest] == [stored[0].id]
    by_device = await alarms.find(AlarmFilter(device_id=DEVICE), limit=10)
    assert {a.source_id for a in by_device} == {CAMERA_A, CAMERA_B}
    by_source = await alarms.find(AlarmFilter(source_id=CAMERA_B), limit=10)
    assert [a.id for a in by_source] == [stored[1].id]
    recent = await alarms.find(AlarmFilter(since=T0 + timedelta(minutes=1)), limit=10)
    assert {a.id for a in recent} == {stored[1].id, stored[2].id}
    after = await alarms.find(AlarmFilter(after_id=stored[0].id), limit=10, oldest_first=True)
    assert [a.id for a in after] == [stored[1].id, stored[2].id]
    # Visibility: the cameras one may view, or whole devices (an administrator's reach).
    seen = await alarms.find(
        AlarmFilter(devices=frozenset(), sources=frozenset({CAMERA_A})), limit=10
    )
    assert [a.id for a in seen] == [stored[0].id]
    seen = await alarms.find(
        AlarmFilter(devices=frozenset({OTHER_DEVICE}), sources=frozenset({CAMERA_A})), limit=10
    )
    assert {a.id for a in seen} == {stored[0].id, stored[2].id}
    nothing = await alarms.find(AlarmFilter(devices=frozenset(), sources=frozenset()), limit=10)
    assert nothing == []


async def test_acknowledged_then_reset(database: Database) -> None:
    alarms = AlarmRepository(database.sessions)
    first, second = await alarms.add_all([_alarm(CAMERA_A, 0), _alarm(CAMERA_B, 1)])
    at = T0 + timedelta(hours=1)
    acknowledged = await alarms.acknowledge(first.id, "mon.east", at, "checked pen 3")
    assert acknowledged is not None
    assert (acknowledged.acknowledged_by, acknowledged.acknowledged_at, acknowledged.note) == (
        "mon.east", at, "checked pen 3",
    )  # fmt: skip
    assert acknowledged.state is AlarmState.ACKNOWLEDGED
    refused = await alarms.record_reset(second.id, "east.admin", at, "ERROR (busy)", is_done=False)
    assert refused is not None and refused.state is AlarmState.NEW
    assert refused.reset_result == "ERROR (busy)"
    done = await alarms.record_reset(first.id, "east.admin", at, "OK", is_done=True)
    assert done is not None and done.state is AlarmState.RESET and done.reset_at == at
    assert [a.id for a in await alarms.find(AlarmFilter(state=AlarmState.NEW), limit=5)] == [
        second.id
    ]
    assert [a.id for a in await alarms.find(AlarmFilter(state=AlarmState.RESET), limit=5)] == [
        first.id
    ]
    assert await alarms.find(AlarmFilter(state=AlarmState.ACKNOWLEDGED), limit=5) == []
    assert await alarms.acknowledge(999_999, "x", at, None) is None


async def test_an_alarm_shows_its_linked_clip_and_that_clips_state(database: Database) -> None:
    alarms = AlarmRepository(database.sessions)
    recordings = RecordingRepository(database.sessions)
    with_clip, without = await alarms.add_all([_alarm(CAMERA_A, 0), _alarm(CAMERA_B, 1)])
    assert with_clip.clip_id is None and with_clip.clip_state is None
    clip = EvidenceClip("a1b2c3d4e5f60708", CAMERA_A, T0 - timedelta(seconds=3),
                        T0 + timedelta(seconds=3), "告警 1", "platform", ClipState.PENDING,
                        None, None, None, None, T0)  # fmt: skip
    await recordings.add_clip(clip)
    await alarms.link_clip(with_clip.id, clip.id)
    linked = await alarms.get(with_clip.id)
    assert linked is not None
    assert (linked.clip_id, linked.clip_state) == (clip.id, "pending")
    await recordings.update_clip(replace(clip, state=ClipState.FAILED, error="device refused"))
    found = {a.id: a for a in await alarms.find(AlarmFilter(), limit=10)}
    assert (found[with_clip.id].clip_id, found[with_clip.id].clip_state) == (clip.id, "failed")
    assert (found[without.id].clip_id, found[without.id].clip_state) == (None, None)
    # Acknowledging keeps the link.
    acknowledged = await alarms.acknowledge(with_clip.id, "admin", T0, None)
    assert acknowledged is not None and acknowledged.clip_state == "failed"
