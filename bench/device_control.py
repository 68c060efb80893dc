"""Device control round trip: API → device → API for a PTZ command and a DeviceConfig read.

    PYTHONPATH=. .venv/bin/python bench/device_control.py [--count 50]

`farmwatch serve` as shipped and one simulated camera, both on 127.0.0.1. Each sample is one
HTTP request with the administrator's API token, timed from before the request to after its
answer:

1. PTZ: `POST /api/channels/{id}/ptz {"action": "stop"}` — the platform encodes PTZCmd,
   sends the DeviceControl MESSAGE and answers once the camera's 200 OK is back (a PTZ
   command has no other answer);
2. DeviceConfig read: `GET /api/devices/{id}/config?types=BasicParam` — ConfigDownload
   MESSAGE, the camera's 200 OK, its Response MESSAGE with the BasicParam, our 200 OK.

For comparison, two more: `GET /api/channels/{id}/presets` (PresetQuery: a query and its
answer, like the configuration read, not audited either) and `POST /api/devices/{id}/commands
{"command": "iframe"}` (a control without an answer, audited like PTZ: each writes its audit
row, hash-chained, before answering).

`--count` samples of each (after 5 unmeasured ones), spaced 150 ms apart so that the
per-camera PTZ rate limit (10/s) never refuses one. Prints median, p95 and max in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import uvloop

from tests.e2e.live_helpers import live_rig

WARM_UP = 5
SPACING = 0.15


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<34} n={len(samples):<3} median {statistics.median(samples) * 1000:6.2f} ms"
        f"  p95 {p95 * 1000:6.2f} ms  max {ordered[-1] * 1000:6.2f} ms"
    )


async def _time(http: aiohttp.ClientSession, method: str, url: str, body: object) -> float:
    started = time.perf_counter()
    async with http.request(method, url, json=body) as response:
        await response.read()
        elapsed = time.perf_counter() - started
        if response.status >= 300:
            raise RuntimeError(f"{method} {url}: {response.status} {await response.text()}")
    return elapsed


async def run(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-control-") as folder:
        async with live_rig(Path(folder), channels=1, env={"FARMWATCH_MEDIA_WORKERS": "0"}) as rig:
            device_id = rig.fleet.device_ids[0]
            cases = (
                ("PTZ stop (PTZCmd)", "POST", f"/api/channels/{rig.channel(0)}/ptz",
                 {"action": "stop"}),
                ("DeviceConfig read (ConfigDownload)", "GET",
                 f"/api/devices/{device_id}/config?types=BasicParam", None),
                ("PresetQuery (not audited)", "GET", f"/api/channels/{rig.channel(0)}/presets",
                 None),
                ("IFameCmd (audited, no answer)", "POST", f"/api/devices/{device_id}/commands",
                 {"command": "iframe"}),
            )  # fmt: skip
            for name, method, path, body in cases:
                samples = []
                for index in range(WARM_UP + count):
                    elapsed = await _time(rig.http, method, rig.base + path, body)
                    if index >= WARM_UP:
                        samples.append(elapsed)
                    await asyncio.sleep(SPACING)
                print(_summary(name, samples), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    uvloop.run(run(args.count))


if __name__ == "__main__":
    main()
