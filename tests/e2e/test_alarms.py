"""Alarms end to end (issue 12 item 3): a real `farmwatch serve`, one simulated camera with
two channels; an alarm the camera raises reaches the API and the console's feed, is
acknowledged, and its reset reaches the camera (`SimulatedDevice.control.alarm_resets`).
A monitor granted one camera sees only that camera's alarms and may not reset them.
Positions the camera reports (2016 and [2022] forms) form its track; one off the earth is
answered but not stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from farmwatch.simulator import SimulatedDevice
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.alarms"
PASSWORD = "Alarm-Monitor-Pass-1"
ZONE = ZoneInfo("Asia/Shanghai")
"""`[registrar] timezone` (the default): device times are read in it."""


@dataclass
class AlarmRig:
    rig: LiveRig
    monitor: Caller
    """A monitor granted channel 0 only."""

    @property
    def device(self) -> SimulatedDevice:
        return self.rig.fleet.devices[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def alarms(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AlarmRig]:
    tmp_path: Path = tmp_path_factory.mktemp("alarms")
    env = {"FARMWATCH_MEDIA_WORKERS": "0", "FARMWATCH_REGISTRAR_CONTROL_TIMEOUT": "2"}
    async with live_rig(tmp_path, channels=2, env=env) as rig:
        browsers = Browsers(rig.base)
        try:
            top = browsers.new("top")
            await top.log_in(ADMIN, ADMIN_PASSWORD)
            status, user = await top.request(
                "POST", "/api/users",
                {"username": MONITOR, "organisation_id": rig.server.organisation_id,
                 "role": "monitor", "password": PASSWORD},
            )  # fmt: skip
            assert status == 201, user
            status, grant = await top.request(
                "POST", f"/api/users/{user['id']}/grants",
                {"kind": "channel", "target": rig.channel(0)},
            )  # fmt: skip
            assert status == 201, grant
            monitor = browsers.new(MONITOR)
            await monitor.log_in(MONITOR, PASSWORD)
            yield AlarmRig(rig, monitor)
        finally:
            await browsers.close()


async def _stored(rig: LiveRig, channel: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(5):
        while True:
            status, page = await rig.get(f"/api/alarms?channel={channel}")
            assert status == 200, page
            if len(page["alarms"]) >= count:
                return list(page["alarms"])
            await asyncio.sleep(0.05)


async def test_an_alarm_is_stored_fed_acknowledged_and_reset_on_the_camera(
    alarms: AlarmRig,
) -> None:
    rig, device = alarms.rig, alarms.device
    channel = rig.channel(0)
    status, feed = await rig.get("/api/alarms/events?wait=0")
    assert status == 200, feed
    cursor = feed["next_id"]
    waiting = asyncio.create_task(rig.get(f"/api/alarms/events?since_id={cursor}&wait=10"))
    await asyncio.sleep(0.2)
    assert await device.send_alarm(0, priority=2, method=5, alarm_type=2) == 200
    sent_at = datetime.now(ZONE)
    status, fed = await waiting
    assert status == 200, fed
    assert [a["channel_id"] for a in fed["alarms"]] == [channel]
    assert fed["next_id"] == fed["alarms"][0]["id"]
    # The device got its Response/Alarm after the 200 (2016 9.4.2), as before.
    async with asyncio.timeout(3):
        while not device.responder.alarm_responses:
            await asyncio.sleep(0.05)

    (alarm,) = await _stored(rig, channel, 1)
    assert alarm["device_id"] == device.device_id
    assert (alarm["priority"], alarm["method"], alarm["type"]) == (2, 5, 2)
    assert alarm["description"] == "移动侦测"
    assert alarm["state"] == "new"
    # The simulated camera writes its local time in its zone (Asia/Shanghai, like a camera
    # set up on a Chinese farm); the platform reads it in its configured zone: the instant.
    device_clock = datetime.fromisoformat(alarm["time"])
    assert device_clock.tzinfo is not None, alarm["time"]
    assert abs((device_clock - sent_at).total_seconds()) < 5, (alarm["time"], sent_at)

    status, acknowledged = await alarms.monitor.request(
        "POST", f"/api/alarms/{alarm['id']}/ack", {"note": "pig pen 3 checked"}
    )
    assert status == 200, acknowledged
    assert acknowledged["state"] == "acknowledged"
    assert acknowledged["acknowledged"]["by"] == MONITOR
    assert acknowledged["acknowledged"]["note"] == "pig pen 3 checked"
    status, refused = await alarms.monitor.request("POST", f"/api/alarms/{alarm['id']}/reset")
    assert status == 403, refused

    status, reset = await rig.post(f"/api/alarms/{alarm['id']}/reset")
    assert status == 200, reset
    assert reset["state"] == "reset"
    assert reset["reset"]["result"] == "OK"
    assert (channel, 5, 2) in device.control.alarm_resets
    # `[supervision] alarm_evidence` is off by default: no clip is cut around an alarm.
    assert (reset["clip_id"], reset["clip_state"]) == (None, None), reset
    status, no_clip = await rig.get(f"/api/alarms/{alarm['id']}/clip/verify")
    assert status == 404 and "no evidence clip" in no_clip["error"], no_clip
    status, page = await rig.get(f"/api/alarms?state=reset&device={device.device_id}")
    assert [a["id"] for a in page["alarms"]] == [alarm["id"]]
    status, page = await rig.get(f"/api/alarms?state=new&channel={channel}")
    assert page["alarms"] == []


async def test_a_monitor_sees_only_the_alarms_of_his_cameras(alarms: AlarmRig) -> None:
    rig, device = alarms.rig, alarms.device
    other = rig.channel(1)
    assert await device.send_alarm(1, priority=1, method=2, alarm_type=1) == 200
    (alarm,) = await _stored(rig, other, 1)
    status, page = await alarms.monitor.request("GET", "/api/alarms")
    assert status == 200, page
    assert other not in {a["channel_id"] for a in page["alarms"]}
    status, refused = await alarms.monitor.request("POST", f"/api/alarms/{alarm['id']}/ack")
    assert status == 403, refused
    status, feed = await alarms.monitor.request(
        "GET", f"/api/alarms/events?since_id={alarm['id'] - 1}&wait=0"
    )
    assert status == 200 and feed["alarms"] == [], feed
    status, missing = await rig.post("/api/alarms/99999999/ack", {})
    assert status == 404, missing

    # His feed is not answered by an alarm he may not see, only by one he may.
    status, feed = await alarms.monitor.request("GET", "/api/alarms/events?wait=0")
    assert status == 200, feed
    waiting = asyncio.create_task(
        alarms.monitor.request("GET", f"/api/alarms/events?since_id={feed['next_id']}&wait=10")
    )
    await asyncio.sleep(0.2)
    assert await device.send_alarm(1, priority=3) == 200
    await _stored(rig, other, 2)
    await asyncio.sleep(0.2)
    assert not waiting.done()
    assert await device.send_alarm(0, priority=4) == 200
    async with asyncio.timeout(5):
        status, fed = await waiting
    assert status == 200, fed
    assert [(a["channel_id"], a["priority"]) for a in fed["alarms"]] == [(rig.channel(0), 4)]


async def test_positions_form_a_track_and_bad_ones_are_refused(alarms: AlarmRig) -> None:
    rig, device = alarms.rig, alarms.device
    sent = [
        (113.2501, 23.1201, "2024-03-15T10:30:05", False),
        (113.2502, 23.1202, "2024-03-15T10:30:10", True),
        (113.2503, 23.1203, "2024-03-15T10:30:15", False),
    ]
    for longitude, latitude, at, is_2022 in reversed(sent):
        status = await device.send_position(
            longitude, latitude, speed=12.5, direction=90, altitude=8, at=at, is_2022=is_2022
        )
        assert status == 200
    assert await device.send_position(200.0, 23.0, at="2024-03-15T10:30:20") == 200
    assert await device.send_position(113.0, -91.0, at="2024-03-15T10:30:21") == 200
    path = f"/api/devices/{device.device_id}/track"
    async with asyncio.timeout(5):
        while True:
            status, answer = await rig.get(path)
            assert status == 200, answer
            if len(answer["points"]) >= len(sent):
                break
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the refused ones would have been written with the others
    status, answer = await rig.get(path)
    points = answer["points"]
    assert [(p["longitude"], p["latitude"]) for p in points] == [(a, b) for a, b, _, _ in sent]
    expected = [datetime.fromisoformat(at).replace(tzinfo=ZONE) for _, _, at, _ in sent]
    assert [datetime.fromisoformat(p["time"]) for p in points] == expected
    assert {(p["speed"], p["direction"], p["altitude"]) for p in points} == {(12.5, 90, 8)}
    status, answer = await rig.get(f"{path}?since=2024-03-15T10:30:06&until=2024-03-15T10:30:15")
    assert status == 200, answer
    assert [p["longitude"] for p in answer["points"]] == [113.2502]
    # The monitor has a camera of this device: he sees its track.
    status, answer = await alarms.monitor.request("GET", path)
    assert status == 200 and len(answer["points"]) == len(sent), answer
