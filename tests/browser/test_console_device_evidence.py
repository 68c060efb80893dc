"""What a camera keeps as evidence, in the console, in Debian's chromium (issue 12): the
pictures the camera takes itself ([2022] SnapShotConfig, 设备抓拍 under the live view) and
the evidence clip cut around each alarm (报警记录, `[supervision] alarm_evidence`).

An inspector playing a camera clicks the tile's 抓拍: the camera uploads the pictures asked
for, the panel counts them in and shows the channel's pictures, each the bytes the platform
stored (its SHA-256, checked in the browser), one opened full size. A camera alarm shows its
clip saving and then saved (cut from the simulated device's recordings 3 s either side; the
platform records nothing here), the clip plays in the page, and 校验 shows the SHA-256 of
the file the platform serves; an alarm of the device itself gets no clip and says so.
Screenshots go to the test's folder and to /tmp/console-shots/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from farmwatch.simulator.record_settings import RecordSettings
from tests.browser.console_helpers import console_page, save_shot
from tests.e2e.live_helpers import SMALL_PICTURE, LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

PICTURES = 3


@dataclass
class Rig:
    rig: LiveRig
    browser: Browser
    shots: Path

    async def page(self, menu: str) -> Page:
        return await console_page(self.browser, self.rig.base, ADMIN, ADMIN_PASSWORD, menu)

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name, full_page=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    folder = tmp_path_factory.mktemp("console-device-evidence")
    env = {
        "FARMWATCH_MEDIA_WORKERS": "0",
        "FARMWATCH_REGISTRAR_CONTROL_TIMEOUT": "3",
        # Short clips, fetched from the device's recordings once the 3 s after have passed.
        "FARMWATCH_SUPERVISION_ALARM_EVIDENCE": "true",
        "FARMWATCH_SUPERVISION_EVIDENCE_BEFORE": "3",
        "FARMWATCH_SUPERVISION_EVIDENCE_AFTER": "3",
    }
    async with (
        live_rig(folder, channels=2, records=RecordSettings(missing_fraction=0.0), env=env) as rig,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield Rig(rig, browser, folder)
        finally:
            await browser.close()


async def test_the_pictures_a_camera_is_asked_for_arrive_in_the_live_view(console: Rig) -> None:
    rig = console.rig
    camera, device = rig.channel(1), rig.fleet.devices[0]
    page = await console.page("live")
    await page.click("button.layout[data-layout='1']")
    await page.click(f"#tree .camera[data-channel='{camera}']")
    await page.wait_for_selector(".tile[data-index='0'][data-state='playing']", timeout=20_000)
    await expect(page.locator("#snap-camera")).to_contain_text(camera)
    await expect(page.locator("#snap-gallery")).to_contain_text("该摄像机尚无设备抓拍图片")

    await page.select_option("#snap-count", str(PICTURES))
    await page.fill("#snap-interval", "1")
    await page.click(".tile[data-index='0'] .tile-snap")  # the tile's own 抓拍
    await page.wait_for_selector(f"#snapshots[data-received='{PICTURES}']", timeout=30_000)
    done = f"抓拍完成，收到 {PICTURES}/{PICTURES}"
    await expect(page.locator("#snap-status")).to_contain_text(done)
    session = await page.get_attribute("#snapshots", "data-session")

    # What the camera did and what the platform stored are what the page shows.
    (run,) = device.snapshots.runs
    assert run.config.session_id == session and run.channel_id == camera
    assert run.statuses == [201] * PICTURES
    status, listed = await rig.get(f"/api/channels/{camera}/device-snapshots")
    assert status == 200, listed
    stored = [p for p in listed["snapshots"] if p["session_id"] == session]
    assert len(stored) == PICTURES
    items = page.locator("#snap-gallery li[data-snapshot]")
    await expect(items).to_have_count(PICTURES)
    shown = [
        (int(await item.get_attribute("data-snapshot") or 0),
         await item.get_attribute("data-sha256"), int(await item.get_attribute("data-size") or 0))
        for item in await items.all()
    ]  # fmt: skip
    assert shown == [(p["id"], p["sha256"], p["size"]) for p in stored]  # newest first
    for item in await items.all():  # every thumbnail is the camera's picture, decoded
        await expect(item.locator("img.snap-thumb")).to_have_js_property(
            "naturalWidth", SMALL_PICTURE.width
        )

    # 校验: the bytes the browser received hash to what the platform recorded — also with
    # the console's own SHA-256, used where the page is not a secure context.
    first = items.first
    await first.locator("button.snap-verify").click()
    result = first.locator(".verify-result")
    await expect(result).to_have_attribute("data-valid", "true")
    assert await result.get_attribute("data-computed") == stored[0]["sha256"]
    assert "校验通过" in (await result.text_content() or "")
    plain = await page.evaluate(
        """async (url) => {
             const { sha256Plain } = await import("/console/sha256.js");
             const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
             return sha256Plain(bytes);
           }""",
        stored[0]["url"],
    )
    assert plain == stored[0]["sha256"]
    await console.shoot(page, "device-snapshots-gallery")

    await first.locator("button.snap-open").click()
    await expect(page.locator("#snap-full")).to_have_js_property(
        "naturalHeight", SMALL_PICTURE.height
    )
    await expect(page.locator("#snap-dialog")).to_contain_text(stored[0]["sha256"])
    await console.shoot(page, "device-snapshot-full-size")
    await page.click("#snap-close")
    await expect(page.locator("#snap-dialog")).to_have_count(0)
    await page.click("#close-all")
    await page.context.close()


async def video_plays(page: Page, selector: str) -> None:
    """Once the <video> has a frame to show and its time advances while it plays."""
    await page.eval_on_selector(selector, "video => { video.muted = true; return video.play(); }")
    async with asyncio.timeout(20):
        while True:
            ready, first = await page.eval_on_selector(
                selector, "video => [video.readyState, video.currentTime]"
            )
            if ready >= 2 and first > 0:
                break
            await asyncio.sleep(0.2)
        while True:
            ready, later = await page.eval_on_selector(
                selector, "video => [video.readyState, video.currentTime]"
            )
            if ready >= 2 and later > first + 0.5:
                return
            await asyncio.sleep(0.2)


async def test_an_alarm_shows_its_evidence_clip_which_plays_and_verifies(console: Rig) -> None:
    rig = console.rig
    camera, device = rig.channel(0), rig.fleet.devices[0]
    page = await console.page("alarms")
    await expect(page.locator("#al-rows")).to_contain_text("没有报警")

    # A camera's alarm, and one of the device itself (no video: no clip).
    assert await device.send_alarm(0, priority=1, method=5, description="移动侦测") == 200
    assert await device.send_alarm(device.device_id, priority=3, method=6,
                                   description="设备故障") == 200  # fmt: skip
    status, page_of = await rig.get("/api/alarms")
    assert status == 200, page_of
    async with asyncio.timeout(10):
        while len(page_of["alarms"]) < 2:
            await asyncio.sleep(0.2)
            status, page_of = await rig.get("/api/alarms")
    by_source = {alarm["channel_id"]: alarm for alarm in page_of["alarms"]}
    alarm, fault = by_source[camera], by_source[device.device_id]

    # The page learns of both from the bell's feed; the device's own says it has no clip.
    row = page.locator(f"#al-rows tr[data-alarm='{alarm['id']}']")
    await expect(row).to_contain_text("一级警情")
    await expect(row).to_contain_text("视频报警")
    fault_row = page.locator(f"#al-rows tr[data-alarm='{fault['id']}']")
    await expect(fault_row).to_have_attribute("data-clip-state", "none")
    await expect(fault_row).to_contain_text("无证据录像")

    # The camera's: saving, then saved — the page looks again by itself (every 5 s: the
    # saving may be over before the page sees it).
    seen = []
    async with asyncio.timeout(90):
        while (state := await row.get_attribute("data-clip-state")) != "ready":
            if state not in seen:
                seen.append(state)
                if state == "pending":
                    assert "证据录像保存中" in (await row.text_content() or "")
                    await console.shoot(page, "alarm-clip-pending")
            await asyncio.sleep(0.2)
    assert set(seen) <= {"none", "pending"}, seen
    await expect(row).to_contain_text("证据录像已保存")
    await row.click()
    await expect(page.locator("#al-detail h3")).to_contain_text(f"#{alarm['id']}")
    await video_plays(page, "#al-video")

    await page.click("#al-verify")
    await expect(page.locator("#al-verify-result")).to_have_attribute("data-valid", "true")
    assert "校验通过" in (await page.text_content("#al-verify-result") or "")
    sha256 = await page.get_attribute("#al-sha", "data-sha256")
    status, verified = await rig.get(f"/api/alarms/{alarm['id']}/clip/verify")
    assert status == 200 and verified["valid"] is True, verified
    assert sha256 == verified["sha256"]
    download = await page.get_attribute("#al-download", "href")
    async with rig.http.get(rig.base + (download or "")) as response:
        assert response.status == 200
        assert hashlib.sha256(await response.read()).hexdigest() == sha256
    await console.shoot(page, "alarm-clip-verified")

    # In English too.
    await page.click("#language")
    await expect(page.locator(f"#al-rows tr[data-alarm='{fault['id']}']")).to_contain_text(
        "no clip"
    )
    await expect(page.locator(f"#al-rows tr[data-alarm='{alarm['id']}']")).to_contain_text(
        "clip saved"
    )
    await console.shoot(page, "alarm-list-en")
    await page.click("#language")
    await page.context.close()
