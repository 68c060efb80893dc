"""What an upper platform does to a lower's cameras, with the lower's users in the way
(issue 12): PTZ from the bureau meets the branch's control floor.

national (127.0.0.11) ← bureau (.12) ← branch (.13) ← simulated farm (.14). The branch
holds a camera for `ptz_hold` seconds for whoever steered it last and takes `ptz_burst`
commands per camera at once, then `ptz_rate` a second; the bureau's own floor keeps the
defaults, so everything it sends reaches the branch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.cascade_helpers import ThreeTiers, three_tiers
from tests.integration.cascade.tiers import BUREAU
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
