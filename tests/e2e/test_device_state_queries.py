"""[2022] What a camera keeps, end to end (issue 12 "2022 specifics"; gb28181.md §4.14): a
real `farmwatch serve`, a 2022 camera (X-GB-Ver 3.0) with two channels, a 2016 device (no
X-GB-Ver) and two more 2022 devices made to misbehave (one takes the queries and never
answers them, one goes silent), everything through the HTTP API.

The guard position and the cruise tracks are set through the PTZ API (HomePosition and the
PTZCmd cruise commands) and read back through HomePositionQuery, CruiseTrackListQuery and
CruiseTrackQuery; the storage cards are what the simulated device is given. What is checked
is what the API answered against what the simulated camera remembers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from farmwatch.simulator import SimulatedDevice, running_simulator
from farmwatch.simulator.fleet import SimulatorFleet
from farmwatch.sipserver.gb.device_state import SdCard, SdCardState
from tests.e2e.live_helpers import PLATFORM, LiveRig, live_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

CONTROL_TIMEOUT = 1.5
QUERIES = ("home-position", "cruise-tracks", "cruise-tracks/1")


@dataclass
class Rig:
    live: LiveRig
    old: SimulatorFleet
    """One 2016 device."""
    odd: SimulatorFleet
    """Two 2022 devices: [0] takes the 2022 queries and never answers, [1] goes silent."""

    @property
    def camera(self) -> SimulatedDevice:
        return self.live.fleet.devices[0]

    async def channel_of(self, device: SimulatedDevice) -> str:
        """The device's first channel, once the platform has its catalog."""
        async with asyncio.timeout(20):
            while True:
                status, body = await self.live.get(f"/api/devices/{device.device_id}/channels")
                if status == 200 and body["channels"]:
                    return device.channels.items[0].device_id
                await self.live.sleep_briefly()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    tmp_path: Path = tmp_path_factory.mktemp("device_state_queries")
    env = {
        "FARMWATCH_MEDIA_WORKERS": "0",
        "FARMWATCH_REGISTRAR_CONTROL_TIMEOUT": str(CONTROL_TIMEOUT),
    }
    async with live_rig(tmp_path, channels=2, env=env) as live:
        server = ("127.0.0.1", live.server.sip_port)
        # Serials 10-12, one channel each: channel IDs apart from the camera's (serial 1).
        async with (
            running_simulator(server=server, server_id=PLATFORM, devices=1, channels=1,
                              device_id_base=10, gb_version=None) as old,
            running_simulator(server=server, server_id=PLATFORM, devices=2, channels=1,
                              device_id_base=11) as odd,
        ):  # fmt: skip
            yield Rig(live, old, odd)


async def _ptz(live: LiveRig, channel: str, body: dict[str, Any]) -> Any:
    status, answer = await live.post(f"/api/channels/{channel}/ptz", body)
    assert status in (200, 202), (body, answer)
    return answer


async def test_the_guard_position_set_is_the_one_reported(rig: Rig) -> None:
    live, channel = rig.live, rig.live.channel(0)
    status, none = await live.get(f"/api/channels/{channel}/home-position")
    assert status == 200, none
    assert none == {"channel_id": channel, "enabled": None, "reset_time": None,
                    "preset_index": None}  # fmt: skip
    await _ptz(live, channel, {"action": "home", "enabled": True, "reset_time": 90, "preset": 7})
    status, home = await live.get(f"/api/channels/{channel}/home-position")
    assert status == 200, home
    assert home == {"channel_id": channel, "enabled": True, "reset_time": 90, "preset_index": 7}
    remembered = rig.camera.control.head(channel).home
    assert remembered is not None and remembered.preset_index == home["preset_index"]
    await _ptz(live, channel, {"action": "home", "enabled": False})
    status, home = await live.get(f"/api/channels/{channel}/home-position")
    assert (status, home["enabled"]) == (200, False), home


async def test_cruise_tracks_set_by_ptz_commands_are_listed_with_their_points(rig: Rig) -> None:
    live, channel = rig.live, rig.live.channel(1)
    for body in (
        {"action": "cruise", "op": "add", "group": 1, "preset": 3},
        {"action": "cruise", "op": "add", "group": 1, "preset": 7},
        {"action": "cruise", "op": "speed", "group": 1, "speed": 100},
        {"action": "cruise", "op": "dwell", "group": 1, "seconds": 20},
        {"action": "cruise", "op": "add", "group": 4, "preset": 5},
    ):
        await _ptz(live, channel, body)
    status, listed = await live.get(f"/api/channels/{channel}/cruise-tracks")
    assert status == 200, listed
    assert listed == {
        "channel_id": channel,
        "sum_num": 2,
        "tracks": [{"number": 1, "name": "巡航轨迹1"}, {"number": 4, "name": "巡航轨迹4"}],
    }
    status, track = await live.get(f"/api/channels/{channel}/cruise-tracks/1")
    assert status == 200, track
    assert track == {
        "channel_id": channel,
        "number": 1,
        "name": "巡航轨迹1",
        "points": [{"preset_index": 3, "stay_time": 20, "speed": 100},
                   {"preset_index": 7, "stay_time": 20, "speed": 100}],
    }  # fmt: skip
    assert rig.camera.control.head(channel).cruises[1].presets == [3, 7]
    await _ptz(live, channel, {"action": "cruise", "op": "delete", "group": 1, "preset": 3})
    await _ptz(live, channel, {"action": "cruise", "op": "clear", "group": 4})
    status, listed = await live.get(f"/api/channels/{channel}/cruise-tracks")
    assert [track["number"] for track in listed["tracks"]] == [1]
    status, track = await live.get(f"/api/channels/{channel}/cruise-tracks/1")
    assert [point["preset_index"] for point in track["points"]] == [7]
    status, empty = await live.get(f"/api/channels/{channel}/cruise-tracks/4")
    assert (status, empty["points"]) == (200, [])  # a track the camera does not hold
    for bad in ("256", "-1", "x", "1.5", "0001"):
        status, answer = await live.get(f"/api/channels/{channel}/cruise-tracks/{bad}")
        assert status in (400, 404), (bad, answer)
        if status == 400:
            assert answer["error"] == "number: expected an integer 0..255"


