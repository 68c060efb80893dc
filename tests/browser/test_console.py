"""The console in a real browser (issue 10 §5): Debian's chromium (never a downloaded one)
logs in through the login page, and the tests look at what a person sees — the refused
password and the lock, a monitor's tree holding only the cameras granted to them, four
simulated cameras decoding at once in a 4-tile layout with the viewer's name over each
tile, the day's recordings on the playback timeline and a seek by clicking it, and the
administration pages.

One platform and one simulated device (five cameras with recordings) serve the whole
module. Screenshots of the main pages go to the test's folder and, for a person to look
at, to /tmp/console-shots/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from farmwatch.simulator import running_simulator
from farmwatch.simulator.record_settings import RecordSettings
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.test_pattern import VideoCodec
from tests.browser.console_helpers import FRAMES_DECODED, console_page, created, save_shot
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import PLATFORM, LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS, log_in_through_page
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.wang"
MONITOR_NAME = "王监控"
PASSWORD = "Console-Pass-2024"
LOCKOUT_FAILURES = 3
GRANTED = 4  # of the device's five cameras


@dataclass
class ConsoleRig:
    rig: LiveRig
    admin: Caller
    browser: Browser
    shots: Path

    @property
    def base(self) -> str:
        return self.rig.base

    def camera(self, index: int) -> str:
        return self.rig.channel(index)

    async def page(self, username: str, password: str, menu: str = "live") -> Page:
        """A new browser context (its own cookies) logged in as `username`, on the console's
        page `menu` (chosen in the menu, as a person does)."""
        return await console_page(self.browser, self.base, username, password, menu)

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name, full_page=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleRig]:
    folder = tmp_path_factory.mktemp("console")
    env = {
        "FARMWATCH_ACCESS_LOCKOUT_FAILURES": str(LOCKOUT_FAILURES),
        "FARMWATCH_ACCESS_THROTTLE_PER_SOURCE": "1000",
        "FARMWATCH_MEDIA_WORKERS": "0",
        # Streams end 5 s after their last viewer: none is left for the shutdown to end. A
        # stream that no viewer has joined yet closes after the same time, so it must cover
        # a loaded machine's gap between POST /live and the browser's WebRTC offer (at 1 s,
        # tiles were seen to end before they played).
        "FARMWATCH_MEDIA_IDLE_CLOSE": "5",
    }
    async with (
        live_rig(folder, channels=5, records=RecordSettings(), env=env) as rig,
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
            bureau = await created(
                admin, "/api/organisations", {"name": "江苏局", "tier": "bureau", "parent_id": root}
            )
            farm = await created(
                admin, "/api/farms",
                {"name": "东台生猪养殖场", "filing_number": "3200GJ0001",
                 "organisation_id": bureau["id"]},
            )  # fmt: skip
            device = rig.fleet.device_ids[0]
            status, _ = await admin.request(
                "PUT", f"/api/devices/{device}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200
            for username, display, role in (
                (MONITOR, MONITOR_NAME, "monitor"), ("lock.me", "锁定测试", "monitor"),
            ):  # fmt: skip
                user = await created(
                    admin, "/api/users",
                    {"username": username, "display_name": display, "role": role,
                     "organisation_id": bureau["id"], "password": PASSWORD},
                )  # fmt: skip
                if username == MONITOR:
                    for index in range(GRANTED):
                        status, _ = await admin.request(
                            "POST", f"/api/users/{user['id']}/grants",
                            {"kind": "channel", "target": rig.channel(index)},
                        )  # fmt: skip
                        assert status == 201
            yield ConsoleRig(rig, admin, browser, folder)
            # The tests closed their tiles: the device's calls end by themselves.
            async with asyncio.timeout(20):
                while rig.fleet.devices[0].calls:
                    await asyncio.sleep(0.1)
        finally:
            await browser.close()
            await browsers.close()


async def _text(page: Page, selector: str) -> str:
    return (await page.text_content(selector)) or ""


async def test_a_wrong_password_is_refused_and_the_account_locks(console: ConsoleRig) -> None:
    context = await console.browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(console.base + "/")
    assert page.url.startswith(console.base + "/login")
    messages = []
    for _ in range(LOCKOUT_FAILURES + 1):
        await page.fill("#username", "lock.me")
        await page.fill("#password", "Wrong-Pass-0000")
        async with page.expect_response("**/api/login"):
            await page.click("#submit")
        messages.append(await _text(page, "#message"))
    assert messages[0].startswith("用户名或密码错误")
    assert messages[LOCKOUT_FAILURES - 2].startswith("用户名或密码错误")
    assert messages[-1].startswith("账户已锁定"), messages
    # Locked: the right password does not open it either.
    await page.fill("#password", PASSWORD)
    async with page.expect_response("**/api/login") as answer:
        await page.click("#submit")
    assert (await answer.value).status == 423
    assert (await _text(page, "#message")).startswith("账户已锁定")
    assert page.url.startswith(console.base + "/login")
    await console.shoot(page, "login-locked")
    await context.close()


async def _tree_cameras(page: Page) -> list[str]:
    await page.wait_for_selector("#tree .camera")
    return list(
        await page.eval_on_selector_all(
            "#tree .camera", "nodes => nodes.map(n => n.dataset.channel)"
        )
    )


TILE_STATES = """
() => [...document.querySelectorAll(".tile")].map((n) => `${n.dataset.state}: ${n.textContent}`)
"""


async def _frames(page: Page, minimum: int, tiles: int, timeout: float) -> list[int]:
    """Every tile's decoded frames, once each of the first `tiles` has at least `minimum`."""
    decoded: list[int] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                decoded = [int(n) for n in await page.evaluate(FRAMES_DECODED)]
                if len(decoded) >= tiles and min(decoded[:tiles]) >= minimum:
                    return decoded
                await asyncio.sleep(0.2)
    except TimeoutError:
        states = await page.evaluate(TILE_STATES)
        raise AssertionError(f"frames {decoded} < {minimum} after {timeout} s: {states}") from None


