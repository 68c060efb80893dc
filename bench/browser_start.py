"""First frame in a real browser: Debian's chromium opening the live page, start after start.

    PYTHONPATH=. .venv/bin/python bench/browser_start.py [--starts 20] [--hls]

The rig of `bench/live.py` (a `farmwatch serve` child process, one simulated device in this
process streaming the camera clip of `bench/camera_clip.py`: 1280x720 25 fps, 2 Mbit/s,
GOP 2 s) and headless `/usr/bin/chromium` driven by Playwright. Each start opens
`/live?channel=…` in a new page on a channel with no session (a fresh INVITE every time)
and reads the page's own clock (`performance.now()`):

* `POST /live` sent → answered (the platform has the stream's first key frame);
* → the page's WebRTC offer sent (after ICE gathering), answered, the connection up;
* → first video frame presented by the `<video>` element (`requestVideoFrameCallback`),
  the whole of what an operator waits for: offer/answer, ICE, DTLS, the first key frame
  decoded and painted.

`--hls` also plays the session's HLS link in the page with the browser's MSE through a
minimal fetch-and-append loop of fMP4 segments (Chromium plays no HLS natively, and no
player library is fetched): `POST /live` answered → first frame presented.

The browser logs in once through the login page as the platform's administrator; every
page is opened in that browser context, with its session cookie (a session's media URLs
play only for the login that opened it, so the HLS session is opened from the page too).

Prints median, p95 and max over the starts. The browser, the platform and this process
share the machine's cores. Loopback only; every start is bounded by a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, async_playwright

from bench.camera_clip import announced_camera_loop
from bench.live import PICTURE, has_call, live_rig, percentile
from farmwatch.simulator.test_pattern import EncodedLoop
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS, log_in_through_page

# Installed before the page's own script: timestamps of its `POST .../live` and of the
# first frame the <video> element presents.
TIMING_HOOK = """
window.__timing = {};
const originalFetch = window.fetch;
window.fetch = function (input, init) {
  const url = String(input);
  const post = init && init.method === "POST";
  const step = !post ? null : url.endsWith("/live") ? "" : url.endsWith("/webrtc") ? "offer" : null;
  if (step !== null) window.__timing[step ? "offerSent" : "posted"] = performance.now();
  const peer = window.farmwatchPeer;
  if (step && peer) {  // listening from the offer on, so the event cannot come first
    peer.addEventListener("connectionstatechange", () => {
      if (peer.connectionState === "connected" && !window.__timing.connected) {
        window.__timing.connected = performance.now();
      }
    });
  }
  const answer = originalFetch.apply(this, arguments);
  if (step !== null) answer.then(() => {
    window.__timing[step ? "offerAnswered" : "answered"] = performance.now();
  });
  return answer;
};
document.addEventListener("DOMContentLoaded", () => {
  const video = document.getElementById("video");
  video.requestVideoFrameCallback((now, meta) => {
    window.__timing.firstFrame = meta.presentationTime;
  });
});
"""

# Plays an fMP4 HLS playlist through MSE: init segment, then each listed segment in order,
# reloading the playlist; resolves the page's timing when the first frame is presented.
HLS_PLAYER = """
async (channel) => {
  const csrf = { "X-CSRF-Token": (await (await fetch("/api/me")).json()).csrf_token };
  const timing = { posted: performance.now() };
  const opened = await fetch(`/api/channels/${channel}/live`, { method: "POST", headers: csrf });
  const session = await opened.json();
  if (opened.status !== 201) throw new Error(`POST /live: ${opened.status} ${session.error}`);
  timing.answered = performance.now();
  const hls = session.hls;
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.appendChild(video);
  video.requestVideoFrameCallback((now, meta) => { timing.firstFrame = meta.presentationTime; });
  const base = hls.slice(0, hls.lastIndexOf("/") + 1);
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  let buffer = null;
  const fetched = new Set();
  const append = (data) => new Promise((resolve, reject) => {
    buffer.addEventListener("updateend", resolve, { once: true });
    buffer.addEventListener("error", reject, { once: true });
    buffer.appendBuffer(data);
  });
  const deadline = performance.now() + 15000;
  while (timing.firstFrame === undefined && performance.now() < deadline) {
    const text = await (await fetch(hls)).text();
    for (const line of text.split("\\n")) {
      const map = line.match(/^#EXT-X-MAP:URI="([^"]+)"/);
      const name = map ? map[1] : (line && !line.startsWith("#") ? line : null);
      if (!name || fetched.has(name)) continue;
      fetched.add(name);
      const data = await (await fetch(base + name)).arrayBuffer();
      // Chromium reads the real profile from the init segment's avcC.
      if (buffer === null) buffer = source.addSourceBuffer('video/mp4; codecs="avc1.640028"');
      await append(data);
      if (video.paused) video.play().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await fetch(`/api/live/${session.session}`, { method: "DELETE", headers: csrf });
  return timing;
}
"""


async def wait_timing(page: Any, key: str, timeout: float) -> dict[str, float]:
    async with asyncio.timeout(timeout):
        while True:
            timing = await page.evaluate("() => window.__timing")
            if timing and key in timing:
                return dict(timing)
            await asyncio.sleep(0.02)


async def one_start(browser: BrowserContext, base: str, channel: str) -> dict[str, float]:
    page = await browser.new_page()
    try:
        await page.add_init_script(TIMING_HOOK)
        await page.goto(f"{base}/live?channel={channel}")
        return await wait_timing(page, "firstFrame", timeout=20)
    finally:
        await page.close()  # pagehide ends the session


async def one_hls_start(browser: BrowserContext, rig: Any, channel: str) -> dict[str, float]:
    page = await browser.new_page()
    try:
        await page.goto(f"{rig.base}/live")  # same origin; the page's own player stays idle
        return dict(await page.evaluate(HLS_PLAYER, channel))
    finally:
        await page.close()


def report(label: str, values: list[float], starts: int) -> None:
    if not values:
        print(f"   {label}: no value", flush=True)
        return
    print(f"   {label}: median {statistics.median(values):.0f} ms, "
          f"p95 {percentile(values, 0.95):.0f} ms, max {max(values):.0f} ms "
          f"({len(values)} of {starts})", flush=True)  # fmt: skip


async def run(args: argparse.Namespace, loop: EncodedLoop) -> None:
    answered: list[float] = []
    steps: dict[str, list[float]] = {"offerSent": [], "offerAnswered": [], "connected": []}
    first_frame: list[float] = []
    hls_frame: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            live_rig(Path(tmp), loop, channels=args.starts, idle_close=0.5, media=PICTURE) as rig,
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                context = await browser.new_context()
                login = await context.new_page()
                await log_in_through_page(login, f"{rig.base}/live")
                await login.close()
                for index in range(args.starts):
                    channel = rig.channel(index)
                    timing = await one_start(context, rig.base, channel)
                    answered.append(timing["answered"] - timing["posted"])
                    first_frame.append(timing["firstFrame"] - timing["posted"])
                    for step, values in steps.items():
                        if step in timing:
                            values.append(timing[step] - timing["posted"])
                    async with asyncio.timeout(10):
                        await rig.device.wait_for(lambda d, c=channel: not has_call(d, c))
                    if args.hls:
                        # HLS has no connection to close: its stream stays up a while after
                        # (HLS unused for 20 s), and the next start is on another channel.
                        timing = await one_hls_start(context, rig, channel)
                        if "firstFrame" in timing:
                            hls_frame.append(timing["firstFrame"] - timing["answered"])
            finally:
                await browser.close()
    print(f"\nfirst frame in chromium over {args.starts} starts (page clock)")
    report("POST /live answered", answered, args.starts)
    report("WebRTC offer sent (ICE candidates gathered)", steps["offerSent"], args.starts)
    report("WebRTC answer received", steps["offerAnswered"], args.starts)
    report("peer connection connected (ICE + DTLS)", steps["connected"], args.starts)
    report("WebRTC: first frame presented by <video>, from POST /live sent", first_frame,
           args.starts)  # fmt: skip
    if args.hls:
        report("HLS via MSE: first frame presented, from POST /live answered", hls_frame,
               args.starts)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--hls", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args, announced_camera_loop()))


if __name__ == "__main__":
    main()
