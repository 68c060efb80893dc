"""What the video quality diagnosis costs (issue 11 item 5).

    PYTHONPATH=. .venv/bin/python bench/diagnosis.py [--runs 3] [--cameras 50]

Three measurements on the camera-like 1280x720 H.264 clip of `bench/camera_clip.py` (its
keyframes: textured scene, sensor noise, 2 Mbit/s):

1. **One sample's CPU**: the work a sample does on a keyframe, in the order the platform does
   it: the media node's snapshot (`snapshot_jpeg`: H.264 decode, scale to 320 wide, JPEG
   encode) and the sampler's part (JPEG decode into planes, the checks). CPU time of this
   process per sample, and how many cameras one core could sample per minute from it.
2. **Thread or process pool** for the sampler's part: wall time per job through a pool of
   two threads and through a pool of two processes (the picture and the result cross a pipe).
3. **The sampler running**: a real `DiagnosisSampler` on a SQLite database with `--cameras`
   online cameras sampled over `--cameras` × 0.6 s, the rate of 1,000 cameras every 10
   minutes, each sample a snapshot made in this process (`[media] workers = 0`, the case that
   loads the platform's own process most) and stored with its history, after one warm-up
   sample (ORM configured, statements compiled, as in a running platform). Measured: the
   process's CPU over the run as a share of one core, less what the ticker below costs
   alone (target < 10 %), and the event loop's longest block: a 5 ms ticker's worst lateness
   beside the same ticker's with nothing else running (on a busy machine both measure the
   other processes), and the most CPU the loop's thread spent between two ticks (what the
   loop itself computed; target < 20 ms).

Each figure is the median of `--runs` runs, with the spread (min-max).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.camera_clip import announced_camera_loop
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks.snapshot import snapshot_jpeg
from farmwatch.platform.db import create_database, default_database_url
from farmwatch.platform.records import ChannelData, Transport
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.supervision.diagnosis import (
    SAMPLE_WIDTH,
    DiagnosisRepository,
    DiagnosisSampler,
    DiagnosisThresholds,
    SamplerSettings,
    diagnose,
)
from farmwatch.platform.supervision.diagnosis.picture import decode_jpeg

NVR = "34020000001180000001"
RATE = 1000 / 600
"""Samples per second: 1,000 cameras every 10 minutes."""
THRESHOLDS = DiagnosisThresholds()


def keyframes() -> list[EsFrame]:
    loop = announced_camera_loop()
    return [EsFrame(Codec.H264, f.data, f.pts, f.pts, True, 0xE0)
            for f in loop.frames if f.is_keyframe]  # fmt: skip


def spread_text(values: Sequence[float], unit: str, digits: int = 1) -> str:
    return (f"{statistics.median(values):.{digits}f} {unit} "
            f"(spread {min(values):.{digits}f}-{max(values):.{digits}f})")  # fmt: skip


# -- 1. one sample's CPU ------------------------------------------------------------------


def sample_cpu(frames: list[EsFrame], count: int) -> tuple[float, float]:
    """(snapshot ms, checks ms) of CPU per sample over `count` samples."""

    async def run() -> tuple[float, float]:
        snapshot_cpu = checks_cpu = 0.0
        previous = None
        for index in range(count):
            begin = time.process_time()
            jpeg = await snapshot_jpeg(frames[index % len(frames)], max_width=SAMPLE_WIDTH)
            middle = time.process_time()
            result = diagnose(decode_jpeg(jpeg), THRESHOLDS, previous)
            previous = result.thumbnail
            snapshot_cpu += middle - begin
            checks_cpu += time.process_time() - middle
        return snapshot_cpu * 1000 / count, checks_cpu * 1000 / count

    return asyncio.run(run())


# -- 2. thread or process pool --------------------------------------------------------------


def _job(jpeg: bytes) -> float:
    return diagnose(decode_jpeg(jpeg), THRESHOLDS).measurements.sharpness


def pool_ms(make: Callable[[], Executor], jpegs: list[bytes], count: int) -> float:
    with make() as pool:
        list(pool.map(_job, jpegs[:2]))  # start the workers before timing
        begin = time.perf_counter()
        futures = [pool.submit(_job, jpegs[index % len(jpegs)]) for index in range(count)]
        for future in futures:
            future.result()
        return (time.perf_counter() - begin) * 1000 / count


# -- 3. the sampler running ---------------------------------------------------------------


@dataclass
class InProcessSnapshots:
    """`LiveService.snapshots` as a node in this process makes them: the keyframes in turn."""

    frames: list[EsFrame]
    served: int = 0

    async def snapshots(self, channel_id: str, *, max_width: int, count: int) -> list[bytes]:
        self.served += count
        return [
            await snapshot_jpeg(
                self.frames[(self.served + step) % len(self.frames)], max_width=max_width
            )  # fmt: skip
            for step in range(count)
        ]


@dataclass
class LoopWatch:
    """A 5 ms ticker on the event loop: the worst lateness of a tick (wall clock: the loop
    blocked, or this process not scheduled on a busy machine) and the most CPU the loop's
    thread spent between two ticks (what the loop itself computed)."""

    worst_wall: float = 0.0
    worst_cpu: float = 0.0
    cpu_share: float = 0.0
    """% of one core the process used while the ticker ran (set by `idle_watch`)."""

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + 0.005
            cpu = time.thread_time()
            await asyncio.sleep(0.005)
            self.worst_wall = max(self.worst_wall, loop.time() - due)
            self.worst_cpu = max(self.worst_cpu, time.thread_time() - cpu)


async def idle_watch(seconds: float) -> LoopWatch:
    """The same ticker with nothing else running: the machine's own noise."""
    watch, stop = LoopWatch(), asyncio.Event()
    task = asyncio.get_running_loop().create_task(watch.run(stop))
    cpu_begin, wall_begin = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    watch.cpu_share = (time.process_time() - cpu_begin) / (time.perf_counter() - wall_begin) * 100
    stop.set()
    await task
    return watch