async def test_a_monitor_sees_only_granted_cameras_and_plays_four_tiles(
    console: ConsoleRig,
) -> None:
    page = await console.page(MONITOR, PASSWORD)
    cameras = await _tree_cameras(page)
    assert sorted(cameras) == sorted(console.camera(i) for i in range(GRANTED))
    assert console.camera(GRANTED) not in cameras
    # No administration in the menu for a monitor: live view, playback, monitoring records,
    # the farm register, fault tickets, anomalies, alarms, spot checks, the overview.
    assert await page.locator("#nav a").count() == 9
    assert await page.locator("#nav-users").count() == 0
    assert "东台生猪养殖场" in await _text(page, "#tree")
    # The tree's search narrows it down.
    await page.fill("#tree-search", console.camera(1)[-4:])
    assert await _tree_cameras(page) == [console.camera(1)]
    await page.fill("#tree-search", "")

    await page.click("button.layout[data-layout='4']")
    await page.click(".tile[data-index='0']")
    for index in range(GRANTED):
        await page.click(f"#tree .camera[data-channel='{console.camera(index)}']")
        await page.wait_for_selector(f".tile[data-index='{index}']:not([data-state='empty'])")
    first = await _frames(page, 5, GRANTED, timeout=20)
    later = await _frames(page, 1, GRANTED, timeout=5)
    async with asyncio.timeout(10):
        while not all(b > a for a, b in zip(first, later[:GRANTED], strict=True)):
            later = await _frames(page, 1, GRANTED, timeout=5)
            await asyncio.sleep(0.2)
    states = await page.eval_on_selector_all(".tile", "nodes => nodes.map(n => n.dataset.state)")
    assert states == ["playing"] * GRANTED
    # The watermark: the viewer's name and the time over every tile.
    marks = await page.eval_on_selector_all(
        ".tile .watermark", "nodes => nodes.map(n => n.textContent)"
    )
    assert len(marks) == GRANTED and all(MONITOR_NAME in mark and MONITOR in mark for mark in marks)
    now = datetime.now().strftime("%Y-%m-%d %H:")
    assert all(now in mark for mark in marks) or all(
        (datetime.now() - timedelta(minutes=1)).strftime("%Y-%m-%d %H:") in m for m in marks
    )
    await console.shoot(page, "live-4-tiles")
    # The tiles remember their cameras: a reload plays the same four again.
    await page.reload()
    await _frames(page, 5, GRANTED, timeout=20)
    titles = await page.eval_on_selector_all(
        ".tile .tile-title", "nodes => nodes.map(n => n.title)"
    )
    assert titles == [console.camera(i) for i in range(GRANTED)]
    await page.click("#close-all")
    await page.wait_for_selector(".tile:not([data-state='empty'])", state="detached")
    # English on demand.
    await page.click("#language")
    await page.wait_for_selector("#nav-live:text('Live view')")
    await page.click("#language")
    await page.context.close()


