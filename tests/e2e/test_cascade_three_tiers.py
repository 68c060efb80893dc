"""The three tiers: a national inspector watches and plays back a farm camera through two hops.

national (127.0.0.11) ← bureau (.12) ← branch (.13) ← simulated farm (.14), each tier a
`farmwatch serve` registered to the one above. Everything the national tier does goes down
two cascade hops and the media comes back up two relays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import pytest
import pytest_asyncio

from farmwatch.simulator import read_recorded_time
from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.cascade_helpers import RecordedTimeReader, ThreeTiers, three_tiers
from tests.e2e.live_helpers import SMALL_PICTURE, decode_fmp4
from tests.integration.cascade.tiers import BRANCH, BUREAU

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOP = 1.0
# 5-minute files, none missing: 300 records in 25 hours.
RECORDS = RecordSettings(file_minutes=5, items_per_message=10, missing_fraction=0.0)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.tier_addresses,
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tiers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ThreeTiers]:
    env = {"FARMWATCH_RECORDINGS_SEARCH_SLICE_HOURS": "24"}
    media = replace(SMALL_PICTURE, sub_width=160, sub_height=90, sub_bitrate=100_000)
    async with three_tiers(
        tmp_path_factory.mktemp("three-tiers"), records=RECORDS, env=env, media=media
    ) as tiers:
        yield tiers


def local(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def yesterday_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(SHANGHAI) - timedelta(days=1)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)


def _nodes(nodes: list[dict[str, Any]]) -> dict[str, tuple[str | None, bool]]:
    """Every node of a channel tree: ID → (the ID it hangs under, online)."""
    found: dict[str, tuple[str | None, bool]] = {}
    stack: list[tuple[dict[str, Any], str | None]] = [(node, None) for node in nodes]
    while stack:
        node, parent = stack.pop()
        found[node["channel_id"]] = (parent, node["online"])
        stack.extend((child, node["channel_id"]) for child in node["children"])
    return found


async def test_the_farm_keeps_its_tree_at_the_national_tier(tiers: ThreeTiers) -> None:
    status, body = await tiers.request(
        tiers.national, "GET", f"/api/devices/{BUREAU.platform_id}/channels"
    )
    assert status == 200, body
    nodes = _nodes(body["channels"])
    device = tiers.farm.devices[0]
    assert nodes[BRANCH.platform_id][0] is None  # the branch, under the bureau
    assert nodes[device.device_id][0] == BRANCH.platform_id
    for item in device.channels.items:
        assert nodes[item.device_id] == (device.device_id, True)


async def test_live_at_the_national_tier_through_two_hops(tiers: ThreeTiers) -> None:
    status, links = await tiers.post(tiers.national, f"/api/channels/{tiers.channel()}/live", None)
    assert status == 201, links
    data = await tiers.read_fmp4(tiers.national, links["fmp4"], seconds=3.5)
    sizes = decode_fmp4(data)
    assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
    status, _ = await tiers.request(tiers.national, "DELETE", f"/api/live/{links['session']}")
    assert status == 204


async def test_a_sub_stream_asked_at_the_national_tier_comes_from_the_camera(
    tiers: ThreeTiers,
) -> None:
    """Each hop passes the upper's a=streamnumber:1 down: the camera sends its sub stream."""
    channel = tiers.channel(1)
    status, links = await tiers.post(
        tiers.national, f"/api/channels/{channel}/live", {"stream": "sub"}
    )
    assert status == 201, links
    assert (links["stream"], links["width"], links["height"]) == (1, 160, 90)
    calls = [c for c in tiers.farm.devices[0].calls if c.channel_id == channel]
    assert [(c.stream, c.stream_attribute) for c in calls] == [(1, "streamnumber:1")]
    sizes = decode_fmp4(await tiers.read_fmp4(tiers.national, links["fmp4"], seconds=1.0))
    assert len(sizes) >= 10 and set(sizes) == {(160, 90)}
    status, _ = await tiers.request(tiers.national, "DELETE", f"/api/live/{links['session']}")
    assert status == 204