async def test_the_storage_cards_are_reported(rig: Rig) -> None:
    live, device = rig.live, rig.camera
    status, cards = await live.get(f"/api/devices/{device.device_id}/sd-cards")
    assert status == 200, cards
    assert cards == {
        "device_id": device.device_id,
        "sum_num": 1,
        "cards": [{"id": 1, "name": "SD卡1", "status": "ok", "format_progress": None,
                   "capacity_mb": 59640, "free_mb": 31880}],
    }  # fmt: skip
    device.control.sd_cards = [
        SdCard(2, "SD卡2", SdCardState.FORMATTING, format_progress=40, capacity_mb=29820,
               free_mb=0),
        SdCard(1, "SD卡1", SdCardState.ERROR, capacity_mb=59640, free_mb=None),
    ]  # fmt: skip
    try:
        status, cards = await live.get(f"/api/devices/{device.device_id}/sd-cards")
    finally:
        device.control.sd_cards = [SdCard(1, "SD卡1", SdCardState.OK, capacity_mb=59640,
                                          free_mb=31880)]  # fmt: skip
    assert status == 200, cards
    assert [(c["id"], c["status"], c["format_progress"]) for c in cards["cards"]] == [
        (1, "error", None), (2, "formatting", 40)
    ]  # fmt: skip
    status, missing = await live.get("/api/devices/34020000001320009999/sd-cards")
    assert status == 404, missing


async def test_an_error_answer_is_a_502_with_the_devices_reason(rig: Rig) -> None:
    live, device = rig.live, rig.camera
    device.control.refuses_with = "存储卡未插入"
    try:
        status, refused = await live.get(f"/api/devices/{device.device_id}/sd-cards")
        assert status == 502, refused
        assert refused["error"] == (
            f"device {device.device_id} answered SDCardStatus for {device.device_id} "
            "with ERROR: 存储卡未插入"
        )
        status, refused = await live.get(f"/api/channels/{live.channel(0)}/cruise-tracks")
        assert status == 502 and "CruiseTrackListQuery" in refused["error"], refused
    finally:
        device.control.refuses_with = None


async def test_a_2016_device_is_answered_501_without_being_asked(rig: Rig) -> None:
    device = rig.old.devices[0]
    channel = await rig.channel_of(device)
    loop = asyncio.get_running_loop()
    paths = [f"/api/channels/{channel}/{query}" for query in QUERIES]
    for path in (*paths, f"/api/devices/{device.device_id}/sd-cards"):
        started = loop.time()
        status, answer = await rig.live.get(path)
        # The simulator would answer these queries: a 501 at once means it was not asked.
        assert status == 501, (path, answer)
        assert "GB/T 28181-2016" in answer["error"] and "GB/T 28181-2022" in answer["error"]
        assert loop.time() - started < 0.5


async def test_a_device_that_takes_the_queries_and_never_answers_is_a_501(rig: Rig) -> None:
    device = rig.odd.devices[0]
    channel = await rig.channel_of(device)
    device.control.answers_state_queries = False  # a camera that knows none of them
    loop = asyncio.get_running_loop()
    paths = [f"/api/channels/{channel}/{query}" for query in QUERIES]
    for path, cmd_type in zip(
        (*paths, f"/api/devices/{device.device_id}/sd-cards"),
        ("HomePositionQuery", "CruiseTrackListQuery", "CruiseTrackQuery", "SDCardStatus"),
        strict=True,
    ):
        started = loop.time()
        status, answer = await rig.live.get(path)
        assert status == 501, (path, answer)
        assert f"took {cmd_type} for" in answer["error"], answer
        assert f"did not answer it within {CONTROL_TIMEOUT:g} s" in answer["error"], answer
        assert CONTROL_TIMEOUT - 0.1 < loop.time() - started < CONTROL_TIMEOUT + 1.5
        # Remembered: asked again, it is not waited for.
        started = loop.time()
        status, again = await rig.live.get(path)
        assert status == 501 and "did not answer the last time" in again["error"], again
        assert loop.time() - started < 0.5


async def test_a_silent_device_times_out_clearly(rig: Rig) -> None:
    device = rig.odd.devices[1]
    channel = await rig.channel_of(device)
    loop = asyncio.get_running_loop()
    device.go_silent()  # takes no MESSAGE at all (not even a 200)
    try:
        for path, cmd_type in (
            (f"/api/channels/{channel}/home-position", "HomePositionQuery"),
            (f"/api/devices/{device.device_id}/sd-cards", "SDCardStatus"),
        ):
            started = loop.time()
            status, answer = await rig.live.get(path)
            assert status == 504, (path, answer)
            target = channel if cmd_type == "HomePositionQuery" else device.device_id
            assert answer["error"] == (
                f"device {device.device_id} did not answer {cmd_type} for {target} "
                f"within {CONTROL_TIMEOUT:g} s"
            )
            assert CONTROL_TIMEOUT - 0.1 < loop.time() - started < CONTROL_TIMEOUT + 1.5
    finally:
        device.come_back()
    # Not remembered as unsupported: once it answers again, it is asked again.
    async with asyncio.timeout(10):
        while True:
            status, home = await rig.live.get(f"/api/channels/{channel}/home-position")
            if status == 200:
                break
            assert status == 504, home
    assert home["enabled"] is None
