"""What an upper platform does to a lower's cameras (issue 12): PTZ from the bureau meets
the branch's control floor; a voice broadcast started at the national tier goes down two
cascade hops to the farm camera's loudspeaker.

national (127.0.0.11) ← bureau (.12) ← branch (.13) ← simulated farm (.14). The branch
holds a camera for `ptz_hold` seconds for whoever steered it last and takes `ptz_burst`
commands per camera at once, then `ptz_rate` a second; the bureau's own floor keeps the
defaults, so everything it sends reaches the branch.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from farmwatch.simulator.broadcast_receiver import AudioReception
from tests.e2e.cascade_helpers import ThreeTiers, three_tiers
from tests.integration.cascade.tiers import BRANCH, BUREAU
from tests.peers.server_process import RunningServer

HOLD = 3.0
BURST = 4
RIGHT = "A50F010180000036"
UP = "A50F01080080003D"
HOME = {"action": "home", "enabled": True, "reset_time": 30, "preset": 1}
MOVE_UP = {"action": "move", "tilt": "up", "speed": 0x80}
LOCAL_USER = "tests"  # the name of the administrator token the tests use
BUREAU_AT_BRANCH = f"upper platform bureau ({BUREAU.platform_id})"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.tier_addresses,
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tiers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ThreeTiers]:
    branch_floor = {
        "FARMWATCH_LIVE_PTZ_HOLD": str(HOLD),
        "FARMWATCH_LIVE_PTZ_RATE": "0.2",
        "FARMWATCH_LIVE_PTZ_BURST": str(BURST),
    }
    async with three_tiers(
        tmp_path_factory.mktemp("upper-control"), tier_env={"branch": branch_floor}
    ) as tiers:
        yield tiers


async def _ptz(
    tiers: ThreeTiers, server: RunningServer, channel: str, body: dict[str, Any]
) -> tuple[int, Any]:
    return await tiers.post(server, f"/api/channels/{channel}/ptz", body)


async def _branch_link(tiers: ThreeTiers) -> dict[str, Any]:
    _, body = await tiers.request(tiers.branch, "GET", "/api/uppers")
    link: dict[str, Any] = body["uppers"][0]
    return link


async def _wait_counter(tiers: ThreeTiers, name: str, at_least: int) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while (link := await _branch_link(tiers))[name] < at_least:
            await asyncio.sleep(0.05)
    return link


async def _holder(tiers: ThreeTiers, channel: str) -> Any:
    status, body = await tiers.request(tiers.branch, "GET", f"/api/channels/{channel}/ptz")
    assert status == 200, body
    return body["holder"]


async def test_the_uppers_ptz_waits_for_the_local_user_holding_the_camera(
    tiers: ThreeTiers,
) -> None:
    channel = tiers.channel(0)
    responder = tiers.farm.devices[0].responder
    # A local user at the branch steers the camera: it is theirs for HOLD seconds.
    status, sent = await _ptz(tiers, tiers.branch, channel, {"action": "move", "pan": "right",
                                                            "speed": 0x80})  # fmt: skip
    assert status == 202, sent
    assert (channel, RIGHT) in responder.ptz_commands
    refused = (await _branch_link(tiers))["controls_refused"]
    # The bureau's PTZ reaches the branch (its 202: the branch took the MESSAGE) ...
    status, sent = await _ptz(tiers, tiers.bureau, channel, MOVE_UP)
    assert status == 202, sent
    # ... which refuses it on the floor: never sent to the camera.
    await _wait_counter(tiers, "controls_refused", refused + 1)
    assert (channel, UP) not in responder.ptz_commands
    assert await _holder(tiers, channel) == LOCAL_USER
    # A refused command the standard answers comes back to the bureau as Result ERROR.
    status, answer = await _ptz(tiers, tiers.bureau, channel, HOME)
    assert status == 502, answer
    assert answer["result"] == "ERROR"
    assert f"controlled by {LOCAL_USER}" in answer["reason"]
    assert await _holder(tiers, channel) == LOCAL_USER
    # Once the hold ran out, the bureau's command goes through and the bureau holds it.
    async with asyncio.timeout(HOLD + 5):
        while await _holder(tiers, channel) is not None:
            await asyncio.sleep(0.1)
    status, sent = await _ptz(tiers, tiers.bureau, channel, MOVE_UP)
    assert status == 202, sent
    async with asyncio.timeout(5):
        while (channel, UP) not in responder.ptz_commands:
            await asyncio.sleep(0.05)
    assert await _holder(tiers, channel) == BUREAU_AT_BRANCH
    # Taken, an answered command goes to the camera and its Result back up.
    status, answer = await _ptz(tiers, tiers.bureau, channel, HOME)
    assert status == 200, answer
    assert answer["result"] == "OK"
    # The local administrator is refused naming the upper, and takes the camera over.
    status, locked = await _ptz(tiers, tiers.branch, channel, {"action": "stop"})
    assert status == 409, locked
    assert locked["holder"] == BUREAU_AT_BRANCH
    status, sent = await _ptz(tiers, tiers.branch, channel, {"action": "stop",
                                                            "take_over": True})  # fmt: skip
    assert status == 202, sent
    assert await _holder(tiers, channel) == LOCAL_USER


async def test_an_upper_flooding_ptz_is_rate_limited_at_the_lower(tiers: ThreeTiers) -> None:
    channel = tiers.channel(1)
    responder = tiers.farm.devices[0].responder
    before = await _branch_link(tiers)
    sent_before = sum(1 for target, _ in responder.ptz_commands if target == channel)
    flood = 10
    for _ in range(flood):  # within the bureau's own rate (10 at once): all reach the branch
        status, sent = await _ptz(tiers, tiers.bureau, channel, MOVE_UP)
        assert status == 202, sent
    async with asyncio.timeout(5):
        while True:
            link = await _branch_link(tiers)
            forwarded = link["controls_forwarded"] - before["controls_forwarded"]
            refused = link["controls_refused"] - before["controls_refused"]
            if forwarded + refused == flood:
                break
            await asyncio.sleep(0.05)
    # The burst, and at most one more the 0.2/s rate gave back meanwhile.
    assert BURST <= forwarded <= BURST + 1, (forwarded, refused)
    async with asyncio.timeout(5):
        while sum(1 for t, _ in responder.ptz_commands if t == channel) < sent_before + forwarded:
            await asyncio.sleep(0.05)
    assert sum(1 for t, _ in responder.ptz_commands if t == channel) == sent_before + forwarded


# -- voice broadcast from the top --------------------------------------------------------------


async def _uppers_broadcasts(tiers: ThreeTiers) -> tuple[int, int]:
    """The broadcasts relayed now by the branch (for the bureau) and the bureau (national)."""
    counts = []
    for server in (tiers.branch, tiers.bureau):
        _, body = await tiers.request(server, "GET", "/api/uppers")
        counts.append(body["uppers"][0]["broadcasts"])
    return counts[0], counts[1]


async def _wait_broadcasts(tiers: ThreeTiers, expected: tuple[int, int]) -> None:
    async with asyncio.timeout(5):
        while await _uppers_broadcasts(tiers) != expected:
            await asyncio.sleep(0.05)


async def _start_at_national(tiers: ThreeTiers, channel: str) -> dict[str, Any]:
    status, session = await tiers.post(tiers.national, f"/api/channels/{channel}/broadcast", {})
    assert status == 201, session
    assert session["state"] == "active"
    return session


async def _heard(tiers: ThreeTiers, g711_bytes: int) -> AudioReception:
    device = tiers.farm.devices[0]
    async with asyncio.timeout(8):
        await device.wait_for(
            lambda d: d.broadcast.last is not None and d.broadcast.last.g711_bytes >= g711_bytes
        )
    reception = device.broadcast.last
    assert reception is not None
    return reception


def _pitch(reception: AudioReception) -> float:
    samples = np.array(reception.samples, dtype=float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * 8000 / len(samples))


async def test_a_national_broadcast_reaches_the_farm_camera_through_two_lower_platforms(
    tiers: ThreeTiers,
) -> None:
    device = tiers.farm.devices[0]
    channel = tiers.channel(0)
    receptions = len(device.broadcast.receptions)
    session = await _start_at_national(tiers, channel)
    # The camera was asked by its own platform, the branch, for that channel.
    notify = device.broadcast.notifies[-1]
    assert (notify.source_id, notify.target_id) == (BRANCH.platform_id, channel)
    assert len(device.broadcast.receptions) == receptions + 1
    await _wait_broadcasts(tiers, (1, 1))
    status, queued = await tiers.post(
        tiers.national, session["audio"], {"frequency": 440, "seconds": 1.2}
    )
    assert status == 202, queued
    # Relayed twice, the national tier's tone sounds at the camera, G.711A all through.
    reception = await _heard(tiers, int(1.2 * 8000) - 320)
    assert reception.frames == reception.frames_decoded
    assert reception.foreign_packets == 0
    assert _pitch(reception) == pytest.approx(440, abs=8)
    level = math.sqrt(sum(s * s for s in reception.samples) / len(reception.samples))
    assert level > 1000  # sound, not silence
    # The national operator stops: the BYE goes down leg by leg to the camera.
    status, _ = await tiers.request(
        tiers.national, "DELETE", f"/api/broadcast/{session['session']}"
    )
    assert status == 204
    async with asyncio.timeout(5):
        await device.wait_for(lambda d: reception.ended_by == "platform")
    await _wait_broadcasts(tiers, (0, 0))


async def test_the_camera_hanging_up_ends_the_broadcast_at_the_national_tier(
    tiers: ThreeTiers,
) -> None:
    device = tiers.farm.devices[0]
    session = await _start_at_national(tiers, tiers.channel(1))
    await _wait_broadcasts(tiers, (1, 1))
    assert await device.hang_up_broadcast() == 1
    path = f"/api/broadcast/{session['session']}"
    async with asyncio.timeout(5):
        while (await tiers.request(tiers.national, "GET", path))[0] != 404:
            await asyncio.sleep(0.05)
    await _wait_broadcasts(tiers, (0, 0))


async def test_a_busy_camera_answers_the_upper_with_an_error(tiers: ThreeTiers) -> None:
    # The branch's own operator talks through the camera (channel 0) ...
    status, local = await tiers.post(
        tiers.branch, f"/api/channels/{tiers.channel(0)}/broadcast", {}
    )
    assert status == 201, local
    try:
        # ... so the national tier's broadcast to its other channel (the same device) is
        # refused at the branch, and the Result ERROR comes up both hops with the reason.
        status, refused = await tiers.post(
            tiers.national, f"/api/channels/{tiers.channel(1)}/broadcast", {}
        )
        assert status == 502, refused
        assert "busy" in refused["error"] and local["session"] in refused["error"]
        assert await _uppers_broadcasts(tiers) == (0, 0)
    finally:
        status, _ = await tiers.request(
            tiers.branch, "DELETE", f"/api/broadcast/{local['session']}"
        )
        assert status == 204
    # Nothing was left open on the way: the national tier may broadcast again.
    session = await _start_at_national(tiers, tiers.channel(1))
    status, _ = await tiers.request(
        tiers.national, "DELETE", f"/api/broadcast/{session['session']}"
    )
    assert status == 204
    await _wait_broadcasts(tiers, (0, 0))
