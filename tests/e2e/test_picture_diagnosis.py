"""Video quality diagnosis end to end (issue 11 item 5): a real `farmwatch serve` sampling
every 2 s, one media worker, and a simulated NVR whose four cameras show a normal picture, a
black one, a frozen one and a blurred one. The API names each fault and none for the normal
camera; the normal camera switched to black is found failing at the next samples and passes
again once switched back; normal pictures sampled over and over raise no false alarm.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio

from farmwatch.simulator import PictureMode, SimulatedDevice
from tests.e2e.live_helpers import LiveRig, live_rig

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

INTERVAL = 2
FALSE_ALARM_SECONDS = float(os.environ.get("FARMWATCH_TEST_FALSE_ALARM_SECONDS", "50"))
"""How long normal pictures are watched for a false alarm: 50 s in the suite; the issue's
ten minutes with `FARMWATCH_TEST_FALSE_ALARM_SECONDS=600` (README, Tests)."""
MODES = (PictureMode.NORMAL, PictureMode.BLACK, PictureMode.FROZEN, PictureMode.BLURRED)
EXPECTED = {
    PictureMode.NORMAL: set(),
    PictureMode.BLACK: {"black", "low_contrast"},
    PictureMode.FROZEN: {"frozen"},
    PictureMode.BLURRED: {"blurred"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    env = {
        "FARMWATCH_SUPERVISION_DIAGNOSIS_INTERVAL": str(INTERVAL),
        "FARMWATCH_MEDIA_WORKERS": "1",
        "FARMWATCH_MEDIA_IDLE_CLOSE": "30",
    }
    async with live_rig(tmp_path_factory.mktemp("diagnosis"), channels=4, env=env) as rig:
        yield rig


def _device(rig: LiveRig) -> SimulatedDevice:
    return rig.fleet.devices[0]


async def _camera(rig: LiveRig, channel: str) -> dict[str, Any]:
    status, body = await rig.get(f"/api/channels/{channel}/diagnosis?limit=500")
    assert status == 200, body
    return body


async def _wait_for_state(rig: LiveRig, channel: str, failures: set[str], after: datetime) -> Any:
    """The camera's first sample after `after` whose failures are `failures` (a few rounds
    at most: a switched picture shows from the next keyframe on)."""
    async with asyncio.timeout(12 * INTERVAL):
        while True:
            body = await _camera(rig, channel)
            for sample in reversed(body["history"]):
                when = datetime.fromisoformat(sample["sampled_at"])
                if (
                    when > after
                    and sample["outcome"] != "unavailable"
                    and (set(sample["failures"]) == failures)
                ):
                    return body
            await asyncio.sleep(INTERVAL / 4)


async def test_each_fault_is_named_and_the_normal_camera_passes(rig: LiveRig) -> None:
    start = datetime.now().astimezone()
    for index, mode in enumerate(MODES):
        await _device(rig).set_picture(index, mode)
    for index, mode in enumerate(MODES):
        body = await _wait_for_state(rig, rig.channel(index), EXPECTED[mode], start)
        assert body["state"]["failed"] == bool(EXPECTED[mode]), body["state"]
        assert set(body["state"]["failures"]) == EXPECTED[mode]
    status, page = await rig.get("/api/diagnosis?failed=true")
    assert status == 200, page
    failing = {camera["channel_id"]: set(camera["failures"]) for camera in page["cameras"]}
    assert failing == {rig.channel(index): EXPECTED[mode] for index, mode in enumerate(MODES)
                       if EXPECTED[mode]}  # fmt: skip
    status, page = await rig.get("/api/diagnosis")
    assert {camera["channel_id"] for camera in page["cameras"]} == {
        rig.channel(index) for index in range(len(MODES))
    }
    status, error = await rig.get("/api/diagnosis?failed=maybe")
    assert status == 400 and "failed" in error["error"]
    # Each failure opened a fault ticket of its kind (art. 19); the normal camera has none.
    status, found = await rig.get("/api/faults?open=true&limit=100")
    assert status == 200, found
    tickets = {(t["channel_id"], t["kind"]) for t in found["faults"]}
    assert tickets == {
        (rig.channel(index), kind) for index, mode in enumerate(MODES) for kind in EXPECTED[mode]
    }, tickets


async def test_a_camera_switched_to_black_fails_and_passes_again_when_back(rig: LiveRig) -> None:
    channel = rig.channel(0)
    switched = datetime.now().astimezone()
    await _device(rig).set_picture(0, PictureMode.BLACK)
    body = await _wait_for_state(rig, channel, {"black", "low_contrast"}, switched)
    assert body["state"]["failed"] is True
    status, found = await rig.get("/api/faults?open=true&kind=black&limit=100")
    assert channel in [t["channel_id"] for t in found["faults"]], found
    back = datetime.now().astimezone()
    await _device(rig).set_picture(0, PictureMode.NORMAL)
    body = await _wait_for_state(rig, channel, set(), back)
    assert body["state"] == {**body["state"], "failed": False, "failures": []}
    # The good picture closed its tickets by itself.
    status, found = await rig.get("/api/faults?kind=black&limit=100")
    assert [t["state"] for t in found["faults"] if t["channel_id"] == channel] == ["closed"]
    # Sampled on request (an administrator): the same verdict at once.
    status, sample = await rig.post(f"/api/channels/{channel}/diagnosis")
    assert status == 200, sample
    assert (sample["channel_id"], sample["outcome"], sample["failures"]) == (channel, "passed", [])
    assert sample["measurements"]["sharpness"] > 0.1


async def test_normal_pictures_sampled_for_a_minute_raise_no_false_alarm(rig: LiveRig) -> None:
    for index in range(len(MODES)):
        await _device(rig).set_picture(index, PictureMode.NORMAL)
    settled = datetime.now().astimezone()
    for index in range(len(MODES)):
        await _wait_for_state(rig, rig.channel(index), set(), settled)
    since = datetime.now().astimezone()
    invites = _device(rig).invites_received
    # At the sampler's own pace (a sample of each camera every 2 s), the history read every
    # 10 s, so that any length of watch sees every sample.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FALSE_ALARM_SECONDS
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    while True:
        for index in range(len(MODES)):
            channel = rig.channel(index)
            for sample in (await _camera(rig, channel))["history"]:
                if datetime.fromisoformat(sample["sampled_at"]) > since:
                    seen[(channel, sample["sampled_at"])] = sample
        if (left := deadline - loop.time()) <= 0:
            break
        await asyncio.sleep(min(10.0, left))
    # The streams the samples started run on (`[media] idle_close` 30 s > the interval):
    # every later sample took the running stream's keyframe, without an INVITE.
    assert _device(rig).invites_received == invites
    judged = [sample for sample in seen.values() if sample["outcome"] != "unavailable"]
    assert len(judged) >= 1.2 * FALSE_ALARM_SECONDS, len(judged)
    # The simulator loops a 2 s clip with a keyframe a second, so at a 2 s interval many
    # samples meet the previous sample's keyframe again: the next keyframe must clear them.
    assert [s for s in judged if s["outcome"] != "passed"] == []
