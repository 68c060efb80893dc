"""The farm register page of the console in a real browser (Debian's chromium; regulation
art. 5–6, issue 11 item 1): an administrator enrols a farm through its form, records its
survey and approval, uploads an application document and verifies it, and sees the farm's
cameras with their key areas; a monitor sees only the farm their grant touches, read-only.
Screenshots go to the test's folder and to /tmp/console-shots/ for a person to look at."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from farmwatch.simulator import PictureMode
from tests.browser.console_helpers import console_page, created, save_shot
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.li"
PASSWORD = "Console-Pass-2024"
APPLICATION = "出口畜禽备案养殖场书面申请（扫描件）\n".encode() * 40


@dataclass
class FarmsRig:
    rig: LiveRig
    admin: Caller
    browser: Browser
    shots: Path
    bureau: int

    async def page(self, username: str, password: str) -> Page:
        return await console_page(
            self.browser, self.rig.base, username, password, "farms", height=1000
        )

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def farms(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FarmsRig]:
    folder = tmp_path_factory.mktemp("console-farms")
    async with (
        live_rig(folder, channels=2, env={"FARMWATCH_MEDIA_WORKERS": "0"}) as rig,
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
                admin, "/api/organisations",
                {"name": "江苏局", "tier": "bureau", "parent_id": rig.server.organisation_id},
            )  # fmt: skip
            yield FarmsRig(rig, admin, browser, folder, bureau["id"])
        finally:
            await browser.close()
            await browsers.close()


async def _text(page: Page, selector: str) -> str:
    return (await page.text_content(selector)) or ""


async def test_an_administrator_enrols_a_farm_and_moves_its_state(farms: FarmsRig) -> None:
    page = await farms.page(ADMIN, ADMIN_PASSWORD)
    await page.wait_for_selector("#farm-enrol")
    assert await _text(page, "#nav-farms") == "养殖场"
    await page.fill("#farm-f-name", "东台生猪养殖场")
    await page.fill("#farm-f-filing", "3200GJ0001")
    await page.fill("#farm-f-operator", "东台市牧业有限公司")
    await page.fill("#farm-f-phone", "0515-8521 0000")
    await page.fill("#farm-f-address", "江苏省东台市富安镇")
    await page.select_option("#farm-f-species", "pig")
    await page.select_option("#farm-f-org", str(farms.bureau))
    await page.fill("#farm-f-applied", "2025-03-01")
    await page.fill("#farm-f-remark", "书面申请已收")
    await page.click("#farm-enrol button[type=submit]")
    await page.wait_for_selector("#farm-heading")
    assert "申请" in await _text(page, "#farm-state-current")
    # The survey, then the approval, each a decision with its date and remark.
    for state, day, remark, label in (
        ("surveyed", "2025-03-05", "现场勘测合格", "考核"),
        ("approved", "2025-03-10", "准予备案", "备案"),
    ):
        await page.select_option("#farm-next", state)
        await page.fill("#farm-date", day)
        await page.fill("#farm-decision-remark", remark)
        await page.click("#farm-decide button[type=submit]")
        await page.wait_for_selector(f"#farm-state-current:has-text('{label}')")
    rows = await page.locator("#farm-history tbody tr").all_inner_texts()
    assert len(rows) == 3 and "准予备案" in rows[2] and "2025-03-10" in rows[2]
    # An application document, uploaded and verified.
    await page.set_input_files(
        "#farm-doc-file",
        {"name": "书面申请.pdf", "mimeType": "application/pdf", "buffer": APPLICATION},
    )
    await page.fill("#farm-doc-remark", "申请书扫描件")
    await page.click("#farm-doc-upload button[type=submit]")
    await page.wait_for_selector("#farm-doc-rows tr >> text=书面申请.pdf")
    await page.click("#farm-doc-rows button.verify")
    await page.wait_for_selector("#farm-doc-rows .verdict-cell.ok")
    # What the server keeps is what was sent.
    status, page_of_farms = await farms.admin.request("GET", "/api/farms?q=3200GJ0001")
    assert status == 200 and page_of_farms["farms"][0]["state"] == "approved"
    farm_id = page_of_farms["farms"][0]["id"]
    status, details = await farms.admin.request("GET", f"/api/farms/{farm_id}")
    assert details["documents"][0]["sha256"] == hashlib.sha256(APPLICATION).hexdigest()
    assert details["operator"] == "东台市牧业有限公司"
    await farms.shoot(page, "farm-detail-admin")
    # The device goes on the farm; its cameras show with their key areas.
    device = farms.rig.fleet.device_ids[0]
    status, _ = await farms.admin.request(
        "PUT", f"/api/devices/{device}/farm", {"farm_id": farm_id}
    )
    assert status == 200
    status, _ = await farms.admin.request(
        "PUT", f"/api/channels/{farms.rig.channel(0)}/placement",
        {"key_area": "animal_house", "location": "A-01", "model": "DS-2CD3T46",
         "access_method": "via_nvr"},
    )  # fmt: skip
    assert status == 200
    await page.reload()
    await page.wait_for_selector(f"#farm-camera-rows tr[data-channel='{farms.rig.channel(0)}']")
    camera_row = await _text(
        page, f"#farm-camera-rows tr[data-channel='{farms.rig.channel(0)}']:not(.diag-detail)"
    )
    assert (
        "畜禽舍" in camera_row and "DS-2CD3T46" in camera_row and "经硬盘录像机接入" in camera_row
    )
    await farms.shoot(page, "farm-detail-cameras")
    await _picture_diagnosis_shows_and_is_taken_on_request(farms, page)
    await page.click("#farm-back")
    await page.wait_for_selector("#farm-rows tr[data-farm='3200GJ0001']")
    assert "备案" in await _text(page, "#farm-rows tr[data-farm='3200GJ0001']")
    await farms.shoot(page, "farm-list-admin")
    await page.context.close()


async def _picture_diagnosis_shows_and_is_taken_on_request(farms: FarmsRig, page: Page) -> None:
    """Issue 11 item 5: each camera's picture verdict in the farm's camera list; an
    administrator samples one now (the server INVITEs the simulator and decodes a keyframe)
    and its samples show, a black picture named as such."""
    channel = farms.rig.channel(0)
    row = f"#farm-camera-rows tr[data-channel='{channel}']:not(.diag-detail)"
    assert "未检测" in await _text(page, f"{row} .diag-state")
    await page.click(f"{row} .diag-now")
    await page.wait_for_selector(f"{row} .diag-state .ok:has-text('正常')")
    detail = f"#farm-camera-rows tr.diag-detail[data-channel='{channel}']"
    assert await page.locator(f"{detail} tbody tr[data-outcome='passed']").count() == 1
    await farms.rig.fleet.devices[0].set_picture(0, PictureMode.BLACK)
    # The black picture shows from the simulator's next keyframe (one a second) on.
    for _ in range(5):
        await page.click(f"{row} .diag-now")
        await page.wait_for_selector("#farm-message:has-text('检测完成')")
        if "黑屏" in await _text(page, f"{row} .diag-state"):
            break
        await page.evaluate("document.querySelector('#farm-message').textContent = ''")
    assert "黑屏" in await _text(page, f"{row} .diag-state .bad")
    newest = await page.locator(f"{detail} tbody tr").first.inner_text()
    assert "黑屏" in newest, newest
    status, found = await farms.admin.request("GET", f"/api/channels/{channel}/diagnosis")
    assert status == 200 and "black" in found["state"]["failures"], found
    await farms.shoot(page, "farm-camera-diagnosis")
    await farms.rig.fleet.devices[0].set_picture(0, PictureMode.NORMAL)
    # The history folds away and opens again from the server's record.
    await page.click(f"{row} .diag-toggle")
    assert await page.locator(detail).is_hidden()
    await page.click(f"{row} .diag-toggle")
    await page.wait_for_selector(f"{detail} tbody tr[data-outcome='failed']")


async def test_a_monitor_reads_only_the_farm_their_grant_touches(farms: FarmsRig) -> None:
    admin = farms.admin
    mine = await created(admin, "/api/farms", {
        "name": "富安蛋鸡场", "filing_number": "3200GJ0002", "organisation_id": farms.bureau,
        "species": "poultry",
    })  # fmt: skip
    await created(admin, "/api/farms", {
        "name": "别人的牛场", "filing_number": "3200GJ0003", "organisation_id": farms.bureau,
        "species": "cattle",
    })  # fmt: skip
    device = farms.rig.fleet.device_ids[0]
    status, _ = await admin.request("PUT", f"/api/devices/{device}/farm", {"farm_id": mine["id"]})
    assert status == 200
    user = await created(admin, "/api/users", {
        "username": MONITOR, "display_name": "李监控", "role": "monitor",
        "organisation_id": farms.bureau, "password": PASSWORD,
    })  # fmt: skip
    status, _ = await admin.request(
        "POST",
        f"/api/users/{user['id']}/grants",
        {"kind": "channel", "target": farms.rig.channel(1)},
    )
    assert status == 201
    page = await farms.page(MONITOR, PASSWORD)
    await page.wait_for_selector("#farm-rows tr")
    assert await page.locator("#farm-rows tr").all_inner_texts() == [
        "3200GJ0002\t富安蛋鸡场\t江苏局\t\t禽\t申请"
    ]
    assert await page.locator("#farm-enrol").count() == 0
    await farms.shoot(page, "farm-list-monitor")
    await page.click("#farm-rows a")
    await page.wait_for_selector("#farm-particulars")
    for form in ("#farm-edit", "#farm-decide", "#farm-doc-upload"):
        assert await page.locator(form).count() == 0, form
    assert await page.locator("#farm-camera-rows .diag-now").count() == 0  # administrators'
    cameras = await page.locator("#farm-camera-rows tr:not(.diag-detail)").count()
    assert cameras == 1  # only the camera granted to them
    await farms.shoot(page, "farm-detail-monitor")
    await page.context.close()
