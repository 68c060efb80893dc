"""Downloads end to end: a simulated device's recording fetched at 4× into one MP4 file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import av
import pytest
import pytest_asyncio

from farmwatch.simulator import read_recorded_time
from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.live_helpers import LiveRig, live_rig

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOP = 1.0

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    records = RecordSettings(missing_fraction=0.0)
    async with live_rig(tmp_path_factory.mktemp("downloads"), records=records) as rig:
        yield rig


def local(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def yesterday_at(hour: int) -> datetime:
    day = datetime.now(SHANGHAI) - timedelta(days=1)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


async def wait_final(rig: LiveRig, task: dict, seconds: float) -> tuple[dict, list[float]]:
    """Poll the task until it is final; the progress values seen on the way."""
    seen: list[float] = []
    async with asyncio.timeout(seconds):
        while True:
            status, body = await rig.get(f"/api/downloads/{task['id']}")
            assert status == 200, body
            seen.append(body["progress"])
            if body["state"] in ("completed", "failed", "cancelled"):
                return body, seen
            await asyncio.sleep(0.5)


async def test_a_ten_minute_range_at_4x_becomes_one_mp4_of_that_duration(
    rig: LiveRig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    start = yesterday_at(7)
    end = start + timedelta(minutes=10)
    body = {"start": local(start), "end": local(end), "speed": 4}
    status, task = await rig.post(f"/api/channels/{rig.channel(0)}/downloads", body)
    assert status == 201 and task["state"] in ("pending", "downloading"), task
    began = asyncio.get_running_loop().time()
    final, seen = await wait_final(rig, task, seconds=240)
    took = asyncio.get_running_loop().time() - began
    assert final["state"] == "completed", final
    assert final["progress"] == 1.0 and final["error"] is None
    assert seen == sorted(seen) and 0 < seen[len(seen) // 2] < 1  # rose, never fell
    assert took < 600 / 3  # at 4×: 150 s plus the start, far from real time
    assert final["name"].startswith(f"{start:%H%M%S}-") and final["name"].endswith(".mp4")

    path = tmp_path_factory.mktemp("got") / "download.mp4"
    async with rig.http.get(rig.base + final["file"]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        path.write_bytes(await response.read())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        duration = float((packets[-1].pts - packets[0].pts) * stream.time_base)
        first = read_recorded_time(bytes(packets[0]), length_prefixed=True)
        last = read_recorded_time(bytes(packets[-1]), length_prefixed=True)
        frames = sum(1 for p in packets for _ in p.decode())
    assert abs(duration - 600) <= GOP + 0.1, duration
    assert first is not None and last is not None
    assert start.timestamp() - GOP <= first / 1000 <= start.timestamp() + 0.05
    assert end.timestamp() - GOP - 0.1 <= last / 1000 <= end.timestamp() + 0.05
    assert frames >= 600 * 25 * 0.99  # every frame there, none dropped at 4×


async def test_a_cancelled_download_stops_and_leaves_no_file(rig: LiveRig) -> None:
    start = yesterday_at(9)
    body = {"start": local(start), "end": local(start + timedelta(minutes=30)), "speed": 1}
    status, task = await rig.post(f"/api/channels/{rig.channel(1)}/downloads", body)
    assert status == 201
    async with asyncio.timeout(15):
        while (await rig.get(f"/api/downloads/{task['id']}"))[1]["progress"] == 0:
            await asyncio.sleep(0.2)
    async with rig.http.delete(f"{rig.base}/api/downloads/{task['id']}") as response:
        assert response.status == 200
        assert (await response.json())["state"] == "cancelled"
    status, again = await rig.get(f"/api/downloads/{task['id']}")
    assert again["state"] == "cancelled" and again["file"] is None
    async with rig.http.get(f"{rig.base}/api/downloads/{task['id']}/file") as response:
        assert response.status == 409
    async with asyncio.timeout(5):
        while any(c.playback is not None for c in rig.fleet.devices[0].calls):
            await asyncio.sleep(0.05)  # the device got its BYE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"start": "2024-01-01T08:00:00"}, "end"),
        ({"start": "2024-01-01T08:00:00", "end": "2024-01-01T09:00:00", "speed": 3}, "speed"),
        ({"start": "2024-01-01T08:00:00", "end": "2024-01-03T09:00:00"}, "24 hours"),
        ({"start": "2024-01-01T09:00:00", "end": "2024-01-01T08:00:00"}, "after start"),
        ({"start": "2024-01-01T08:00:00", "end": "2024-01-01T09:00:00", "source": "x"}, "source"),
    ],
)
async def test_bad_downloads_get_a_clear_error(rig: LiveRig, body: dict, message: str) -> None:
    status, answer = await rig.post(f"/api/channels/{rig.channel(0)}/downloads", body)
    assert status == 400 and message in answer["error"]
    status, _ = await rig.get("/api/downloads/nonexistent")
    assert status == 404
