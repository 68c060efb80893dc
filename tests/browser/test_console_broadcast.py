"""喊话 and 对讲 from the console in a real browser (issue 12 item 5): chromium's fake
microphone (`--use-fake-device-for-media-stream`, its beeping tone) talks through the selected
tile's camera; the simulated camera counts the G.711 it receives and decodes it. In two-way
talk the camera's tone comes back and the page receives it (the peer connection's
`inbound-rtp` audio statistics). Screenshots go to /tmp/console-shots/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from farmwatch.simulator import SimulatedDevice
from farmwatch.simulator.broadcast_receiver import BroadcastMode, BroadcastSettings
from farmwatch.simulator.talk_responder import TalkSettings
from tests.browser.console_helpers import console_page, save_shot
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass
class TalkRig:
    rig: LiveRig
    browser: Browser
    shots: Path

    @property
    def device(self) -> SimulatedDevice:
        return self.rig.fleet.devices[0]

    async def page(self) -> Page:
        return await console_page(
            self.browser, self.rig.base, ADMIN, ADMIN_PASSWORD, "live", permissions=["microphone"]
        )

    async def shoot(self, page: Page, name: str) -> None:
        await save_shot(page, self.shots, name, full_page=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def talk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TalkRig]:
    folder = tmp_path_factory.mktemp("console_talk")
    env = {"FARMWATCH_MEDIA_WORKERS": "0"}
    async with (
        live_rig(folder, channels=2, env=env) as rig,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_MICROPHONE], headless=True
        )
        try:
            yield TalkRig(rig, browser, folder)
        finally:
            await browser.close()


async def _playing(page: Page, channel: str) -> None:
    await page.click("button.layout[data-layout='1']")
    await page.click(".tile[data-index='0']")
    await page.click(f"#tree .camera[data-channel='{channel}']")
    await page.wait_for_selector(".tile[data-index='0'][data-state='playing']", timeout=20_000)


async def test_talk_from_the_live_view_reaches_the_camera(talk: TalkRig) -> None:
    device, rig = talk.device, talk.rig
    device.broadcast.settings = BroadcastSettings(mode=BroadcastMode.PS)
    page = await talk.page()
    await _playing(page, rig.channel(0))
    assert await page.inner_text("#talk-start") == "喊话"
    await page.click("#talk-start")
    await page.wait_for_function("() => window.farmwatchTalk && window.farmwatchTalk.session",
                                 timeout=20_000)  # fmt: skip
    status = await page.inner_text("#talk-status")
    assert status.startswith("正在喊话"), status
    # The microphone's sound arrives at the camera as G.711A and decodes.
    async with asyncio.timeout(20):
        await device.wait_for(
            lambda d: d.broadcast.last is not None and d.broadcast.last.g711_bytes >= 16000
        )
    reception = device.broadcast.last
    assert reception is not None and reception.target_id == rig.channel(0)
    assert reception.frames_decoded == reception.frames > 0
    assert max(abs(sample) for sample in reception.samples) > 1000  # the fake beep, not silence
    await talk.shoot(page, "live-talk")
    # The session is the page's login's own (the rig's token is refused it).
    session = await page.evaluate("() => window.farmwatchTalk.session")
    assert (await rig.get(f"/api/broadcast/{session}"))[0] == 403
    state = await page.evaluate(
        "async (id) => (await fetch(`/api/broadcast/${id}`)).json()", session
    )
    assert (state["microphone"], state["format"], state["state"]) == (True, "ps", "active")
    await page.click("#talk-stop")
    async with asyncio.timeout(10):
        await device.wait_for(lambda d: reception.ended_by == "platform")
    assert await page.inner_text("#talk-status") == "喊话已结束"
    assert await page.is_visible("#talk-start")
    await talk.shoot(page, "live-talk-ended")
    await page.context.close()


async def test_talk_without_a_playing_tile_says_what_to_do(talk: TalkRig) -> None:
    page = await talk.page()
    await page.click("button.layout[data-layout='1']")
    await page.click("#close-all")
    await page.click("#talk-start")
    assert await page.inner_text("#talk-status") == "先选中一个正在播放的画面"
    await page.context.close()


_INBOUND_AUDIO = """async () => {
  const peer = window.farmwatchTalkPeer;
  if (!peer) return null;
  let found = null;
  (await peer.getStats()).forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "audio") found = report;
  });
  return found && { packets: found.packetsReceived, energy: found.totalAudioEnergy || 0 };
}"""


async def test_two_way_talk_plays_the_cameras_sound_in_the_page(talk: TalkRig) -> None:
    device, rig = talk.device, talk.rig
    device.talk.settings = TalkSettings()
    page = await talk.page()
    await _playing(page, rig.channel(1))
    assert await page.inner_text("#duplex-start") == "对讲"
    await page.click("#duplex-start")
    await page.wait_for_function("() => window.farmwatchTalk && window.farmwatchTalk.session",
                                 timeout=20_000)  # fmt: skip
    status = await page.inner_text("#talk-status")
    assert status.startswith("正在对讲"), status
    assert await page.inner_text("#talk-stop") == "结束对讲"
    assert not await page.is_visible("#talk-start")
    # The camera hears the fake microphone...
    async with asyncio.timeout(20):
        await device.wait_for(
            lambda d: d.talk.last is not None and d.talk.last.reception.g711_bytes >= 16000
        )
    call = device.talk.last
    assert call is not None and call.reception.target_id == rig.channel(1)
    assert max(abs(sample) for sample in call.reception.samples) > 1000
    # ...and the page receives the camera's tone: RTP audio packets with sound in them.
    handle = await page.wait_for_function(
        f"async () => {{ const s = await ({_INBOUND_AUDIO})(); "
        "return s && s.packets > 100 && s.energy > 0 ? s : null; }",
        timeout=20_000,
    )
    inbound = await handle.json_value()
    assert inbound["packets"] > 100 and inbound["energy"] > 0
    session = await page.evaluate("() => window.farmwatchTalk.session")
    state = await page.evaluate(
        "async (id) => (await fetch(`/api/broadcast/${id}`)).json()", session
    )
    assert (state["mode"], state["microphone"], state["state"]) == ("talk", True, "active")
    assert state["frames_received"] > 0 and state["frames_played"] > 0
    await talk.shoot(page, "live-duplex")
    await page.click("#talk-stop")
    async with asyncio.timeout(10):
        await device.wait_for(lambda d: call.reception.ended_by == "platform")
    assert await page.inner_text("#talk-status") == "对讲已结束"
    assert await page.is_visible("#duplex-start")
    await page.context.close()


async def test_two_way_talk_with_a_camera_without_it_names_the_fallback(talk: TalkRig) -> None:
    device, rig = talk.device, talk.rig
    device.talk.settings = TalkSettings(supported=False)
    page = await talk.page()
    await _playing(page, rig.channel(1))
    await page.click("#duplex-start")
    await page.wait_for_function(
        "() => document.querySelector('#talk-status').textContent.startsWith('对讲失败')",
        timeout=20_000,
    )
    status = await page.inner_text("#talk-status")
    assert "该设备不支持对讲，请改用喊话" in status, status
    assert "488" in status and '"broadcast"' in status, status
    assert await page.is_visible("#duplex-start") and await page.is_visible("#talk-start")
    await talk.shoot(page, "live-duplex-refused")
    device.talk.settings = TalkSettings()
    await page.context.close()
