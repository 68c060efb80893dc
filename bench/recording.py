"""Recording benchmark: what platform recording adds per stream, playback start, download speed.

    PYTHONPATH=. .venv/bin/python bench/recording.py [--streams 50,100,200] [--runs 3]
        [--window 20] [--warmup 10]

Everything runs on this machine, on 127.0.0.1, as `bench/live.py` does: `farmwatch serve` as
a child process, one simulated device answering INVITEs, and `bench/rtp_replay.c` sending N
copies of the camera clip (1280x720 25 fps, 2 Mbit/s, GOP 50; ~195 RTP packets/s each).

1. Cost (each N of `--streams`, `--runs` times on a fresh platform): N live streams opened
   with no viewer; after `--warmup` s a `--window` s window measures the ingest-only cost
   (CPU of the platform's process tree in % of one core, per stream; RSS); then every one of
   the N channels gets a continuous record plan (`PUT /api/channels/{id}/record-plan`), and
   after the warm-up a second window measures the same with recording — the difference is
   what recording adds (a recorded stream is not demultiplexed: its PS is written as
   received, with an index). Also: bytes written to disk per stream-second (segments and
   their indexes), and frames lost:
   media lost before the recorder (sequence gaps, kernel drops at the media sockets) and
   frames missing from the segments that closed in the window (their frame count against
   their indexed duration at 25 fps). Segments are cut every 15 s so several close.
2. Playback start: `POST /api/channels/{id}/playback` until its answer (the platform answers
   once the first key frame is held), for platform recordings (`source=platform`, a random
   time of what was just recorded) and for the device's (`source=device`, the simulator
   answering `s=Playback`); median and p95 over 10 each.
3. Download at 4×: a 60 s range of the device's recordings, `speed: 4` over TCP: wall time
   to `completed`, media seconds per wall second and MB/s of the file.

Targets (issue 8): recording adds at most 50 % to the per-stream ingest cost; platform
playback first key frame < 300 ms median; 0 frames lost at 200 recorded channels.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.camera_clip import announced_camera_loop
from bench.live import (
    PICTURE,
    PLATFORM,
    CallFeeder,
    Rig,
    StepResult,
    live_rig,
    open_streams,
    percentile,
    report_window,
    take_sample,
)
from bench.measure import cpu_seconds, spread
from bench.rtp_replay import ReplayProcess
from farmwatch.platform.db import DATABASE_FILE_NAME
from farmwatch.simulator import FleetSettings, MediaCache, SimulatedDevice
from farmwatch.simulator.session import SessionTimers
from farmwatch.simulator.test_pattern import EncodedLoop
from farmwatch.sipserver.sip.address import Address, Transport

SHANGHAI = ZoneInfo("Asia/Shanghai")
FPS = 25


def folder_bytes(folder: Path) -> int:
    """Bytes of the segment files and their indexes below `folder`."""
    files = (path for pattern in ("*.ps", "*.idx") for path in folder.rglob(pattern))
    return sum(path.stat().st_size for path in files if path.is_file())


def closed_segments(storage: Path, since: datetime) -> list[tuple[float, int]]:
    """(duration s, frames) of the segments indexed since `since` (UTC, naive)."""
    with sqlite3.connect(storage / DATABASE_FILE_NAME) as database:
        rows = database.execute(
            "SELECT start_at, end_at, frames FROM recording_segments WHERE created_at >= ?",
            (since.isoformat(sep=" "),),
        ).fetchall()
    return [
        ((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds(), int(frames))
        for a, b, frames in rows
    ]


def indexed_span(storage: Path, channels: list[str]) -> tuple[datetime, datetime]:
    """The time every one of `channels` has closed segments for (aware, in the zone)."""
    with sqlite3.connect(storage / DATABASE_FILE_NAME) as database:
        marks = "?" * len(channels)
        start, end = database.execute(
            "SELECT MAX(first), MIN(last) FROM (SELECT MIN(start_at) AS first, MAX(end_at) AS "
            f"last FROM recording_segments WHERE channel_id IN ({', '.join(marks)}) "
            "GROUP BY channel_id)",
            channels,
        ).fetchone()
    return tuple(  # type: ignore[return-value]
        datetime.fromisoformat(t).replace(tzinfo=UTC).astimezone(SHANGHAI) for t in (start, end)
    )


async def put_plan(rig: Rig, channel: str, mode: str) -> None:
    url = f"{rig.base}/api/channels/{channel}/record-plan"
    async with rig.http.put(url, json={"mode": mode}) as response:
        if response.status != 200:
            raise RuntimeError(f"record plan of {channel}: {response.status}")


async def timed_post(rig: Rig, path: str, body: dict[str, object]) -> tuple[float, dict]:
    began = time.perf_counter()
    async with rig.http.post(rig.base + path, json=body) as response:
        answer = await response.json()
        took = time.perf_counter() - began
        if response.status != 201:
            raise RuntimeError(f"{path}: {response.status} {answer}")
    return took, answer


async def playback_starts(
    rig: Rig, channels: list[str], source: str, span: tuple[datetime, datetime]
) -> list[float]:
    times = []
    for index in range(10):
        start = span[0] + (span[1] - span[0]) * random.random() * 0.5
        body = {
            "start": start.replace(tzinfo=None).isoformat(timespec="seconds"),
            "end": (start + timedelta(minutes=5))
            .replace(tzinfo=None)
            .isoformat(timespec="seconds"),
            "source": source,
        }
        channel = channels[index % len(channels)]
        try:
            took, session = await timed_post(rig, f"/api/channels/{channel}/playback", body)
        except RuntimeError as error:
            print(f"   playback start failed ({source}): {error}", flush=True)
            continue
        times.append(took * 1000)
        async with rig.http.delete(rig.base + session["status"]) as response:
            await response.read()
    return times


@asynccontextmanager
async def streaming_device(rig: Rig, loop: EncodedLoop) -> AsyncIterator[SimulatedDevice]:
    """A second simulated device that streams its recordings itself (the first one only
    signals: the replayer sends its live media)."""
    settings = FleetSettings(
        server=Address("127.0.0.1", rig.server.sip_port, Transport.UDP), server_id=PLATFORM,
        channels=1, media=PICTURE, first_serial=9001,
        timers=SessionTimers(retry_min=0.5, retry_max=5.0),
    ).device_settings()[0]  # fmt: skip
    device = SimulatedDevice(settings, media_cache=MediaCache(encoder=lambda spec: loop))
    await device.start()
    try:
        async with asyncio.timeout(30):
            await device.wait_for(lambda d: d.is_registered)
            url = f"{rig.base}/api/devices/{device.device_id}/channels"
            while True:
                async with rig.http.get(url) as response:
                    if response.status == 200 and (await response.json())["channels"]:
                        break
                await asyncio.sleep(0.2)
        yield device
    finally:
        await device.stop()


async def download_at_4x(rig: Rig, channel: str) -> tuple[float, float, float]:
    start = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                                 microsecond=0)  # fmt: skip
    body = {
        "start": start.replace(tzinfo=None).isoformat(),
        "end": (start + timedelta(seconds=60)).replace(tzinfo=None).isoformat(),
        "speed": 4,
    }
    began = time.perf_counter()
    _, task = await timed_post(rig, f"/api/channels/{channel}/downloads", body)
    while task["state"] not in ("completed", "failed", "cancelled"):
        await asyncio.sleep(0.2)
        async with rig.http.get(f"{rig.base}/api/downloads/{task['id']}") as response:
            task = await response.json()
    took = time.perf_counter() - began
    if task["state"] != "completed":
        raise RuntimeError(f"download {task['state']}: {task['error']}")
    return took, 60 / took, task["bytes"] / took / 1e6


def platform_cpu(rig: Rig) -> tuple[float, float]:
    """(monotonic time, CPU seconds of the platform process alone, without its workers)."""
    return time.monotonic(), cpu_seconds(rig.server.process.pid)


def report_split(
    rig: Rig, streams: int, result: StepResult, before: tuple[float, float], window: float
) -> None:
    """How much of a window's CPU the platform process took (SIP, web, database, the
    reconciler and the segment index) and how much its media workers did."""
    at, seconds = platform_cpu(rig)
    own = (seconds - before[1]) / (at - before[0]) * 100
    print(f"           of which the platform process {own / streams:.3f} % per stream, "
          f"media workers {(result.cpu_percent - own) / streams:.3f} %", flush=True)  # fmt: skip


async def one_run(
    workdir: Path, loop: EncodedLoop, counts: list[int], args: argparse.Namespace, *,
    playback: bool,
) -> list[tuple[StepResult, StepResult, float, int]]:  # fmt: skip
    total = max(counts) + 1
    media = replace(PICTURE, stop_after=0.0)  # the device signals; the sender streams
    results = []
    replay = ReplayProcess(loop)
    env = {"FARMWATCH_RECORDINGS_SEGMENT_MINUTES": str(args.segment_minutes),
           "FARMWATCH_RECORDINGS_RECONCILE_INTERVAL": "2"}  # fmt: skip
    try:
        async with live_rig(workdir, loop, channels=total, idle_close=3600, media=media,
                            env=env) as rig:  # fmt: skip
            storage = workdir / "data"
            feeder = CallFeeder(rig.device, replay, recorded=rig.channel(total - 1))
            task = asyncio.get_running_loop().create_task(feeder.run())
            try:
                opened = 0
                for count in counts:
                    channels = [rig.channel(index) for index in range(opened, count)]
                    bodies, failures = await open_streams(rig, channels)
                    if failures:
                        print(f"   {len(failures)} opens failed: {failures[:3]}", flush=True)
                    everyone = [rig.channel(index) for index in range(count)]
                    for channel in everyone[:opened]:  # the last step's: ingest only again
                        await put_plan(rig, channel, "off")
                    await asyncio.sleep(args.warmup)
                    print("   ingest only:", flush=True)
                    before, own = take_sample(rig, replay), platform_cpu(rig)
                    await asyncio.sleep(args.window)
                    ingest = report_window(rig, count, before, take_sample(rig, replay))
                    report_split(rig, count, ingest, own, args.window)
                    for channel in everyone:
                        await put_plan(rig, channel, "continuous")
                    opened = count
                    await asyncio.sleep(args.warmup)
                    print("   recording every stream:", flush=True)
                    written = folder_bytes(storage / "recordings")
                    since = datetime.utcnow()
                    before, own = take_sample(rig, replay), platform_cpu(rig)
                    await asyncio.sleep(args.window)
                    recording = report_window(rig, count, before, take_sample(rig, replay))
                    report_split(rig, count, recording, own, args.window)
                    per_second = (folder_bytes(storage / "recordings") - written) / (
                        count * args.window
                    )
                    segments = closed_segments(storage, since)
                    missing = sum(max(0, round(d * FPS) - f - 1) for d, f in segments)
                    added = recording.per_stream - ingest.per_stream
                    print(f"           recording adds {added:.3f} % per stream "
                          f"({added / ingest.per_stream * 100:.0f} % of ingest); "
                          f"{per_second / 1e3:.0f} kB written per stream-second; "
                          f"{len(segments)} segments closed, frames missing from them: "
                          f"{missing}", flush=True)  # fmt: skip
                    results.append((ingest, recording, per_second, missing))
                    if playback and count == counts[0]:
                        if args.segment_minutes > 1:  # nothing closed yet to play back
                            print("   playback not measured: no segment closes within the "
                                  "window at this segment length", flush=True)  # fmt: skip
                        else:
                            await measure_playback(rig, loop, storage, count)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        replay.close()
    return results


async def measure_playback(rig: Rig, loop: EncodedLoop, storage: Path, recorded: int) -> None:
    """Playback starts and a download, while the first step's streams record."""
    chans = [rig.channel(i) for i in range(min(10, recorded))]
    span = indexed_span(storage, chans)
    platform = await playback_starts(rig, chans, "platform", span)
    day = datetime.now(SHANGHAI) - timedelta(days=1)
    device_span = (day.replace(hour=8), day.replace(hour=18))
    async with streaming_device(rig, loop) as camera:
        own = camera.channels.items[0].device_id
        device = await playback_starts(rig, [own], "device", device_span)
        took, speed, rate = await download_at_4x(rig, own)
    if not platform or not device:
        print("   playback starts: none succeeded", flush=True)
        return
    print(f"   playback start, platform recordings: median "
          f"{statistics.median(platform):.0f} ms, p95 "
          f"{percentile(platform, 0.95):.0f} ms", flush=True)  # fmt: skip
    print(f"   playback start, device recordings: median "
          f"{statistics.median(device):.0f} ms, p95 "
          f"{percentile(device, 0.95):.0f} ms", flush=True)  # fmt: skip
    print(f"   download of 60 s at 4x: {took:.1f} s, {speed:.2f} media s per "
          f"wall s, {rate:.2f} MB/s", flush=True)  # fmt: skip


