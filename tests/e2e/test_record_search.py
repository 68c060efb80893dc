"""Record search end to end: the platform asks a simulated device's RecordInfo in slices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.live_helpers import LiveRig, live_rig

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 10-minute files: a 6 h slice holds 36 records, four MESSAGEs of 10.
RECORDS = RecordSettings(file_minutes=10, items_per_message=10, missing_fraction=0.1)


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    env = {"FARMWATCH_REGISTRAR_RECORD_INFO_TIMEOUT": "1.5"}
    async with live_rig(tmp_path_factory.mktemp("search"), env=env, records=RECORDS) as rig:
        yield rig


def yesterday() -> tuple[datetime, datetime]:
    day = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return day, day.replace(hour=23, minute=59, second=59)


def local(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def expected_records(rig: LiveRig, channel: str, start: datetime, end: datetime) -> list[tuple]:
    index = rig.fleet.devices[0].record_index(channel)
    files = index.files_between(int(start.timestamp()), int(end.timestamp()))
    return [
        (
            local(max(datetime.fromtimestamp(f.start, SHANGHAI), start)),
            local(min(datetime.fromtimestamp(f.end, SHANGHAI), end)),
        )
        for f in files
    ]


async def search(rig: LiveRig, channel: str, start: datetime, end: datetime) -> dict:
    query = f"start={local(start)}&end={local(end)}&source=device"
    async with rig.http.get(f"{rig.base}/api/channels/{channel}/records?{query}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_day_comes_back_exactly_as_the_device_recorded_it(rig: LiveRig) -> None:
    channel = rig.channel(0)
    start, end = yesterday()
    body = await search(rig, channel, start, end)
    assert body["complete"] is True and body["finished"] is True
    assert [s["state"] for s in body["slices"]] == ["complete"] * 4
    assert [(s["start"], s["end"]) for s in body["slices"]][1] == (
        local(start.replace(hour=6)),
        local(start.replace(hour=11, minute=59, second=59)),
    )
    got = [(r["start"], r["end"]) for r in body["records"]]
    assert got == expected_records(rig, channel, start, end)
    assert 100 < len(got) < 144  # about a tenth of the 10-minute files is missing
    first = body["records"][0]
    assert (first["type"], first["stream_number"], first["record_location"]) == ("time", 0, "1")
    assert first["file_size"] > 0 and body["timezone"] == "Asia/Shanghai"


async def test_a_lost_message_makes_its_slice_incomplete_and_keeps_the_rest(rig: LiveRig) -> None:
    channel = rig.channel(1)
    start, end = yesterday()
    rig.fleet.devices[0].drop_record_message(2)  # the first slice's third message
    body = await search(rig, channel, start, end)
    states = [s["state"] for s in body["slices"]]
    assert states == ["incomplete", "complete", "complete", "complete"]
    assert body["complete"] is False
    first = body["slices"][0]
    assert first["expected"] is not None and first["received"] == first["expected"] - 10
    assert "stopped after" in first["error"]
    expected = expected_records(rig, channel, start, end)
    got = [(r["start"], r["end"]) for r in body["records"]]
    assert set(got) < set(expected) and len(expected) - len(got) == 10
    later = [r for r in expected if r[0] >= local(start.replace(hour=6))]
    assert [r for r in got if r[0] >= local(start.replace(hour=6))] == later


async def test_a_long_search_shows_its_progress_while_it_runs(rig: LiveRig) -> None:
    channel = rig.channel(0)
    end = datetime.now(SHANGHAI).replace(microsecond=0)
    start = end - timedelta(days=3)
    query = f"start={local(start)}&end={local(end)}&wait=false"
    async with rig.http.get(f"{rig.base}/api/channels/{channel}/records?{query}") as response:
        assert response.status == 202
        started = await response.json()
    assert len(started["slices"]) == 13 and not started["finished"]
    seen_states: set[str] = set()
    for _ in range(400):
        async with rig.http.get(f"{rig.base}/api/record-searches/{started['search']}") as r:
            body = await r.json()
        seen_states.update(s["state"] for s in body["slices"])
        if body["finished"]:
            break
        await rig.sleep_briefly()
    assert body["finished"] and body["complete"]
    assert {"pending", "complete"} <= seen_states  # it was seen filling in
    assert [(r["start"], r["end"]) for r in body["records"]] == expected_records(
        rig, channel, start, end
    )


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("start=2024-01-01T00:00:00", 400, "end: required"),
        ("start=yesterday&end=2024-01-01T00:00:00", 400, "start: expected an ISO time"),
        ("start=2024-01-02T00:00:00&end=2024-01-01T00:00:00", 400, "after start"),
        ("start=2024-01-01T00:00:00&end=2024-03-01T00:00:00", 400, "at most 31 days"),
        ("start=2024-01-01T00:00:00&end=2024-01-01T01:00:00&source=cloud", 400, "source"),
    ],
)
async def test_bad_searches_get_a_clear_error(
    rig: LiveRig, query: str, status: int, message: str
) -> None:
    async with rig.http.get(f"{rig.base}/api/channels/{rig.channel(0)}/records?{query}") as r:
        assert r.status == status
        assert message in (await r.json())["error"]
    hour = "start=2024-01-01T00:00:00&end=2024-01-01T01:00:00"
    async with rig.http.get(f"{rig.base}/api/channels/{'9' * 20}/records?{hour}") as r:
        assert r.status == 404