async def test_record_search_of_300_records_through_two_hops(tiers: ThreeTiers) -> None:
    start = yesterday_at(0) - timedelta(hours=1)
    end = start + timedelta(hours=25) - timedelta(seconds=1)
    channel = tiers.channel()
    query = f"start={local(start)}&end={local(end)}&source=device"
    status, found = await tiers.request(
        tiers.national, "GET", f"/api/channels/{channel}/records?{query}"
    )
    assert status == 200, found
    files = (
        tiers.farm.devices[0]
        .record_index(channel)
        .files_between(int(start.timestamp()), int(end.timestamp()))
    )
    assert len(files) == 300
    assert found["complete"] is True, found["slices"]
    got = [(r["start"], r["end"]) for r in found["records"]]
    assert len(got) == 300 == len(set(got))


async def test_playback_at_the_national_tier_seeks_and_runs_at_4x(tiers: ThreeTiers) -> None:
    start = yesterday_at(14)
    body = {"start": local(start), "end": local(start + timedelta(hours=1))}
    status, session = await tiers.post(
        tiers.national, f"/api/channels/{tiers.channel()}/playback", body
    )
    assert status == 201, session
    reader = RecordedTimeReader.start(tiers, tiers.national, session["fmp4"])
    try:
        await asyncio.sleep(2.5)
        first = reader.frames()
        assert len(first) >= 25
        assert start.timestamp() - GOP - 0.05 <= first[0].recorded <= start.timestamp() + 0.05

        status, _ = await tiers.post(
            tiers.national, session["control"], {"action": "seek", "position": 1800}
        )
        assert status == 200
        await asyncio.sleep(2.5)
        target = start.timestamp() + 1800
        after = [f.recorded for f in reader.frames() if f.recorded >= target - GOP - 0.05]
        assert after and after[0] <= target + 0.05

        changed_at = asyncio.get_running_loop().time()
        status, _ = await tiers.post(
            tiers.national, session["control"], {"action": "speed", "scale": 4}
        )
        assert status == 200
        await asyncio.sleep(3.0)
        fast = [f for f in reader.frames() if f.arrived > changed_at + 0.7]
        assert len(fast) > 40
        wall = fast[-1].arrived - fast[0].arrived
        assert (fast[-1].recorded - fast[0].recorded) / wall >= 3.5
    finally:
        await reader.stop()
    status, _ = await tiers.request(tiers.national, "DELETE", session["status"])
    assert status == 204
    async with asyncio.timeout(10):  # the BYEs went down both hops to the camera
        while any(c.playback is not None for c in tiers.farm.devices[0].calls):
            await asyncio.sleep(0.1)


async def test_a_download_through_two_hops_completes(tiers: ThreeTiers, tmp_path: Path) -> None:
    start = yesterday_at(7)
    end = start + timedelta(seconds=40)
    body = {"start": local(start), "end": local(end), "speed": 4}
    status, task = await tiers.post(
        tiers.national, f"/api/channels/{tiers.channel()}/downloads", body
    )
    assert status == 201, task
    async with asyncio.timeout(60):
        while True:
            _, task = await tiers.request(tiers.national, "GET", f"/api/downloads/{task['id']}")
            if task["state"] in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(0.5)
    assert task["state"] == "completed", task
    url = f"http://127.0.0.1:{tiers.national.web_port}{task['file']}"
    async with tiers.http.get(url, headers=tiers.national.auth_headers) as response:
        assert response.status == 200
        (tmp_path / "d.mp4").write_bytes(await response.read())
    with av.open(str(tmp_path / "d.mp4")) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        first = read_recorded_time(bytes(packets[0]), length_prefixed=True)
        last = read_recorded_time(bytes(packets[-1]), length_prefixed=True)
    assert first is not None and last is not None
    assert start.timestamp() - GOP <= first / 1000 <= start.timestamp() + 0.05
    assert end.timestamp() - GOP - 0.2 <= last / 1000 <= end.timestamp() + 0.05


