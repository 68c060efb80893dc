"""What the camera keeps, shown by the live page's PTZ pad in a real browser (issue 12 "2022
specifics"): the guard position and the cruise tracks set through the API on a 2022 camera
are read back by the pad's "看守位/巡航" button (HomePositionQuery, CruiseTrackListQuery,
CruiseTrackQuery); for a 2016 camera (a 501) it says the camera does not report them.
Screenshots go to /tmp/console-shots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from farmwatch.simulator import running_simulator
from farmwatch.simulator.fleet import SimulatorFleet
from tests.browser.console_helpers import console_page, save_shot
from tests.e2e.live_helpers import PLATFORM, LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class KeptRig:
    rig: LiveRig
    old: SimulatorFleet
    """A 2016 device (no X-GB-Ver), serial 10: its channel apart from the camera's."""
    browser: Browser
    shots: Path

    async def page(self) -> Page:
        return await console_page(self.browser, self.rig.base, ADMIN, ADMIN_PASSWORD, "live")

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name, full_page=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kept(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KeptRig]:
    folder = tmp_path_factory.mktemp("console_ptz_kept")
    env = {"FARMWATCH_MEDIA_WORKERS": "0"}
    async with (
        live_rig(folder, channels=1, env=env) as rig,
        running_simulator(server=("127.0.0.1", rig.server.sip_port), server_id=PLATFORM,
                          devices=1, channels=1, device_id_base=10, gb_version=None) as old,
        async_playwright() as playwright,
    ):  # fmt: skip
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield KeptRig(rig, old, browser, folder)
        finally:
            await browser.close()


async def _select(page: Page, channel: str) -> None:
    await page.click("button.layout[data-layout='1']")
    await page.click(".tile[data-index='0']")
    await page.click(f"#tree .camera[data-channel='{channel}']")


async def _kept_lines(page: Page, channel: str) -> list[str]:
    await page.click("#ptz-kept-button")
    await page.wait_for_selector(f"#ptz-kept[data-channel='{channel}'] li")
    return [line.strip() for line in await page.locator("#ptz-kept li").all_inner_texts()]


async def test_the_pad_shows_the_guard_position_and_cruise_tracks(kept: KeptRig) -> None:
    rig, channel = kept.rig, kept.rig.channel(0)
    for body in (
        {"action": "home", "enabled": True, "reset_time": 90, "preset": 7},
        {"action": "cruise", "op": "add", "group": 1, "preset": 3},
        {"action": "cruise", "op": "add", "group": 1, "preset": 7},
        {"action": "cruise", "op": "speed", "group": 1, "speed": 100},
        {"action": "cruise", "op": "dwell", "group": 1, "seconds": 20},
        {"action": "cruise", "op": "add", "group": 2, "preset": 5},
    ):
        status, answer = await rig.post(f"/api/channels/{channel}/ptz", body)
        assert status in (200, 202), answer
    page = await kept.page()
    await _select(page, channel)
    assert await page.inner_text("#ptz-kept-button") == "看守位/巡航"
    assert await _kept_lines(page, channel) == [
        "看守位：预置位 7，90 秒无操作后返回",
        "巡航轨迹1：3 → 7（停留 20 秒，速度 100）",
        "巡航轨迹2：5（停留 10 秒，速度 32）",
    ]
    await kept.shoot(page, "live-ptz-kept")
    await page.context.close()


async def test_a_2016_camera_says_it_does_not_report_them(kept: KeptRig) -> None:
    device = kept.old.devices[0]
    channel = device.channels.items[0].device_id
    page = await kept.page()
    await page.wait_for_selector(f"#tree .camera[data-channel='{channel}']", timeout=20_000)
    await _select(page, channel)
    assert await _kept_lines(page, channel) == [
        "看守位：设备不支持此查询（GB/T 28181-2022）",
        "巡航轨迹：设备不支持此查询（GB/T 28181-2022）",
    ]
    await kept.shoot(page, "live-ptz-kept-2016")
    await page.context.close()