async def test_tiles_close_when_nobody_is_at_the_screen(console: ConsoleRig) -> None:
    context = await console.browser.new_context(locale="zh-CN")
    # This browser's console closes idle tiles after 3 s instead of 15 minutes.
    await context.add_init_script("localStorage.setItem('farmwatch.idleMinutes', '0.05')")
    page = await context.new_page()
    await log_in_through_page(page, console.base + "/", MONITOR, PASSWORD)
    await page.click("button.layout[data-layout='1']")
    await page.click(f"#tree .camera[data-channel='{console.camera(2)}']")
    await page.wait_for_selector(".tile[data-state='playing']", timeout=15_000)
    await page.wait_for_selector(".tile[data-state='closed']", timeout=10_000)
    assert "长时间未操作，已关闭" in await _text(page, ".tile .tile-state")
    assert await page.evaluate("() => window.farmwatchTiles[0].session") is None
    await page.click(".tile .retry")  # a click plays the same camera again
    await page.wait_for_selector(".tile[data-state='playing']", timeout=15_000)
    await page.click(".tile .tile-close")
    await page.wait_for_selector(".tile[data-state='empty']")
    await context.close()


H265_PLAYABLE = """
() => typeof MediaSource !== "undefined" &&
  MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"')
"""


async def test_an_h265_camera_plays_through_mse_or_says_why_not(console: ConsoleRig) -> None:
    """H.265 is not WebRTC's: the tile plays the fMP4 through MSE where this chromium
    decodes H.265, and says so plainly where it does not (never a tile waiting forever)."""
    h265 = StreamSettings(codec=VideoCodec.H265, width=320, height=180, fps=25, bitrate=300_000)
    server = ("127.0.0.1", console.rig.server.sip_port)
    async with running_simulator(
        server=server, server_id=PLATFORM, devices=1, channels=1, device_id_base=100,
        media=h265,
    ) as fleet:  # fmt: skip
        camera = fleet.devices[0].channels.items[0].device_id
        assert camera not in {console.camera(i) for i in range(5)}
        await fleet.prepare_media()  # the tile's INVITE is not about the simulator's encoder
        page = await console.page(ADMIN, ADMIN_PASSWORD)  # on no farm: the top administrator's
        await page.click("button.layout[data-layout='1']")
        await page.click(f"#tree .camera[data-channel='{camera}']")
        if await page.evaluate(H265_PLAYABLE):
            await page.wait_for_selector(".tile[data-state='playing']", timeout=20_000)
            await _frames(page, 10, 1, timeout=10)
        else:
            await page.wait_for_selector(".tile[data-state='error']", timeout=20_000)
            assert "H.265" in await _text(page, ".tile .tile-state")
            assert await page.evaluate("() => window.farmwatchTiles[0].session") is None
        await console.shoot(page, "live-h265")
        await page.click(".tile .tile-close")
        await page.context.close()
        async with asyncio.timeout(20):
            while fleet.devices[0].calls:
                await asyncio.sleep(0.1)