@dataclass(frozen=True, slots=True)
class Run:
    cpu_share: float
    """% of one core, the whole process (every thread), less what the ticker alone used."""
    block_ms: float
    loop_cpu_ms: float
    idle_block_ms: float
    cameras: int


async def sampler_run(frames: list[EsFrame], cameras: int, folder: Path) -> Run:
    """The sampler over `cameras` online cameras for one interval at `RATE`."""
    database = create_database(default_database_url(folder))
    await database.start()
    try:
        await DeviceRepository(database.sessions).upsert_registration(
            NVR, transport=Transport.UDP, remote_host="192.0.2.1", remote_port=5060,
            contact_uri=f"sip:{NVR}@192.0.2.1:5060", expires=3600, gb_version="3.0",
            at=_now(),
        )  # fmt: skip
        channels = ChannelRepository(database.sessions)
        items = [ChannelData(f"3402000000131{serial:07d}", parent_id=NVR, status="ON")
                 for serial in range(cameras)]  # fmt: skip
        await channels.replace_catalog(NVR, items, at=_now())
        interval = cameras / RATE
        source = InProcessSnapshots(frames)
        repository = DiagnosisRepository(database.sessions)
        # The round starts at once (a platform waits a minute after its start first).
        settings = SamplerSettings(interval=interval, workers=2, history=144,
                                   thresholds=THRESHOLDS, start_grace=0.0)  # fmt: skip
        # A platform has long configured the ORM and compiled its statements when the first
        # round starts: one sample of a camera outside the round does that here.
        warm_up = DiagnosisSampler(source, channels, lambda _: True, repository, settings)
        await warm_up.start()
        await warm_up.sample_now("34020000001329999999")
        await warm_up.close()
        sampler = DiagnosisSampler(source, channels, lambda _: True, repository, settings)
        idle = await idle_watch(interval)
        watch, stop = LoopWatch(), asyncio.Event()
        ticker = asyncio.get_running_loop().create_task(watch.run(stop))
        cpu_begin, wall_begin = time.process_time(), time.perf_counter()
        await sampler.start()
        await asyncio.sleep(interval)
        cpu = time.process_time() - cpu_begin
        wall = time.perf_counter() - wall_begin
        await sampler.close()
        stop.set()
        await ticker
        stored = len(await repository.states()) - 1  # the warm-up's camera
        share = cpu / wall * 100 - idle.cpu_share
        return Run(share, watch.worst_wall * 1000, watch.worst_cpu * 1000,
                   idle.worst_wall * 1000, stored)  # fmt: skip
    finally:
        await database.close()


def _now() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    frames = keyframes()

    snapshot, checks = [], []
    for _ in range(args.runs):
        one_snapshot, one_checks = sample_cpu(frames, args.samples)
        snapshot.append(one_snapshot)
        checks.append(one_checks)
    per_sample = [a + b for a, b in zip(snapshot, checks, strict=True)]
    print(f"one sample, CPU: snapshot (H.264 decode, scale, JPEG) {spread_text(snapshot, 'ms')}"
          f" + checks (JPEG decode, numpy) {spread_text(checks, 'ms', 2)}"
          f" = {spread_text(per_sample, 'ms')}")  # fmt: skip
    per_minute = [60_000 / value for value in per_sample]
    print(f"one core samples {spread_text(per_minute, 'cameras/minute', 0)}")

    jpegs = [asyncio.run(snapshot_jpeg(frame, max_width=SAMPLE_WIDTH)) for frame in frames]
    threads = [pool_ms(lambda: ThreadPoolExecutor(2), jpegs, 200) for _ in range(args.runs)]
    processes = [pool_ms(lambda: ProcessPoolExecutor(2), jpegs, 200) for _ in range(args.runs)]
    print(
        f"checks through a pool of 2: threads {spread_text(threads, 'ms/job', 2)}, "
        f"processes {spread_text(processes, 'ms/job', 2)}"
    )

    runs: list[Run] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            run = asyncio.run(sampler_run(frames, args.cameras, Path(folder)))
        runs.append(run)
        print(f"  run: {run.cameras} cameras sampled, CPU {run.cpu_share:.1f} % of a core, "
              f"longest loop block {run.block_ms:.1f} ms (idle ticker alone "
              f"{run.idle_block_ms:.1f} ms), most loop-thread CPU between two ticks "
              f"{run.loop_cpu_ms:.1f} ms", flush=True)  # fmt: skip
    print(f"sampler at 1,000 cameras / 10 min ({args.cameras} cameras over "
          f"{args.cameras / RATE:.0f} s): CPU {spread_text([r.cpu_share for r in runs], '%')} "
          f"of one core (target < 10 %); longest loop block "
          f"{spread_text([r.block_ms for r in runs], 'ms')} against "
          f"{spread_text([r.idle_block_ms for r in runs], 'ms')} for the idle ticker on this "
          f"machine; loop-thread CPU between two ticks at most "
          f"{spread_text([r.loop_cpu_ms for r in runs], 'ms')} (target < 20 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
