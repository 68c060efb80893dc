"""Random spot checks in the console, in a real browser (Debian's chromium): the
administrator opens "随机抽查", draws two cameras, plays the first in the page's tile,
records it on the drug store's checklist (the monitoring form, its key area preset from the
camera's placement), records the second — whose INVITE the device refuses — as "无法播放"
with what the tile said, verifies the draw from its seed and
reads the period report. Screenshots go to /tmp/console-shots/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.console_helpers import answered, first_tile_playing, save_shot
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS, log_in_through_page
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

FARM = "东台生猪养殖场"


@dataclass
class SpotCheckConsole:
    rig: LiveRig
    admin: Caller
    browser: Browser
    shots: Path

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SpotCheckConsole]:
    folder = tmp_path_factory.mktemp("spot-check-console")
    env = {"FARMWATCH_MEDIA_WORKERS": "0", "FARMWATCH_MEDIA_IDLE_CLOSE": "5"}
    async with (
        live_rig(folder, channels=2, env=env) as rig,
        async_playwright() as playwright,
    ):
        browsers = Browsers(rig.base)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            admin = browsers.new("admin")
            await admin.log_in(ADMIN, ADMIN_PASSWORD)
            farm = await answered(admin, "POST", "/api/farms", {
                "name": FARM, "filing_number": "3200GJ0001",
                "organisation_id": rig.server.organisation_id,
            }, 201)  # fmt: skip
            await answered(
                admin,
                "PUT",
                f"/api/devices/{rig.fleet.device_ids[0]}/farm",
                {"farm_id": farm["id"]},
            )
            await answered(admin, "PUT", f"/api/channels/{rig.channel(0)}/placement",
                      {"key_area": "drug_store", "location": "Y-01"})  # fmt: skip
            yield SpotCheckConsole(rig, admin, browser, folder)
        finally:
            await browser.close()
            await browsers.close()


async def test_an_inspector_draws_plays_records_and_reports(console: SpotCheckConsole) -> None:
    context = await console.browser.new_context(
        viewport={"width": 1600, "height": 1000}, locale="zh-CN"
    )
    page = await context.new_page()
    await log_in_through_page(page, console.rig.base + "/", ADMIN, ADMIN_PASSWORD)
    await page.click("#nav-spotchecks")
    assert (await page.text_content("#nav-spotchecks")) == "随机抽查"
    await page.fill("#sc-count", "2")
    await page.fill("#sc-period", "2026-12")
    async with page.expect_response("**/api/spot-checks") as drawn:
        await page.click("#sc-draw")
    assert (await drawn.value).status == 201
    check = await (await drawn.value).json()
    await page.wait_for_selector("#sc-rows tr[data-position='2']")
    assert (await page.text_content("#sc-seed")) == check["seed"]
    rows = await page.eval_on_selector_all("#sc-rows tr", "rs => rs.map(r => r.textContent)")
    assert len(rows) == 2 and all(FARM in row and "待检查" in row for row in rows)
    position = {item["channel_id"]: item["position"] for item in check["items"]}
    first, second = position[console.rig.channel(0)], position[console.rig.channel(1)]

    await page.click(f"#sc-rows tr[data-position='{first}'] .sc-play")
    await first_tile_playing(page)
    await console.shoot(page, "spotchecks-playing")
    await page.click(f"#sc-rows tr[data-position='{first}'] .sc-record")
    await page.wait_for_selector("#mr-form fieldset.point")
    assert await page.eval_on_selector("#mr-area", "s => s.value") == "drug_store"
    await page.check("input[data-point='drug_store.permitted_list'][value='compliant']")
    await page.check("input[data-point='drug_store.labelled'][value='not_compliant']")
    await page.fill("input[data-remark='drug_store.labelled']", "两瓶兽药无批次")
    await console.shoot(page, "spotchecks-form")
    async with page.expect_response("**/result") as answer:
        await page.click("#mr-submit")
    assert (await answer.value).status == 200
    assert "不符合" in ((await page.text_content("#sc-recorded")) or "")
    await page.click("#mr-close")
    await page.wait_for_selector(f"#sc-rows tr[data-position='{first}'][data-state='recorded']")

    # The device refuses the second camera's INVITE: the tile says so, and "无法播放" keeps
    # what it said as the reason.
    console.rig.fleet.devices[0].refuse_invites(488)
    await page.click(f"#sc-rows tr[data-position='{second}'] .sc-play")
    await page.wait_for_selector(".sc-player .tile[data-state='error']", timeout=20_000)
    # Said in the console's language; the platform's own words in the tooltip.
    said = (await page.text_content(".sc-player .tile .tile-state span")) or ""
    assert said == "摄像机拒绝了请求或出错"
    tooltip = await page.get_attribute(".sc-player .tile .tile-state span", "title")
    assert tooltip is not None and "488" in tooltip
    await console.shoot(page, "spotchecks-failed")
    await page.click(f"#sc-rows tr[data-position='{second}'] .sc-unplayable")
    await page.wait_for_selector(f"#sc-rows tr[data-position='{second}'][data-state='unplayable']")
    await page.click("#sc-verify")
    await page.wait_for_selector("#sc-verified.ok")
    assert "一致" in ((await page.text_content("#sc-verified")) or "")
    await page.click("#sc-report-load")
    await page.wait_for_function(
        "() => (document.querySelector('#sc-report-table tbody tr') || {}).textContent"
        "?.includes('1')"
    )
    report_row = (await page.text_content("#sc-report-table tbody tr")) or ""
    assert FARM in report_row
    await console.shoot(page, "spotchecks-page")

    # What the browser sent is what the platform stored.
    stored = await answered(console.admin, "GET", f"/api/spot-checks/{check['id']}", None)
    items = {item["position"]: item for item in stored["items"]}
    assert (items[first]["state"], items[first]["outcome"], items[first]["key_area"]) == (
        "recorded",
        "not_compliant",
        "drug_store",
    )
    assert items[first]["answers"][1]["remark"] == "两瓶兽药无批次"
    assert items[second]["state"] == "unplayable"
    assert items[second]["remark"].startswith("视频无法播放：") and "488" in items[second]["remark"]
    assert stored["period"] == "2026-12"
    await context.close()