async def test_the_playback_page_shows_the_days_recordings_and_seeks(console: ConsoleRig) -> None:
    page = await console.page(ADMIN, ADMIN_PASSWORD, "playback")
    await page.wait_for_selector("#tree .camera")
    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).date().isoformat()
    await page.fill("#pb-date", yesterday)
    await page.click(f"#tree .camera[data-channel='{console.camera(0)}']")
    await page.wait_for_selector("#pb-search-state[data-finished='true']", timeout=15_000)
    painted = int(await page.get_attribute("#pb-segments", "data-count") or 0)
    status, search = await console.admin.request(
        "GET",
        f"/api/channels/{console.camera(0)}/records?start={yesterday}T00:00:00"
        f"&end={yesterday}T23:59:59&source=all",
    )
    assert status == 200 and painted == len(search["records"]) > 10
    box = await page.locator("#pb-timeline").bounding_box()
    assert box is not None

    async def click_at(hours: float) -> None:
        await page.mouse.click(box["x"] + box["width"] * hours / 24, box["y"] + box["height"] / 2)

    async def position_starts(prefix: str) -> None:
        async with asyncio.timeout(15):
            while not (await page.get_attribute("#pb-position", "data-position") or "").startswith(
                prefix
            ):
                await asyncio.sleep(0.2)

    await click_at(8.02)
    await _frames(page, 5, 1, timeout=20)
    await position_starts(f"{yesterday}T08:0")
    await click_at(10.52)  # a seek within the open playback
    await position_starts(f"{yesterday}T10:3")
    frames = (await _frames(page, 1, 1, timeout=5))[0]
    await _frames(page, frames + 10, 1, timeout=10)
    await page.select_option("#pb-speed", "4")
    async with asyncio.timeout(10):
        while "×4" not in await _text(page, "#pb-position"):
            await asyncio.sleep(0.2)
    await console.shoot(page, "playback")
    # A download of 20 recorded seconds: its progress, then the file's link.
    await page.fill("#dl-from", "09:00:00")
    await page.fill("#dl-to", "09:00:20")
    await page.click("#dl-start")
    await page.wait_for_selector("#dl-list li[data-state='completed'] a", timeout=20_000)
    link = await page.get_attribute("#dl-list li a", "href") or ""
    # The same person's other login sees the task as the page showed it.
    status, task = await console.admin.request("GET", link.removesuffix("/file"))
    assert status == 200 and task["state"] == "completed" and task["progress"] == 1, task
    assert "已完成 100%" in await _text(page, "#dl-list li .dl-state")
    await page.click(".tile .tile-close")
    await page.wait_for_selector(".tile[data-state='empty']")
    await page.context.close()


async def test_administration_pages(console: ConsoleRig) -> None:
    page = await console.page(ADMIN, ADMIN_PASSWORD, "devices")
    camera = console.camera(0)
    row = f"#dev-list tr[data-channel='{camera}']"
    await page.wait_for_selector(row)
    await page.select_option(f"{row} select.key-area", "animal_house")
    await page.fill(f"{row} input.location", "猪舍-03")
    await page.click(f"{row} button.save-place")
    await page.wait_for_selector("#dev-message:text('已保存')")
    await console.shoot(page, "devices")
    await page.click("#nav-live")
    await page.wait_for_selector(f"#tree .camera[data-channel='{camera}'] .area:text('畜禽舍')")
    assert await _text(page, f"#tree .camera[data-channel='{camera}'] .location") == "猪舍-03"
    await page.click("#nav-users")
    await page.wait_for_selector(f"#users-rows tr[data-user='{MONITOR}']")
    await page.click(f"#users-rows tr[data-user='{MONITOR}'] button.link")
    await page.wait_for_selector(f"#grants li[data-target='{console.camera(0)}']")
    await console.shoot(page, "users")
    await page.click("#nav-audit")
    await page.wait_for_selector("#audit-verdict[data-intact='true']")
    await page.wait_for_selector("#audit-rows tr[data-action='config_change']")
    await console.shoot(page, "audit")
    await page.context.close()