def summarize(runs: list[list[tuple[StepResult, StepResult, float, int]]]) -> None:
    print(f"\nsummary over {len(runs)} run(s): median (min-max)")
    by_count: dict[int, list[tuple[StepResult, StepResult, float, int]]] = {}
    for run in runs:
        for step in run:
            by_count.setdefault(step[0].streams, []).append(step)
    for count in sorted(by_count):
        steps = by_count[count]
        ingest = [s[0].per_stream for s in steps]
        recording = [s[1].per_stream for s in steps]
        added = [s[1].per_stream - s[0].per_stream for s in steps]
        share = [(s[1].per_stream - s[0].per_stream) / s[0].per_stream * 100 for s in steps]
        print(f"   N={count:>4}: ingest {spread(ingest)} %, recording {spread(recording)} % per "
              f"stream; added {spread(added)} % ({spread(share)} % of ingest); RSS "
              f"{spread([s[1].rss_mb for s in steps])} MB; disk "
              f"{spread([s[2] / 1e3 for s in steps])} kB per stream-second; lost: gaps "
              f"{spread([float(s[1].gaps) for s in steps])}, socket drops "
              f"{spread([float(s[1].socket_drops) for s in steps])}, frames missing from "
              f"segments {spread([float(s[3]) for s in steps])}")  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    loop = await asyncio.to_thread(announced_camera_loop)
    counts = sorted(int(count) for count in args.streams.split(","))
    runs = []
    # A media worker may still be closing its files as the folder goes.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        for number in range(args.runs):
            print(f"\nrun {number + 1} of {args.runs}", flush=True)
            runs.append(await one_run(Path(tmp) / f"run{number}", loop, counts, args,
                                      playback=number == 0 or args.playback_every_run))  # fmt: skip
    summarize(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", default="50,100,200")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--playback-every-run", action="store_true")
    parser.add_argument("--segment-minutes", type=float, default=0.25,
                        help="segment length: 0.25 (15 s, several close in a window: the "
                        "loss check reads them) or the shipped 10")  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
