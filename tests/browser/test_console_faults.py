"""The console's fault tickets page (故障工单; regulation art. 19) in Debian's chromium: a
monitor opens a ticket on his camera from the page, marks the farm notified and the fault
fixed, and has no button to verify it; an administrator sees the farm flagged for more
on-site inspection and the figures per organisation, and verifies the ticket. Screenshots go
to the test's folder and to /tmp/console-shots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.browser.console_helpers import console_page, created, save_shot
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.li"
PASSWORD = "Faults-Console-Pass-1"


@dataclass
class FaultConsole:
    rig: LiveRig
    admin: Caller
    browser: Browser
    shots: Path
    farm_name: str

    async def page(self, username: str, password: str) -> Page:
        return await console_page(self.browser, self.rig.base, username, password, "faults")

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultConsole]:
    folder = tmp_path_factory.mktemp("faults-console")
    env = {
        "FARMWATCH_MEDIA_WORKERS": "0", "FARMWATCH_ACCESS_THROTTLE_PER_SOURCE": "1000",
        # No picture sample while the tests run: a good picture would close the blurred
        # ticket the monitor opens by hand before the administrator verifies it.
        "FARMWATCH_SUPERVISION_DIAGNOSIS_INTERVAL": "86400",
    }  # fmt: skip
    async with live_rig(folder, channels=2, env=env) as rig, async_playwright() as playwright:
        browsers = Browsers(rig.base)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            admin = browsers.new("admin")
            await admin.log_in(ADMIN, ADMIN_PASSWORD)
            root = rig.server.organisation_id
            bureau = await created(
                admin, "/api/organisations", {"name": "南京局", "tier": "bureau", "parent_id": root}
            )
            farm_name = "六合生猪养殖场"
            farm = await created(
                admin, "/api/farms",
                {"name": farm_name, "filing_number": "3201LH0001",
                 "organisation_id": bureau["id"]},
            )  # fmt: skip
            status, _ = await admin.request(
                "PUT", f"/api/devices/{rig.fleet.device_ids[0]}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200
            user = await created(
                admin, "/api/users",
                {"username": MONITOR, "display_name": "李监控", "organisation_id": bureau["id"],
                 "role": "monitor", "password": PASSWORD},
            )  # fmt: skip
            await created(
                admin, f"/api/users/{user['id']}/grants",
                {"kind": "channel", "target": rig.channel(0)},
            )  # fmt: skip
            # An automatic-looking ticket on the other camera, opened through the API.
            await created(
                admin, "/api/faults",
                {"channel_id": rig.channel(1), "kind": "black", "detail": "夜间画面全黑"},
            )  # fmt: skip
            yield FaultConsole(rig, admin, browser, folder, farm_name)
        finally:
            await browser.close()
            await browsers.close()


async def test_a_monitor_opens_a_ticket_and_moves_it_to_fixed(console: FaultConsole) -> None:
    page = await console.page(MONITOR, PASSWORD)
    await expect(page.locator("section.faults h1")).to_have_text("故障工单")
    rows = page.locator("#fault-rows tr.fault-row")
    await expect(rows).to_have_count(1)  # the farm is his: the other camera's ticket too
    await page.fill("#fault-new-channel", console.rig.channel(0))
    await page.select_option("#fault-new-kind", "blurred")
    await page.fill("#fault-new-detail", "镜头起雾，画面模糊")
    await page.click("#fault-new-submit")
    await expect(page.locator("#fault-message")).to_contain_text("已登记故障工单")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#fault-detail-state")).to_have_text("待处理")
    await expect(page.locator("#fault-detail")).to_contain_text("图像模糊")
    await expect(page.locator("#fault-flagged")).to_contain_text("2 个未结故障")
    await expect(page.locator("#fault-flagged")).to_contain_text(console.farm_name)
    await expect(page.locator("#fault-detail")).not_to_contain_text("null")

    await page.fill("#fault-remark", "已电话通知场长")
    await page.click("#fault-to-farm_notified")
    await expect(page.locator("#fault-detail-state")).to_have_text("已通知企业")
    await page.fill("#fault-remark", "场方已擦拭镜头")
    await page.click("#fault-to-fixed")
    await expect(page.locator("#fault-detail-state")).to_have_text("故障已排除")
    await expect(page.locator("#fault-to-verified")).to_have_count(0)  # administrators only
    history = page.locator("#fault-history li")
    await expect(history).to_have_count(3)
    await expect(history.nth(2)).to_contain_text("场方已擦拭镜头")
    await console.shoot(page, "faults-monitor")
    await page.context.close()


async def test_an_administrator_sees_the_flag_and_figures_and_verifies(
    console: FaultConsole,
) -> None:
    page = await console.page(ADMIN, ADMIN_PASSWORD)
    await expect(page.locator("#fault-flagged li")).to_contain_text(console.farm_name)
    await expect(page.locator("#fault-flagged li")).to_contain_text("加强现场检查")
    await expect(page.locator("#fault-stats")).to_contain_text("南京局")
    await expect(page.locator("#fault-stats")).to_contain_text("黑屏 1")
    fixed = page.locator("#fault-rows tr[data-state=fixed]")
    await expect(fixed).to_have_count(1)
    await fixed.click()
    await expect(page.locator("#fault-detail-state")).to_have_text("故障已排除")
    await page.fill("#fault-remark", "画面清晰，核验通过")
    await page.click("#fault-to-verified")
    await expect(page.locator("#fault-detail-state")).to_have_text("已核验")
    await expect(page.locator("#fault-history li").last).to_contain_text(ADMIN)
    # The verified ticket leaves the list of open ones; the figures count its repair.
    await expect(page.locator("#fault-rows tr.fault-row")).to_have_count(1)
    await expect(page.locator("#fault-stats")).to_contain_text("小时")
    await page.select_option("#fault-kind", "black")
    await expect(page.locator("#fault-rows tr.fault-row")).to_have_count(1)
    await page.select_option("#fault-kind", "")
    await console.shoot(page, "faults-admin")
    await page.context.close()


async def test_a_remark_being_typed_survives_a_change_made_elsewhere(
    console: FaultConsole,
) -> None:
    """The administrator moves the ticket while the monitor types its remark: the page shows
    the new state, and the monitor's next keys land in the remark, after what he typed."""
    status, listed = await console.admin.request("GET", "/api/faults?open=true", None)
    assert status == 200
    ticket = next(f for f in listed["faults"] if f["channel_id"] == console.rig.channel(1))
    page = await console.page(MONITOR, PASSWORD)
    await page.click(f"#fault-rows tr[data-fault='{ticket['id']}']")
    await expect(page.locator("#fault-detail-state")).not_to_have_text("已通知企业")
    await page.click("#fault-remark")
    await page.keyboard.type("场方")
    status, _ = await console.admin.request(
        "POST", f"/api/faults/{ticket['id']}/state", {"state": "farm_notified", "remark": None}
    )
    assert status == 200
    await expect(page.locator("#fault-detail-state")).to_have_text("已通知企业")  # re-rendered
    await page.keyboard.type("已更换镜头")
    await expect(page.locator("#fault-remark")).to_have_value("场方已更换镜头")
    await page.context.close()