async def test_the_device_page_shows_the_edition_and_sets_the_stream_dialect(
    console: ConsoleRig,
) -> None:
    """An administrator onboarding a Dahua NVR picks its sub-stream request in a select; the
    platform stores it with the device (the API says so), and "as configured" undoes it."""
    device = console.rig.fleet.device_ids[0]
    page = await console.page(ADMIN, ADMIN_PASSWORD, "devices")
    card = f"#dev-list .device-card[data-device='{device}']"
    effect = f"{card} .dialect-effective"
    await page.wait_for_selector(f"{effect}[data-source='default'][data-dialect='auto']")
    assert await _text(page, f"{card} .gb-edition") == "GB/T 28181-2022 (X-GB-Ver 3.0)"
    assert await page.input_value(f"{card} select.stream-dialect") == ""  # as configured
    labels = await page.eval_on_selector_all(
        f"{card} select.stream-dialect option", "options => options.map(o => o.textContent)"
    )
    assert labels[0] == "按配置" and "streamprofile（大华）" in labels, labels
    await page.select_option(f"{card} select.stream-dialect", "streamprofile")
    await page.click(f"{card} button.save-dialect")
    await page.wait_for_selector("#dev-message:text('已保存')")
    await page.wait_for_selector(f"{effect}[data-source='device'][data-dialect='streamprofile']")
    assert "设备设置" in await _text(page, effect)
    assert await page.input_value(f"{card} select.stream-dialect") == "streamprofile"
    status, stored = await console.admin.request("GET", f"/api/devices/{device}")
    assert status == 200 and stored["stream_dialect"]["setting"] == "streamprofile", stored
    await console.shoot(page, "devices-stream-dialect")
    # Back to the configuration, which the other tests of the module play with.
    await page.select_option(f"{card} select.stream-dialect", "")
    await page.click(f"{card} button.save-dialect")
    await page.wait_for_selector(f"{effect}[data-source='default'][data-dialect='auto']")
    status, stored = await console.admin.request("GET", f"/api/devices/{device}")
    assert status == 200 and stored["stream_dialect"]["setting"] is None, stored
    await page.context.close()


async def test_small_tiles_take_the_sub_stream_and_the_pad_steers_the_selected_camera(
    console: ConsoleRig,
) -> None:
    page = await console.page(ADMIN, ADMIN_PASSWORD)
    device, camera = console.rig.fleet.devices[0], console.camera(0)
    await page.click("button.layout[data-layout='9']")
    await page.click(".tile[data-index='0']")
    await page.click(f"#tree .camera[data-channel='{camera}']")
    await _frames(page, 3, 1, timeout=20)
    # A ninth of the screen asks for the camera's sub-stream (the simulator's smaller one).
    # (An earlier test's main-stream call of this camera may still linger for idle_close.)
    calls = [c for c in device.calls if c.channel_id == camera and c.playback is None]
    assert [c.stream for c in calls if c.stream != 0] == [1], calls

    head = device.control.head(camera)
    assert not head.is_moving and head.point.pan == 0.0
    await page.click(".tile[data-index='0']")  # the tile the pad steers
    right = page.locator(".ptz-button[data-move='right']")
    await right.hover()
    await page.mouse.down()
    async with asyncio.timeout(5):
        while not head.is_moving:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    await page.mouse.up()  # letting go stops the camera
    async with asyncio.timeout(5):
        while head.is_moving:
            await asyncio.sleep(0.05)
    assert head.point.pan > 0.0, head.point
    await console.shoot(page, "live-9-tiles-ptz")
    await page.click("#close-all")
    await page.wait_for_selector(".tile:not([data-state='empty'])", state="detached")
    status, _ = await console.admin.request("DELETE", f"/api/channels/{camera}/ptz")
    assert status in (204, 409), status  # given back (409: it had run out already)
    await page.context.close()


async def test_an_alarm_rings_the_bell_and_is_acknowledged_there(console: ConsoleRig) -> None:
    page = await console.page(MONITOR, PASSWORD)
    await page.wait_for_selector("#alarm-count:text('0')")
    device, camera = console.rig.fleet.devices[0], console.camera(1)
    assert await device.send_alarm(camera, description="药库门被打开") == 200
    await page.wait_for_selector("#alarm-count:text('1')", timeout=15_000)
    await page.click("#alarm-bell")
    item = page.locator("#alarm-list li[data-state='new']")
    assert "药库门被打开" in (await item.text_content() or "")
    await item.locator(".alarm-ack").click()
    await page.wait_for_selector("#alarm-list li[data-state='acknowledged']")
    await page.wait_for_selector("#alarm-count:text('0')")
    await console.shoot(page, "alarm-acknowledged")
    status, found = await console.admin.request(
        "GET", f"/api/alarms?channel={camera}&state=acknowledged"
    )
    assert status == 200 and found["alarms"], found
    assert found["alarms"][0]["acknowledged"]["by"] in (MONITOR, MONITOR_NAME), found
    await page.context.close()  # its alarm feed's long poll ends with it
