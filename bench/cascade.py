"""Cascade benchmark: live start through two hops beside one, and pushing a big catalog up.

    PYTHONPATH=. .venv/bin/python bench/cascade.py [--starts 10] [--catalog 10000]
        [--runs 3] [--relay] [--skip-starts] [--skip-catalog]

Everything runs on this machine, each platform a `farmwatch serve` process on its own
loopback address (national 127.0.0.11, bureau .12, branch .13, the simulated farm .14):

- Live start: national <- bureau <- branch <- farm (`--starts` x 2 cameras, 720p25 at
  2 Mbit/s, GOP 1 s, from the simulator). Each start takes a camera nobody watches yet,
  alternately at the national tier (two hops: the national INVITEs the bureau, which
  INVITEs the branch, which INVITEs the camera; media comes back through two relays) and
  at the bureau (one hop); the time is `POST /api/channels/{id}/live` until its answer,
  which the platform gives once the stream's first key frame is held. Median and p95 of
  each, the target being two hops < 1.5 x one hop + 100 ms.
- Catalog push: bureau <- branch with `--catalog` channels at the branch (simulated NVRs
  of 100 channels each); the bureau asks the branch's catalog and the time until it has
  stored the whole answer is taken, at the default paging (1 item per MESSAGE over UDP,
  each waiting for its 200).
- `--relay`: then `bench/relay.py` (relay CPU per stream per hop at 50 and 100 streams).

`--runs` repeats each part on fresh platforms; the summaries print median (min-max).
Stops by itself; nothing leaves 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.measure import spread
from farmwatch.simulator import running_simulator
from farmwatch.simulator.stream_settings import StreamSettings
from tests.e2e.cascade_helpers import MEDIA_ENV, ThreeTiers, three_tiers
from tests.integration.cascade.tiers import (
    BRANCH,
    BUREAU,
    FARM_HOST,
    PASSWORD,
    UpperLinkConfig,
    start_tier,
)
from tests.peers.raw_sip import free_port
from tests.peers.server_process import RunningServer, stop_server

CAMERA = StreamSettings(width=1280, height=720, fps=25, bitrate=2_000_000, loop_seconds=4)
CHANNELS_PER_NVR = 100
TWO_HOP_TARGET = (1.5, 0.1)  # two hops < 1.5 x one hop + 100 ms


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def live_starts(workdir: Path, starts: int) -> tuple[list[float], list[float]]:
    """(two-hop times, one-hop times) in seconds, each a fresh camera."""
    env = {"FARMWATCH_MEDIA_IDLE_CLOSE": "2"}
    two_hops: list[float] = []
    one_hop: list[float] = []
    async with three_tiers(workdir, devices=2, channels=starts, media=CAMERA, env=env) as tiers:
        channels = [
            item.device_id for device in tiers.farm.devices for item in device.channels.items
        ]
        await _wait_all_known(tiers, channels)
        for index in range(starts):
            for server, times, channel in (
                (tiers.national, two_hops, channels[2 * index]),
                (tiers.bureau, one_hop, channels[2 * index + 1]),
            ):
                began = time.perf_counter()
                status, links = await tiers.post(server, f"/api/channels/{channel}/live", None)
                took = time.perf_counter() - began
                if status != 201:
                    print(f"  start of {channel} failed: {status} {links}", file=sys.stderr)
                    continue
                times.append(took)
                await tiers.request(server, "DELETE", f"/api/live/{links['session']}")
    return two_hops, one_hop


async def _wait_all_known(tiers: ThreeTiers, channels: list[str]) -> None:
    async with asyncio.timeout(120):
        while True:
            _, tree = await tiers.request(
                tiers.national, "GET", f"/api/devices/{BUREAU.platform_id}/channels"
            )
            if all(channel in str(tree) for channel in channels):
                return
            await asyncio.sleep(0.5)


async def catalog_push(workdir: Path, channels: int) -> tuple[float, int]:
    """Seconds the bureau takes to get the branch's whole catalog, and the items in it."""
    bureau_port = free_port()
    bureau, branch = await asyncio.gather(
        asyncio.to_thread(start_tier, workdir, BUREAU, sip_port=bureau_port,
                          extra_env=MEDIA_ENV),
        asyncio.to_thread(start_tier, workdir, BRANCH, (UpperLinkConfig(BUREAU, bureau_port),),
                          extra_env=MEDIA_ENV),
    )  # fmt: skip
    try:
        nvrs = max(1, channels // CHANNELS_PER_NVR)
        async with (
            running_simulator(
                server=(BRANCH.host, branch.sip_port), server_id=BRANCH.platform_id,
                devices=nvrs, channels=CHANNELS_PER_NVR, password=PASSWORD, host=FARM_HOST,
                register_timeout=120, request_timeout=5.0,
            ) as farm,
            aiohttp.ClientSession() as http,
        ):  # fmt: skip
            for nvr in farm.device_ids:
                await _until_complete(http, branch, nvr)
            status, _ = await _request(
                http, bureau, "POST", f"/api/devices/{BRANCH.platform_id}/catalog"
            )
            began = time.perf_counter()
            assert status == 202, status
            received = await _until_complete(http, bureau, BRANCH.platform_id)
            return time.perf_counter() - began, received
    finally:
        await asyncio.to_thread(stop_server, branch)
        await asyncio.to_thread(stop_server, bureau)


async def _request(
    http: aiohttp.ClientSession, server: RunningServer, method: str, path: str
) -> tuple[int, Any]:
    headers = getattr(server, "auth_headers", None) or {}
    url = f"http://127.0.0.1:{server.web_port}{path}"
    async with http.request(method, url, headers=headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def _until_complete(
    http: aiohttp.ClientSession, server: RunningServer, device_id: str
) -> int:
    """Until `server` holds the device's whole catalog answer; the items received."""
    async with asyncio.timeout(600):
        while True:
            status, progress = await _request(
                http, server, "GET", f"/api/devices/{device_id}/catalog"
            )
            if status == 200 and progress["state"] == "complete":
                return int(progress["received"])
            await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> None:
    two_all: list[float] = []
    one_all: list[float] = []
    pushes: list[float] = []
    for run_index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fw-cascade-") as folder:
            workdir = Path(folder)
            if not args.skip_starts:
                two, one = await live_starts(workdir / "starts", args.starts)
                two_all += two
                one_all += one
                print(f"run {run_index + 1}: live start two hops median "
                      f"{statistics.median(two) * 1000:.0f} ms (p95 {p95(two) * 1000:.0f}), "
                      f"one hop {statistics.median(one) * 1000:.0f} ms "
                      f"(p95 {p95(one) * 1000:.0f})", flush=True)  # fmt: skip
            if not args.skip_catalog:
                seconds, items = await catalog_push(workdir / "catalog", args.catalog)
                pushes.append(seconds)
                print(
                    f"run {run_index + 1}: catalog of {items} items pushed up in "
                    f"{seconds:.1f} s ({items / seconds:.0f} items/s)",
                    flush=True,
                )
    print("\nsummary over", args.runs, "runs, median (min-max):")
    if two_all and one_all:
        two, one = statistics.median(two_all), statistics.median(one_all)
        factor, extra = TWO_HOP_TARGET
        verdict = "met" if two < factor * one + extra else "NOT met"
        print(f"  live start, two hops: {spread([t * 1000 for t in two_all])} ms, "
              f"p95 {p95(two_all) * 1000:.0f} ms")  # fmt: skip
        print(f"  live start, one hop:  {spread([t * 1000 for t in one_all])} ms, "
              f"p95 {p95(one_all) * 1000:.0f} ms")  # fmt: skip
        print(f"  target two hops < {factor} x one hop + {extra * 1000:.0f} ms "
              f"({factor * one * 1000 + extra * 1000:.0f} ms): {verdict}")  # fmt: skip
    if pushes:
        print(f"  catalog push of {args.catalog} channels: {spread(pushes)} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--catalog", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--relay", action="store_true", help="then run bench/relay.py")
    parser.add_argument("--skip-starts", action="store_true")
    parser.add_argument("--skip-catalog", action="store_true")
    args = parser.parse_args()
    uvloop.run(run(args))
    if args.relay:
        subprocess.run([sys.executable, str(Path(__file__).with_name("relay.py")),
                        "--runs", str(args.runs)], check=False)  # fmt: skip


if __name__ == "__main__":
    main()
