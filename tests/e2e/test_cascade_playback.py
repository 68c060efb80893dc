"""Playback through the cascade: the bureau plays back a farm camera's recording via its branch.

The bureau INVITEs the branch with `s=Playback`; the branch opens a playback session of the
camera's own recording and relays it; the bureau's seek and speed go down as MANSRTSP INFO
and are applied by the branch; the camera's MediaStatus 121 comes back up. Where playback
starts, where a seek lands and how fast recorded time runs are read from the recorded time
the simulated camera writes into every frame, as in tests/e2e/test_playback.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.cascade_helpers import Cascade, RecordedTimeReader, cascade

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOP = 1.0
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cascade]:
    records = RecordSettings(missing_fraction=0.0)
    async with cascade(tmp_path_factory.mktemp("cascade-playback"), records=records) as rig:
        yield rig


def local(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def yesterday_at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    day = datetime.now(SHANGHAI) - timedelta(days=1)
    return day.replace(hour=hour, minute=minute, second=second, microsecond=0)


async def open_playback(rig: Cascade, start: datetime, end: datetime) -> dict[str, Any]:
    body = {"start": local(start), "end": local(end)}
    status, session = await rig.post(rig.bureau, f"/api/channels/{rig.channel()}/playback", body)
    assert status == 201, session
    return session


async def control(rig: Cascade, session: dict[str, Any], **body: object) -> dict[str, Any]:
    status, answer = await rig.post(rig.bureau, session["control"], body)
    assert status == 200, answer
    return answer


async def branch_calls(rig: Cascade) -> int:
    _, uppers = await rig.request(rig.branch, "GET", "/api/uppers")
    return int(uppers["uppers"][0]["calls"])


async def test_playback_through_the_branch_starts_seeks_and_runs_at_4x(rig: Cascade) -> None:
    start = yesterday_at(14)
    session = await open_playback(rig, start, start + timedelta(hours=1))
    reader = RecordedTimeReader.start(rig, rig.bureau, session["fmp4"])
    try:
        await asyncio.sleep(2.0)
        frames = reader.frames()
        assert len(frames) >= 25
        assert start.timestamp() - GOP - 0.05 <= frames[0].recorded <= start.timestamp() + 0.05
        assert await branch_calls(rig) == 1

        # Seek +30 min: through the branch (MANSRTSP INFO), the next frames show 14:30.
        await control(rig, session, action="seek", position=1800)
        await asyncio.sleep(2.0)
        target = start.timestamp() + 1800
        after = [f for f in reader.frames() if f.recorded >= target - GOP - 0.05]
        assert after and after[0].recorded <= target + 0.05

        # 4×: recorded time runs at least 3.5 s per wall second.
        changed_at = asyncio.get_running_loop().time()
        await control(rig, session, action="speed", scale=4)
        await asyncio.sleep(3.0)
        fast = [f for f in reader.frames() if f.arrived > changed_at + 0.5]
        assert len(fast) > 50
        wall = fast[-1].arrived - fast[0].arrived
        assert (fast[-1].recorded - fast[0].recorded) / wall >= 3.5
    finally:
        await reader.stop()
    status, _ = await rig.request(rig.bureau, "DELETE", session["status"])
    assert status == 204
    async with asyncio.timeout(5):  # the bureau's BYE ended the branch's call and session
        while await branch_calls(rig):
            await asyncio.sleep(0.1)
    async with asyncio.timeout(5):
        while any(c.playback is not None for c in rig.farm.devices[0].calls):
            await asyncio.sleep(0.05)


async def test_the_end_of_the_range_comes_up_as_mediastatus_121(rig: Cascade) -> None:
    start = yesterday_at(9)
    session = await open_playback(rig, start, start + timedelta(seconds=3))
    async with asyncio.timeout(20):
        while True:
            _, body = await rig.request(rig.bureau, "GET", session["status"])
            if body["state"] == "ended":
                break
            await asyncio.sleep(0.1)
    assert "MediaStatus 121" in body["end_reason"]
    async with asyncio.timeout(5):
        while await branch_calls(rig):
            await asyncio.sleep(0.1)
