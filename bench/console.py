"""The console's benchmark (issue 10 §5): what an operator waits for, what the browser
downloads, and what the API costs under load.

    PYTHONPATH=. .venv/bin/python bench/console.py [--starts 10] [--requests 2000]
        [--concurrency 200]

One `farmwatch serve` child process and one simulated device (the simulator's test
picture, 640x360 25 fps 1 Mbit/s, H.264) on 127.0.0.1, a monitor granted its cameras,
and headless Debian chromium (`/usr/bin/chromium`) driven by Playwright. It prints:

1. login → tree rendered: the login form sent (the submit click) → the console's tree
   showing its cameras, on the page's own clock across the navigation
   (`performance.timeOrigin`); median of `--starts` logins, each in a fresh context;
2. click → first frame: a camera clicked in the tree → the tile's first video frame
   presented by its <video> (`requestVideoFrameCallback`), every time a fresh INVITE (the
   previous stream has ended at the device); median of `--starts` after one warm-up start;
3. the console's assets (HTML, JS, CSS of `farmwatch/web/static/console/` and the login
   page), raw and gzipped (level 6, what a reverse proxy would send);
4. API latency with `--concurrency` authenticated requests in flight (`--requests` in
   all), as a monitor's console session: `GET /api/tree` and `GET /api/devices/{id}`
   (a route whose rule checks the device against the monitor's grants), p50 and p95;
5. what the authorisation check adds per request: sequential requests (one in flight),
   median of each: `GET /healthz` (public: no principal; the handler pings the database),
   `GET /api/me` (the session looked up: session and user) and `GET /api/devices/{id}/
   catalog` (the session, then the device checked against the monitor's grants; the
   handler reads the catalog progress); the difference to `/healthz` is the middleware's.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright

from bench.live import has_call, percentile
from farmwatch.simulator.stream_settings import StreamSettings
from tests.e2e.access_helpers import Browsers
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "farmwatch" / "web" / "static" / "console"
LOGIN = ROOT / "farmwatch" / "web" / "static" / "login.html"
# The simulator's own picture (it encodes it in this process at the first INVITE of a
# channel: a 720p one holds this process's loop longer than the platform waits for video).
PICTURE = StreamSettings(width=640, height=360, fps=25, bitrate=1_000_000)
MONITOR, PASSWORD = "bench.monitor", "Bench-Monitor-2024"

# In the console page, before its own script: the time of each click on a camera.
CLICK_HOOK = """
document.addEventListener("click", (event) => {
  if (event.target.closest && event.target.closest(".camera")) window.__clickAt = performance.now();
}, true);
"""


def ms(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.0f} ms, p95 {percentile(values, 0.95):.0f} ms, "
        f"max {max(values):.0f} ms (n={len(values)})"
    )


async def prepare(rig: LiveRig) -> None:
    """A monitor granted the device (so every check below is a grant check)."""
    browsers = Browsers(rig.base)
    try:
        admin = browsers.new("admin")
        await admin.log_in(ADMIN, ADMIN_PASSWORD)
        org = rig.server.organisation_id
        status, user = await admin.request(
            "POST", "/api/users",
            {"username": MONITOR, "role": "monitor", "organisation_id": org, "password": PASSWORD},
        )  # fmt: skip
        assert status == 201, user
        status, _ = await admin.request(
            "POST", f"/api/users/{user['id']}/grants",
            {"kind": "device", "target": rig.fleet.device_ids[0]},
        )  # fmt: skip
        assert status == 201
    finally:
        await browsers.close()


async def login_to_tree(browser: Browser, base: str) -> float:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{base}/login?next=/")
        await page.fill("#username", MONITOR)
        await page.fill("#password", PASSWORD)
        sent = await page.evaluate("() => performance.timeOrigin + performance.now()")
        await page.click("#submit")
        await page.wait_for_url(f"{base}/", timeout=20_000)
        await page.wait_for_selector("#tree .camera", timeout=20_000)
        shown = await page.evaluate("() => performance.timeOrigin + performance.now()")
        return float(shown - sent)
    finally:
        await context.close()


async def click_to_frame(page: Page, rig: LiveRig, channel: str) -> float:
    device = rig.fleet.devices[0]
    async with asyncio.timeout(15):  # the last start's stream has ended at the device
        while has_call(device, channel):
            await asyncio.sleep(0.05)
    await page.click(f"#tree .camera[data-channel='{channel}']")
    async with asyncio.timeout(40):
        while True:
            done = await page.evaluate(
                "() => { const t = window.farmwatchTiles[0]; return [t.state, t.firstFrameAt || 0,"
                " window.__clickAt || 0]; }"
            )
            if done[0] == "playing" and done[1] > done[2]:
                elapsed = float(done[1] - done[2])
                break
            if done[0] == "error":
                raise RuntimeError(await page.text_content(".tile .tile-state"))
            await asyncio.sleep(0.02)
    await page.click(".tile .tile-close")
    return elapsed


def assets() -> tuple[int, int, int]:
    files = [*sorted(CONSOLE.iterdir()), LOGIN]
    raw = sum(path.stat().st_size for path in files)
    packed = sum(len(gzip.compress(path.read_bytes(), 6)) for path in files)
    return len(files), raw, packed


async def load(
    http: aiohttp.ClientSession, url: str, requests: int, concurrency: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        nonlocal failures
        async with gate:
            started = time.perf_counter()
            async with http.get(url) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one() for _ in range(requests)))
    return latencies, failures


async def sequential(call: Callable[[], Awaitable[Any]], count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def run(args: argparse.Namespace) -> None:
    env = {
        # A stream ends 1 s after its last viewer, so that each start is a fresh INVITE.
        "FARMWATCH_MEDIA_IDLE_CLOSE": "1",
        "FARMWATCH_ACCESS_THROTTLE_PER_SOURCE": "1000",
        # The simulator encodes its 720p picture at the first start (the warm-up, not timed).
        "FARMWATCH_MEDIA_START_TIMEOUT": "30",
    }
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            live_rig(Path(tmp), channels=2, media=PICTURE, env=env) as rig,
            async_playwright() as playwright,
        ):
            await prepare(rig)
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                logins = [await login_to_tree(browser, rig.base) for _ in range(args.starts)]
                print(f"1. login → tree rendered: {ms(logins)}", flush=True)
                context = await browser.new_context()
                await context.add_init_script(CLICK_HOOK)
                page = await context.new_page()
                await page.goto(f"{rig.base}/login?next=/")
                await page.fill("#username", MONITOR)
                await page.fill("#password", PASSWORD)
                await page.click("#submit")
                await page.wait_for_selector("#tree .camera", timeout=20_000)
                await page.click("button.layout[data-layout='1']")
                channel = rig.channel(0)
                await click_to_frame(page, rig, channel)  # warm-up: the simulator encodes
                starts = [await click_to_frame(page, rig, channel) for _ in range(args.starts)]
                print(f"2. click → first frame in a tile: {ms(starts)} (target < 1000 ms)")
                await context.close()
            finally:
                await browser.close()
            count, raw, packed = assets()
            print(f"3. console assets: {count} files, {raw / 1024:.1f} KiB, "
                  f"{packed / 1024:.1f} KiB gzipped (target < 500 KB)")  # fmt: skip
            jar = aiohttp.CookieJar(unsafe=True)
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as http:
                async with http.post(
                    f"{rig.base}/api/login", json={"username": MONITOR, "password": PASSWORD}
                ) as response:
                    assert response.status == 200
                device = rig.fleet.device_ids[0]
                for path in ("/api/tree", f"/api/devices/{device}"):
                    await load(http, rig.base + path, 50, 10)  # warm-up
                    latencies, failed = await load(
                        http, rig.base + path, args.requests, args.concurrency
                    )
                    print(f"4. GET {path} with {args.concurrency} in flight: p50 "
                          f"{statistics.median(latencies):.1f} ms, p95 "
                          f"{percentile(latencies, 0.95):.1f} ms ({failed} not 200, "
                          f"{len(latencies)} requests)")  # fmt: skip

                async def get(path: str) -> None:
                    async with http.get(rig.base + path) as response:
                        await response.read()

                public = await sequential(lambda: get("/healthz"), 500)
                session = await sequential(lambda: get("/api/me"), 500)
                checked = await sequential(lambda: get(f"/api/devices/{device}/catalog"), 500)
                print(f"5. sequential medians: GET /healthz {public:.2f} ms, GET /api/me "
                      f"(session only) {session:.2f} ms, GET /api/devices/{{id}}/catalog "
                      f"(session and the device's grant) {checked:.2f} ms: the authorisation "
                      f"adds {checked - public:.2f} ms (target < 1 ms)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
