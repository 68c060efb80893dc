"""Monitoring records in the console, in a real browser (Debian's chromium): a monitor plays
a 药库 (drug store) camera in the live view, opens "监控记录", answers the drug store's
checklist (regulation art. 13) point by point with a remark, and submits; the signed record
comes back with the snapshot the platform took, and shows on the records page with the
export and print links. Screenshots go to /tmp/console-shots/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.console_helpers import answered, first_tile_playing, save_shot
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS, log_in_through_page
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.li"
MONITOR_NAME = "李监控"
PASSWORD = "Records-Pass-2024"


@dataclass
class RecordsConsole:
    rig: LiveRig
    admin: Caller
    browser: Browser
    shots: Path
    farm: int

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RecordsConsole]:
    folder = tmp_path_factory.mktemp("records-console")
    env = {"FARMWATCH_MEDIA_WORKERS": "0", "FARMWATCH_MEDIA_IDLE_CLOSE": "1"}
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
            root = rig.server.organisation_id
            farm = await answered(admin, "POST", "/api/farms", {
                "name": "东台生猪养殖场", "filing_number": "3200GJ0001", "organisation_id": root,
            }, 201)  # fmt: skip
            await answered(
                admin,
                "PUT",
                f"/api/devices/{rig.fleet.device_ids[0]}/farm",
                {"farm_id": farm["id"]},
            )
            await answered(admin, "PUT", f"/api/channels/{rig.channel(0)}/placement",
                      {"key_area": "drug_store", "location": "Y-01"})  # fmt: skip
            user = await answered(admin, "POST", "/api/users", {
                "username": MONITOR, "display_name": MONITOR_NAME, "role": "monitor",
                "organisation_id": root, "password": PASSWORD,
            }, 201)  # fmt: skip
            await answered(admin, "POST", f"/api/users/{user['id']}/grants",
                      {"kind": "channel", "target": rig.channel(0)}, 201)  # fmt: skip
            yield RecordsConsole(rig, admin, browser, folder, farm["id"])
        finally:
            await browser.close()
            await browsers.close()


async def test_a_monitor_fills_the_drug_store_checklist_from_the_live_view(
    console: RecordsConsole,
) -> None:
    context = await console.browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN"
    )
    page = await context.new_page()
    await log_in_through_page(page, console.rig.base + "/", MONITOR, PASSWORD)
    await page.click("#nav-live")
    await page.click("button.layout[data-layout='1']")
    camera = console.rig.channel(0)
    await page.click(f"#tree .camera[data-channel='{camera}']")
    await first_tile_playing(page)
    assert (await page.text_content("#live-record")) == "监控记录"

    await page.click("#live-record")
    await page.wait_for_selector("#mr-form fieldset.point")
    legends = await page.eval_on_selector_all("#mr-form legend", "ns => ns.map(n => n.textContent)")
    assert legends == [
        "储存的药品来自公司允许使用的药物名录，并符合相关法律法规",
        "药库药品均有标识（品名、批次、成份）",
    ]
    # Submitting with a point unanswered is stopped in the form, naming it.
    await page.check("input[data-point='drug_store.permitted_list'][value='compliant']")
    await page.click("#mr-submit")
    assert "药库药品均有标识" in ((await page.text_content("#mr-error")) or "")
    await page.check("input[data-point='drug_store.labelled'][value='not_compliant']")
    await page.fill("input[data-remark='drug_store.labelled']", "两瓶兽药无批次")
    await page.fill("#mr-remark", "实时巡查药库")
    await console.shoot(page, "records-form")

    async with page.expect_response("**/monitoring-records") as answer:
        await page.click("#mr-submit")
    assert (await answer.value).status == 201
    card = await page.wait_for_selector(".record-card")
    assert card is not None
    text = (await card.text_content()) or ""
    assert f"{MONITOR_NAME}（{MONITOR}）" in text and "不符合" in text and "两瓶兽药无批次" in text
    await page.wait_for_function(
        "() => { const i = document.querySelector('.record-card img.snapshot');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    width = await page.eval_on_selector(".record-card img.snapshot", "i => i.naturalWidth")
    assert width == 320  # the simulator's picture, as the platform grabbed it
    await console.shoot(page, "records-signed")

    # What the browser sent is what the platform stored.
    page_of_records = await answered(
        console.admin, "GET", f"/api/monitoring-records?farm={console.farm}", None
    )
    (stored,) = page_of_records["records"]
    assert [(a["point"], a["answer"], a["remark"]) for a in stored["answers"]] == [
        ("drug_store.permitted_list", "compliant", ""),
        ("drug_store.labelled", "not_compliant", "两瓶兽药无批次"),
    ]
    assert stored["remark"] == "实时巡查药库" and stored["mode"] == "live"
    assert stored["signed_by"]["username"] == MONITOR

    await page.click("#mr-close")
    await page.click("#nav-records")
    row = await page.wait_for_selector(f"#mr-rows tr[data-record='{stored['id']}']")
    assert row is not None
    assert "东台生猪养殖场" in ((await row.text_content()) or "")
    assert (await page.get_attribute("#mr-csv", "href") or "").startswith(
        "/api/monitoring-records.csv?"
    )
    await row.click()
    await page.wait_for_selector("#mr-detail .record-card")
    assert "监控记录" in ((await page.text_content("#nav-records")) or "")
    await console.shoot(page, "records-page")
    # The record shows in its farm's history in the register, linked to the filtered page.
    await page.goto(f"{console.rig.base}/#/farms?id={console.farm}")
    await page.wait_for_selector(f"#farm-record-rows tr[data-record='{stored['id']}']")
    farm_row = await page.text_content(f"#farm-record-rows tr[data-record='{stored['id']}']")
    assert "药库" in (farm_row or "") and MONITOR_NAME in (farm_row or ""), farm_row
    await console.shoot(page, "records-farm-history")
    await page.click("#farm-records-all")
    await page.wait_for_selector(f"#mr-rows tr[data-record='{stored['id']}']")
    assert await page.input_value("#mr-farm") == str(console.farm)
    assert f"farm={console.farm}" in (await page.get_attribute("#mr-csv", "href") or "")
    await context.close()


async def test_a_monitor_records_what_a_playback_shows_at_its_recorded_time(
    console: RecordsConsole,
) -> None:
    """Art. 18: a record of recorded video refers to the time the picture was recorded, not
    to when it was watched. The monitor plays yesterday 08:00 from the device's recordings,
    opens "监控记录" in the playback view and submits; the stored record is a playback record
    whose recorded time is the position the player showed."""
    context = await console.browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN"
    )
    page = await context.new_page()
    await log_in_through_page(page, console.rig.base + "/", MONITOR, PASSWORD)
    await page.click("#nav-playback")
    camera = console.rig.channel(0)
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).date().isoformat()
    await page.fill("#pb-date", yesterday)
    await page.click(f"#tree .camera[data-channel='{camera}']")
    await page.wait_for_selector("#pb-search-state[data-finished='true']")
    box = await page.locator("#pb-timeline").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] * 8.02 / 24, box["y"] + box["height"] / 2)
    await first_tile_playing(page)
    await page.wait_for_function(
        "p => (document.querySelector('#pb-position').dataset.position || '').startsWith(p)",
        arg=f"{yesterday}T08:0",
    )
    assert (await page.text_content("#pb-record")) == "监控记录"
    await page.click("#pb-record")
    await page.wait_for_selector("#mr-form fieldset.point")
    heading = (await page.text_content("#mr-form")) or ""
    assert "· 回放 ·" in heading and f"{yesterday} 08:0" in heading, heading
    for point in await page.eval_on_selector_all(
        "#mr-form input[value='compliant']", "ns => ns.map(n => n.dataset.point)"
    ):
        await page.check(f"input[data-point='{point}'][value='compliant']")
    await page.fill("#mr-remark", "回看昨日早间药库")
    async with page.expect_response("**/monitoring-records") as answer:
        await page.click("#mr-submit")
    assert (await answer.value).status == 201
    await page.wait_for_selector(".record-card")
    await console.shoot(page, "records-playback")
    page_of_records = await answered(
        console.admin, "GET", f"/api/monitoring-records?farm={console.farm}", None
    )
    stored = next(r for r in page_of_records["records"] if r["remark"] == "回看昨日早间药库")
    assert stored["mode"] == "playback", stored
    assert stored["recorded_at"].startswith(f"{yesterday}T08:0"), stored["recorded_at"]
    assert {a["answer"] for a in stored["answers"]} == {"compliant"}
    await context.close()