async def test_the_end_of_the_range_comes_up_two_hops_as_mediastatus_121(
    tiers: ThreeTiers,
) -> None:
    start = yesterday_at(9)
    body = {"start": local(start), "end": local(start + timedelta(seconds=3))}
    status, session = await tiers.post(
        tiers.national, f"/api/channels/{tiers.channel()}/playback", body
    )
    assert status == 201, session
    # Watched to its end, as an inspector does: a session nobody reads would close on its
    # own after [media] idle_close, racing the 121 on a loaded machine.
    reader = RecordedTimeReader.start(tiers, tiers.national, session["fmp4"])
    try:
        async with asyncio.timeout(20):
            while True:
                _, state = await tiers.request(tiers.national, "GET", session["status"])
                if state["state"] == "ended":
                    break
                await asyncio.sleep(0.1)
    finally:
        await reader.stop()
    assert "MediaStatus 121" in state["end_reason"]
    assert reader.frames(), "no recorded frame reached the national tier"


async def test_ptz_from_the_national_tier_reaches_the_camera(tiers: ThreeTiers) -> None:
    channel = tiers.channel(1)
    status, sent = await tiers.post(
        tiers.national,
        f"/api/channels/{channel}/ptz",
        {"action": "move", "tilt": "up", "speed": 128},
    )
    assert status == 202, sent
    responder = tiers.farm.devices[0].responder
    async with asyncio.timeout(5):
        while (channel, "A50F01080080003D") not in responder.ptz_commands:
            await asyncio.sleep(0.05)


async def test_a_camera_alarm_reaches_the_national_tier(tiers: ThreeTiers) -> None:
    device = tiers.farm.devices[0]
    channel = tiers.channel(0)
    assert await device.send_alarm(channel, priority=1, method=5, alarm_type=2) == 200
    async with asyncio.timeout(5):  # the branch answered it as the standard asks
        while not any(source == channel for source, _ in device.responder.alarm_responses):
            await asyncio.sleep(0.05)
    for server in (tiers.branch, tiers.bureau):  # forwarded at each hop, and answered 200
        async with asyncio.timeout(5):
            while True:
                _, body = await tiers.request(server, "GET", "/api/uppers")
                if body["uppers"][0]["alarms_forwarded"] >= 1:
                    break
                await asyncio.sleep(0.05)
    async with asyncio.timeout(5):
        while f"source {channel}, priority 1, method 5, type 2" not in tiers.national.log_text():
            await asyncio.sleep(0.05)


async def test_a_camera_leaving_the_farm_is_off_at_the_national_tier(tiers: ThreeTiers) -> None:
    """Last: it stops the farm's camera."""
    device = tiers.farm.devices[0]
    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    await device.stop()
    gone = {device.device_id, *(item.device_id for item in device.channels.items)}
    path = f"/api/devices/{BUREAU.platform_id}/channels"
    async with asyncio.timeout(10):
        while True:
            _, body = await tiers.request(tiers.national, "GET", path)
            nodes = _nodes(body["channels"])
            if not any(nodes[i][1] for i in gone):
                break
            await asyncio.sleep(0.1)
    assert loop.time() - stopped_at < 2.0  # one keepalive period of the links


@pytest.mark.parametrize("transport", ["tcp-passive", "tcp-active"])
@pytest.mark.asyncio(loop_scope="function")
async def test_live_through_two_hops_over_tcp(tmp_path: Path, transport: str) -> None:
    """Both hops over TCP: the national tier and the bureau each ask their lower for TCP
    media, the lower connecting (tcp-passive) or listening (tcp-active)."""
    async with three_tiers(tmp_path, transport=transport) as other:
        status, links = await other.post(
            other.national, f"/api/channels/{other.channel()}/live", None
        )
        assert status == 201, links
        data = await other.read_fmp4(other.national, links["fmp4"], seconds=3.5)
        sizes = decode_fmp4(data)
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
