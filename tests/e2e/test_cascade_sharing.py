"""One farm camera watched at once by two upper platforms and a viewer at the branch.

The branch registers to two uppers (the bureau and, directly, the national platform). Each
upper's INVITE is its own dialog paired with its own relay of the camera's one stream: the
camera gets one INVITE, and any of the three leaving leaves the others playing
(field-notes.md §2.3 items 6 and 17: one upper stopping another's video, a local viewer
leaving stopping the upper's).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from farmwatch.simulator import running_simulator
from tests.e2e.cascade_helpers import MEDIA_ENV, ThreeTiers
from tests.e2e.live_helpers import SMALL_PICTURE
from tests.integration.cascade.tiers import (
    BRANCH,
    BUREAU,
    FARM_HOST,
    NATIONAL,
    PASSWORD,
    UpperLinkConfig,
    start_tier,
)
from tests.peers.raw_sip import free_port
from tests.peers.server_process import RunningServer, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.tier_addresses]


@dataclass
class Watch:
    """A viewer reading a live session's fMP4 in the background."""

    server: RunningServer
    session: dict[str, Any]
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def bytes_after(self, moment: float) -> int:
        return sum(size for at, size in self.arrivals if at > moment)


async def _watch(tiers: ThreeTiers, server: RunningServer, channel: str) -> Watch:
    status, session = await tiers.post(server, f"/api/channels/{channel}/live", None)
    assert status == 201, session
    watch = Watch(server, session)

    async def read() -> None:
        loop = asyncio.get_running_loop()
        url = f"http://127.0.0.1:{server.web_port}{session['fmp4']}"
        async with tiers.http.get(url, headers=server.auth_headers) as response:
            async for chunk in response.content.iter_any():
                watch.arrivals.append((loop.time(), len(chunk)))

    watch.task = asyncio.create_task(read())
    return watch


async def _leave(tiers: ThreeTiers, watch: Watch) -> float:
    """Close the viewer's session; the loop time it left."""
    assert watch.task is not None
    watch.task.cancel()
    await asyncio.gather(watch.task, return_exceptions=True)
    status, _ = await tiers.request(watch.server, "DELETE", f"/api/live/{watch.session['session']}")
    assert status == 204
    return asyncio.get_running_loop().time()


async def test_two_uppers_and_a_local_viewer_share_one_camera_stream(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        national_port, bureau_port = free_port(), free_port()
        uppers = (UpperLinkConfig(BUREAU, bureau_port), UpperLinkConfig(NATIONAL, national_port))
        national, bureau, branch = await asyncio.gather(
            asyncio.to_thread(start_tier, tmp_path, NATIONAL, sip_port=national_port,
                              extra_env=MEDIA_ENV),
            asyncio.to_thread(start_tier, tmp_path, BUREAU, sip_port=bureau_port,
                              extra_env=MEDIA_ENV),
            asyncio.to_thread(start_tier, tmp_path, BRANCH, uppers, extra_env=MEDIA_ENV),
        )  # fmt: skip
        for server in (national, bureau, branch):
            stack.push_async_callback(asyncio.to_thread, stop_server, server)
        farm = await stack.enter_async_context(
            running_simulator(
                server=(BRANCH.host, branch.sip_port), server_id=BRANCH.platform_id,
                channels=1, password=PASSWORD, host=FARM_HOST, media=SMALL_PICTURE,
                request_timeout=2.0,
            )
        )  # fmt: skip
        http = await stack.enter_async_context(aiohttp.ClientSession())
        for server in (national, bureau, branch):
            stack.push_async_callback(asyncio.to_thread, stop_server, server)
        tiers = ThreeTiers(national, bureau, branch, farm, http)
        channel = tiers.channel()
        for upper in (bureau, national):
            async with asyncio.timeout(20):
                while True:
                    status, body = await tiers.request(
                        upper, "GET", f"/api/devices/{BRANCH.platform_id}/channels"
                    )
                    if status == 200 and channel in str(body):
                        break
                    if status == 200:
                        await tiers.refresh_catalog(upper, BRANCH.platform_id)
                    await asyncio.sleep(0.2)

        local = await _watch(tiers, branch, channel)
        at_bureau = await _watch(tiers, bureau, channel)
        at_national = await _watch(tiers, national, channel)
        await asyncio.sleep(2.0)
        device = farm.devices[0]
        assert device.invites_received == 1  # one stream for the three of them
        _, links = await tiers.request(branch, "GET", "/api/uppers")
        assert [u["calls"] for u in links["uppers"]] == [1, 1]
        started = asyncio.get_running_loop().time() - 1.5
        for watch in (local, at_bureau, at_national):
            assert watch.bytes_after(started) > 20_000

        # The bureau's viewer leaves; after its idle time the bureau hangs up its call to
        # the branch. The national tier and the local viewer go on.
        await _leave(tiers, at_bureau)
        async with asyncio.timeout(10):
            while True:
                _, links = await tiers.request(branch, "GET", "/api/uppers")
                if [u["calls"] for u in links["uppers"]] == [0, 1]:
                    break
                await asyncio.sleep(0.1)
        left = asyncio.get_running_loop().time()
        await asyncio.sleep(2.0)
        for watch in (local, at_national):
            assert watch.bytes_after(left + 0.5) > 20_000

        # The local viewer leaves: the national tier goes on.
        left = await _leave(tiers, local)
        await asyncio.sleep(2.0)
        assert at_national.bytes_after(left + 0.5) > 20_000
        assert device.invites_received == 1 and device.active_calls == 1

        # The last one leaves: the camera's call ends after the idle time.
        await _leave(tiers, at_national)
        async with asyncio.timeout(10):
            while device.active_calls:
                await asyncio.sleep(0.1)
