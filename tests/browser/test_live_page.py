"""The live page in a real browser: Debian's chromium plays a simulated camera over WebRTC,
live and from its recordings.

Playwright drives /usr/bin/chromium (never a downloaded browser). The page is behind the
login: the browser is sent to the login page, logs in there through `POST /api/login` as the
administrator and comes back with the session cookie; the page then negotiates WebRTC with
farmwatch through the REST API (its POSTs carrying the session's CSRF token), and
`RTCPeerConnection.getStats()` must show `framesDecoded` growing on the inbound video track.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import async_playwright

from tests.e2e.live_helpers import live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS, log_in_through_page

FRAMES_DECODED = """
async () => {
  const peer = window.farmwatchPeer;
  if (!peer) return -1;
  const stats = await peer.getStats();
  for (const report of stats.values()) {
    if (report.type === "inbound-rtp" && report.kind === "video") return report.framesDecoded || 0;
  }
  return 0;
}
"""


async def frames_decoded_after(page: object, minimum: int, timeout: float) -> int:
    async with asyncio.timeout(timeout):
        while True:
            decoded = int(await page.evaluate(FRAMES_DECODED))  # type: ignore[attr-defined]
            if decoded >= minimum:
                return decoded
            await asyncio.sleep(0.2)


async def test_live_page_plays_a_camera_over_webrtc(tmp_path: Path) -> None:
    async with live_rig(tmp_path) as rig, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page()
            await log_in_through_page(page, f"{rig.base}/live?channel={rig.channel()}")
            first = await frames_decoded_after(page, 10, timeout=20)
            later = await frames_decoded_after(page, first + 25, timeout=10)
            assert later > first
            status = await page.text_content("#status")
            assert status is not None and "error" not in status.lower()
            playing = await page.evaluate(
                "() => { const v = document.getElementById('video'); "
                "return [v.videoWidth, v.videoHeight]; }"
            )
            assert playing == [320, 180]
            # Kept with the test's files (pytest's basetemp) for a person to look at.
            await page.screenshot(path=str(tmp_path / "live-page.png"))
        finally:
            await browser.close()


async def test_live_page_plays_back_a_recording_over_webrtc_and_controls_it(
    tmp_path: Path,
) -> None:
    day = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)
    start = day.replace(hour=8, minute=0, second=0, microsecond=0).replace(tzinfo=None)
    end = start + timedelta(minutes=30)
    async with live_rig(tmp_path) as rig, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page()
            query = f"channel={rig.channel()}&start={start.isoformat()}&end={end.isoformat()}"
            await log_in_through_page(page, f"{rig.base}/live?{query}")
            first = await frames_decoded_after(page, 10, timeout=20)
            assert await frames_decoded_after(page, first + 25, timeout=10) > first
            assert await page.is_visible("#playback-bar")
            await page.select_option("#scale", "4")
            async with asyncio.timeout(10):
                while "×4" not in (await page.text_content("#position") or ""):
                    await asyncio.sleep(0.2)
            position = await page.text_content("#position") or ""
            assert position.startswith("playing " + start.date().isoformat())
            await page.screenshot(path=str(tmp_path / "playback-page.png"))
            await page.click("#stop")
        finally:
            await browser.close()
