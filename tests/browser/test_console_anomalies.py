"""異常 in the console, in Debian's chromium (regulation art. 20–21; issue 11 item 3): a
monitor watching a camera live clicks 报告异常 and describes what is seen; the farm's
administrator, whose console was open, is told at once (the header's notice), finds the
anomaly in the 异常 list, sees its evidence clip saved and verified, and issues the
rectification order (整改) with its deadline. Screenshots go to the test's folder and to
/tmp/console-shots/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from farmwatch.simulator.record_settings import RecordSettings
from tests.browser.console_helpers import console_page, created, save_shot
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR, MONITOR_NAME = "mon.li", "李监控"
CHIEF, CHIEF_NAME = "chief.zhou", "周科长"
PASSWORD = "Console-Pass-2024"
DESCRIPTION = "饲料库门敞开，有人员未经消毒进入"


@dataclass
class Rig:
    rig: LiveRig
    admin: Caller
    browser: Browser
    shots: Path

    async def page(self, username: str, menu: str) -> Page:
        return await console_page(self.browser, self.rig.base, username, PASSWORD, menu)

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name, full_page=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    folder = tmp_path_factory.mktemp("console-anomalies")
    env = {
        "FARMWATCH_MEDIA_WORKERS": "0",
        "FARMWATCH_MEDIA_IDLE_CLOSE": "1",
        # A short clip: it comes from the simulated device's recordings (nothing is recorded
        # by the platform here), once the 3 s after the moment have passed.
        "FARMWATCH_SUPERVISION_EVIDENCE_BEFORE": "3",
        "FARMWATCH_SUPERVISION_EVIDENCE_AFTER": "3",
    }
    async with (
        live_rig(folder, channels=2, records=RecordSettings(missing_fraction=0.0), env=env) as rig,
        async_playwright() as playwright,
    ):
        browsers = Browsers(rig.base)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            admin = browsers.new("admin")
            await admin.log_in(ADMIN, ADMIN_PASSWORD)
            bureau = await created(
                admin,
                "/api/organisations",
                {"name": "江苏局", "tier": "bureau", "parent_id": rig.server.organisation_id},
            )
            farm = await created(admin, "/api/farms", {
                "name": "东台生猪养殖场", "filing_number": "3200GJ0001",
                "organisation_id": bureau["id"]})  # fmt: skip
            status, _ = await admin.request(
                "PUT", f"/api/devices/{rig.fleet.device_ids[0]}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200
            for username, display, role in (
                (MONITOR, MONITOR_NAME, "monitor"), (CHIEF, CHIEF_NAME, "administrator"),
            ):  # fmt: skip
                user = await created(admin, "/api/users", {
                    "username": username, "display_name": display, "role": role,
                    "organisation_id": bureau["id"], "password": PASSWORD})  # fmt: skip
                if role == "monitor":
                    await created(admin, f"/api/users/{user['id']}/grants",
                                   {"kind": "channel", "target": rig.channel(0)})  # fmt: skip
            yield Rig(rig, admin, browser, folder)
        finally:
            await browser.close()
            await browsers.close()


async def test_an_anomaly_reported_live_reaches_the_administrator_who_orders_rectification(
    console: Rig,
) -> None:
    camera = console.rig.channel(0)
    chief = await console.page(CHIEF, "anomalies")
    await chief.wait_for_selector("#anomaly-count:text('0')")
    await chief.wait_for_selector("#an-rows td.muted")  # none yet

    # The monitor plays the camera and reports what is seen.
    monitor = await console.page(MONITOR, "live")
    await monitor.click("button.layout[data-layout='1']")
    await monitor.click(f"#tree .camera[data-channel='{camera}']")
    await monitor.wait_for_selector(".tile[data-index='0'][data-state='playing']", timeout=20_000)
    await monitor.click("#an-report-live")
    await monitor.fill("#an-description", DESCRIPTION)
    await monitor.fill("#an-category", "饲料库")
    await console.shoot(monitor, "anomaly-report-dialog")
    await monitor.click("#an-send")
    message = await monitor.wait_for_selector("#an-message[data-anomaly]")
    anomaly_id = await message.get_attribute("data-anomaly")
    assert "已报告异常" in (await message.text_content() or "")
    await monitor.click("#close-all")

    # The administrator's console says so at once, and the list holds it.
    await chief.wait_for_selector("#anomaly-count:text('1')", timeout=15_000)
    row = await chief.wait_for_selector(f"#an-rows tr[data-anomaly='{anomaly_id}']")
    assert "李监控" not in (await row.text_content() or "")  # the reporter by username
    assert "mon.li" in (await row.text_content() or "") and "待处理" in (
        await row.text_content() or ""
    )
    await console.shoot(chief, "anomaly-list")
    await row.click()
    await chief.wait_for_selector(f"#an-detail h3:has-text('#{anomaly_id}')")
    assert DESCRIPTION in (await chief.text_content("#an-detail") or "")

    # Its evidence clip: saved from the device's recordings, its SHA-256 shown and verified.
    for _ in range(60):
        await chief.click("#an-refresh")
        await chief.wait_for_selector(f"#an-detail h3:has-text('#{anomaly_id}')")
        if await chief.locator("#an-evidence li[data-state='ready'] button.verify").count():
            break
        await chief.wait_for_timeout(1000)
    clip = chief.locator("#an-evidence li[data-state='ready']")
    assert "SHA-256" in (await clip.locator(".sha").text_content() or "")
    await clip.locator("button.verify").click()
    await chief.wait_for_selector(".verify-result[data-valid='true']")
    assert "校验通过" in (await chief.text_content(".verify-result") or "")
    assert await chief.locator("#an-detail").get_by_text("null", exact=True).count() == 0
    await console.shoot(chief, "anomaly-evidence-verified")

    # The rectification order.
    await chief.fill("#an-order", "立即关闭饲料库门，登记进出人员并全面消毒")
    await chief.fill("#an-deadline", "2099-06-30T18:00")
    await chief.click("#an-order-send")
    await chief.wait_for_selector("#an-state:text('整改中')")
    assert "立即关闭饲料库门" in (await chief.text_content("#an-order-text") or "")
    await chief.wait_for_selector(f"#an-rows tr[data-anomaly='{anomaly_id}'][data-state="
                                  "'rectification_ordered']")  # fmt: skip
    await console.shoot(chief, "anomaly-rectification-ordered")
    status, stored = await console.admin.request("GET", f"/api/anomalies/{anomaly_id}")
    assert status == 200 and stored["rectification"]["ordered_by"] == CHIEF, stored
    assert stored["rectification"]["deadline"] == "2099-06-30T18:00:00"
    await monitor.context.close()
    await chief.context.close()
