"""Alarm and mobile-position subscriptions (gb28181.md §4.10-4.11, §5; issue 12 item 3),
end to end: a real `farmwatch serve` with `[registrar] subscribe_alarms` and
`subscribe_positions` on, one simulated camera. The platform subscribes when the camera
registers; the camera's positions come every `position_interval` and form its track; an
alarm it raises comes as a NOTIFY in the alarm subscription and is listed; both
subscriptions are refreshed in their dialogs before they expire."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio

from farmwatch.simulator import SimulatedDevice
from farmwatch.sipserver.gb.manscdp import CmdType
from tests.e2e.live_helpers import LiveRig, live_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXPIRES = 30
"""Asked of the camera: the platform refreshes at 80 %, 24 s in."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    tmp_path: Path = tmp_path_factory.mktemp("event-subscriptions")
    env = {
        "FARMWATCH_MEDIA_WORKERS": "0",
        "FARMWATCH_REGISTRAR_SUBSCRIBE_ALARMS": "true",
        "FARMWATCH_REGISTRAR_SUBSCRIBE_POSITIONS": "true",
        "FARMWATCH_REGISTRAR_POSITION_INTERVAL": "1",
        "FARMWATCH_REGISTRAR_EVENT_SUBSCRIPTION_EXPIRES": str(EXPIRES),
    }
    async with live_rig(tmp_path, channels=2, env=env) as running:
        yield running


def _device(rig: LiveRig) -> SimulatedDevice:
    return rig.fleet.devices[0]


async def _subscribed(device: SimulatedDevice) -> None:
    async with asyncio.timeout(20):
        await device.wait_for(
            lambda d: (
                bool(d.notifier.live(CmdType.ALARM))
                and bool(d.notifier.live(CmdType.MOBILE_POSITION))
            )
        )


async def test_the_platform_subscribes_when_the_camera_registers(rig: LiveRig) -> None:
    device = _device(rig)
    await _subscribed(device)
    (alarms,) = device.notifier.live(CmdType.ALARM)
    (positions,) = device.notifier.live(CmdType.MOBILE_POSITION)
    assert positions.interval == 1
    assert alarms.event == positions.event == "presence"
    assert alarms.key.call_id != positions.key.call_id
    assert len(device.notifier.live(CmdType.CATALOG)) == 1  # the catalog one is kept beside


async def test_positions_come_at_the_interval_and_form_a_track(rig: LiveRig) -> None:
    device = _device(rig)
    await _subscribed(device)
    async with asyncio.timeout(15):
        await device.wait_for(lambda d: sum(1 for _, n in d.positions_sent if n) >= 5)
    sent = [position for position, delivered in device.positions_sent if delivered]
    path = f"/api/devices/{device.device_id}/track"
    async with asyncio.timeout(5):
        while True:
            status, answer = await rig.get(path)
            assert status == 200, answer
            if len(answer["points"]) >= len(sent):
                break
            await rig.sleep_briefly()
    points = answer["points"]
    stored = [(p["longitude"], p["latitude"]) for p in points[: len(sent)]]
    assert stored == [(p.longitude, p.latitude) for p in sent]
    longitudes = [p for p, _ in stored]
    assert longitudes == sorted(longitudes) and longitudes[0] < longitudes[-1]  # going east
    assert {p["speed"] for p in points} == {device.track.speed}
    received = [datetime.fromisoformat(p["received_at"]) for p in points[: len(sent)]]
    gaps = [(b - a).total_seconds() for a, b in zip(received, received[1:], strict=False)]
    assert 0.6 < statistics.median(gaps) < 1.6, gaps


async def test_an_alarm_raised_comes_by_notify_and_is_listed(rig: LiveRig) -> None:
    device = _device(rig)
    await _subscribed(device)
    channel = rig.channel(1)
    responses = len(device.responder.alarm_responses)
    assert await device.send_alarm(1, priority=3, method=5, alarm_type=6) == 200
    async with asyncio.timeout(5):
        while True:
            status, page = await rig.get(f"/api/alarms?channel={channel}")
            assert status == 200, page
            if page["alarms"]:
                break
            await rig.sleep_briefly()
    (alarm,) = page["alarms"]
    assert (alarm["priority"], alarm["method"], alarm["type"]) == (3, 5, 6)
    assert alarm["device_id"] == device.device_id
    # In a subscription the 200 to the NOTIFY is the answer: no Response/Alarm MESSAGE.
    assert len(device.responder.alarm_responses) == responses


async def test_both_subscriptions_are_refreshed_in_their_dialogs(rig: LiveRig) -> None:
    device = _device(rig)
    await _subscribed(device)
    (alarms,) = device.notifier.live(CmdType.ALARM)
    (positions,) = device.notifier.live(CmdType.MOBILE_POSITION)
    refreshed = device.notifier.refreshed_by_kind
    async with asyncio.timeout(EXPIRES + 10):
        await device.wait_for(
            lambda d: (
                refreshed.get(CmdType.ALARM, 0) >= 1
                and refreshed.get(CmdType.MOBILE_POSITION, 0) >= 1
            )
        )
    (alarms_now,) = device.notifier.live(CmdType.ALARM)
    (positions_now,) = device.notifier.live(CmdType.MOBILE_POSITION)
    assert alarms_now.key == alarms.key and positions_now.key == positions.key
    assert alarms_now.expires_at > alarms.expires_at
    assert device.notifier.created == 3  # catalog, alarm, position: never a second dialog
    sent = len(device.positions_sent)
    async with asyncio.timeout(5):
        await device.wait_for(lambda d: len(d.positions_sent) > sent)
