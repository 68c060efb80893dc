"""The console's overview page (总览; issue 11 item 7) in Debian's chromium: the first page
an administrator sees, with figure cards per organisation (the top with the bureau below
it) and the bureau's farms needing attention linking to the farm register; a monitor keeps
the live view first and finds the overview, his farm's figures only, further down the menu.
Screenshots go to the test's folder and to /tmp/console-shots/."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS, log_in_through_page
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.zhao"
PASSWORD = "Overview-Console-Pass-1"
SHOTS = Path("/tmp/console-shots")


@dataclass
class OverviewConsole:
    rig: LiveRig
    browser: Browser
    shots: Path
    bureau: int
    farm: int
    idle_farm: int

    async def page(self, username: str, password: str) -> Page:
        context = await self.browser.new_context(
            viewport={"width": 1440, "height": 900}, locale="zh-CN"
        )
        page = await context.new_page()
        await log_in_through_page(page, self.rig.base + "/", username, password)
        return page

    async def shoot(self, page: Page, name: str) -> None:
        path = self.shots / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / path.name)


async def _created(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    status, answer = await caller.request("POST", path, body)
    assert status == 201, (path, answer)
    return dict(answer)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OverviewConsole]:
    folder = tmp_path_factory.mktemp("overview-console")
    env = {"FARMWATCH_MEDIA_WORKERS": "0", "FARMWATCH_ACCESS_THROTTLE_PER_SOURCE": "1000"}
    async with live_rig(folder, channels=2, env=env) as rig, async_playwright() as playwright:
        browsers = Browsers(rig.base)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            admin = browsers.new("admin")
            await admin.log_in(ADMIN, ADMIN_PASSWORD)
            root = rig.server.organisation_id
            bureau = await _created(
                admin, "/api/organisations", {"name": "南京局", "tier": "bureau", "parent_id": root}
            )
            farm = await _created(admin, "/api/farms", {
                "name": "六合生猪养殖场", "filing_number": "3201LH0001",
                "organisation_id": bureau["id"],
            })  # fmt: skip
            idle = await _created(admin, "/api/farms", {
                "name": "溧水蛋鸡养殖场", "filing_number": "3201LS0002",
                "organisation_id": bureau["id"],
            })  # fmt: skip
            status, _ = await admin.request(
                "PUT", f"/api/devices/{rig.fleet.device_ids[0]}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200
            user = await _created(admin, "/api/users", {
                "username": MONITOR, "display_name": "赵监控", "organisation_id": bureau["id"],
                "role": "monitor", "password": PASSWORD,
            })  # fmt: skip
            await _created(
                admin, f"/api/users/{user['id']}/grants",
                {"kind": "channel", "target": rig.channel(0)},
            )  # fmt: skip
            await _created(admin, "/api/faults", {"channel_id": rig.channel(1), "kind": "black"})
            await _created(admin, "/api/spot-checks", {"count": 1})
            yield OverviewConsole(rig, browser, folder, bureau["id"], farm["id"], idle["id"])
        finally:
            await browser.close()
            await browsers.close()


async def test_an_administrator_lands_on_the_overview(console: OverviewConsole) -> None:
    page = await console.page(ADMIN, ADMIN_PASSWORD)
    await expect(page.locator("#nav a").first).to_have_text("总览")
    await expect(page.locator("#nav-overview")).to_have_class("current")
    sections = page.locator("section.ov-org")
    await expect(sections).to_have_count(2)
    bureau = page.locator(f"section.ov-org[data-organisation='{console.bureau}']")
    await expect(bureau.locator("h2")).to_contain_text("南京局")
    await expect(bureau.locator("[data-figure='ov.faults'] .ov-value")).to_have_text("1")
    await expect(bureau.locator("[data-figure='ov.faults']")).to_have_class("ov-card warn")
    await expect(bureau.locator("[data-figure='ov.supervised'] .ov-value")).to_have_text("0 / 2")
    top = sections.first
    await expect(top.locator("h2")).to_contain_text("含下级单位")
    await expect(top.locator("[data-figure='ov.spotChecks'] .ov-value")).to_have_text("1 / 1")
    await expect(page.locator("#ov-period")).to_contain_text("统计期间")
    flagged = bureau.locator(f"tr[data-farm='{console.farm}']")
    await expect(flagged).to_contain_text("六合生猪养殖场")
    await expect(flagged.locator("td").nth(4)).to_have_text("1")
    await console.shoot(page, "overview-admin")
    await flagged.locator("a").first.click()
    await expect(page).to_have_url(f"{console.rig.base}/#/farms?id={console.farm}")
    await expect(page.locator("#nav-farms")).to_have_class("current")

    # English on demand.
    await page.click("#nav-overview")
    await page.click("#language")
    await expect(bureau.locator("[data-figure='ov.faults'] .ov-label")).to_have_text(
        "Open fault tickets"
    )
    await page.click("#language")
    await page.context.close()


async def test_a_monitor_keeps_live_view_first_and_sees_his_farm_only(
    console: OverviewConsole,
) -> None:
    page = await console.page(MONITOR, PASSWORD)
    await expect(page.locator("#nav a").first).to_have_text("实时监视")
    await page.click("#nav-overview")
    sections = page.locator("section.ov-org")
    await expect(sections).to_have_count(1)
    await expect(sections.first.locator("[data-figure='ov.cameras'] .ov-value")).to_contain_text(
        "/ 1"
    )
    await expect(sections.first.locator("[data-figure='ov.farms'] .ov-value")).to_have_text("0 / 1")
    await expect(page.locator(f"tr[data-farm='{console.idle_farm}']")).to_have_count(0)
    await console.shoot(page, "overview-monitor")
    await page.context.close()
