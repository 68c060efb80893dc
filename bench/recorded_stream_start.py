"""Start of a playback of platform recordings: `open_recorded_stream` until the key frame is held.

    PYTHONPATH=. .venv/bin/python bench/recorded_stream_start.py [--seconds 60] [--segment 20]
        [--runs 20] [--dir /tmp]

Input: the camera clip of `bench/camera_clip.py` (1280x720 25 fps, 2 Mbit/s, GOP 2 s)
as the PS frames a camera sends, recorded for `--seconds` by the platform's `SegmentWriter`
in segments of `--segment` seconds (PS as received, with an index). Each run opens a
recorded stream at a random time (`open_recorded_stream` returns once the key frame at or
before it is in the stream's GOP cache, i.e. held for the first viewer), then closes it.
Figures: median, 90th percentile and maximum in milliseconds, for

1. local: a `LocalMediaNode` in this process (the first run pays the reader's loading,
   reported apart);
2. worker: `MediaCluster(workers=1)`, one media worker process over its control channel
   (its first run pays the reader's loading in the worker, reported apart).

Target: < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvloop

from bench.camera_clip import announced_camera_loop
from farmwatch.media.cluster import MediaCluster
from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.settings import MediaSettings
from farmwatch.media.sinks.segment_writer import RecordedSegment, SegmentWriter
from farmwatch.media.stream_core import CloseReason

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
FPS = 25


class Quiet:
    """A `NodeListener` that ignores everything."""

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        pass

    def keyframe_needed(self, stream_key: str) -> None:
        pass

    def output_closed(self, output_id: str) -> None:
        pass

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        pass


def record(directory: Path, seconds: int, segment: int) -> list[RecordedSegment]:
    loop = announced_camera_loop()
    writer = SegmentWriter(directory, ZONE, segment_length=timedelta(seconds=segment))
    frames = loop.frames
    segments: list[RecordedSegment] = []
    origin = START.timestamp()
    for index in range(seconds * FPS):
        encoded = frames[index % len(frames)]
        pts = index * 90_000 // FPS
        frame = PsFrame(encoded.ps.shifted(pts - encoded.pts), pts, encoded.is_keyframe)
        segments += writer.write([(frame, origin + index / FPS, True)])
    return segments + writer.finish()


async def measure(node: LocalMediaNode | MediaCluster, parts: list[tuple[str, str]],
                  seconds: int, runs: int) -> list[float]:  # fmt: skip
    chooser = random.Random(7)
    times = []
    for run in range(runs):
        at = START + timedelta(seconds=chooser.uniform(0, seconds - 1))
        key = f"bench-{run}"
        begin = time.perf_counter()
        await node.open_recorded_stream(key, parts, at.isoformat())
        times.append((time.perf_counter() - begin) * 1000)
        await node.close_stream(key, CloseReason.REQUESTED)
    return times


def report(name: str, times: list[float]) -> None:
    first, rest = times[0], sorted(times[1:])
    p90 = rest[int(len(rest) * 0.9) - 1] if len(rest) >= 10 else rest[-1]
    print(f"{name}: first {first:.1f} ms; then median {statistics.median(rest):.1f} ms, "
          f"p90 {p90:.1f} ms, max {rest[-1]:.1f} ms over {len(rest)} opens")  # fmt: skip


async def main(arguments: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="recorded-start-", dir=arguments.dir))
    try:
        segments = record(folder / "recordings", arguments.seconds, arguments.segment)
        parts = [(str(segment.path), segment.start.isoformat()) for segment in segments]
        print(f"recording: {len(segments)} segments of {arguments.segment} s", flush=True)
        settings = MediaSettings(host="127.0.0.1", port_range="42000-42099")
        local = LocalMediaNode(settings, Quiet())
        await local.start()
        try:
            report("local", await measure(local, parts, arguments.seconds, arguments.runs))
        finally:
            await local.close()
        cluster = MediaCluster(settings, Quiet(), workers=1, runtime_dir=folder / "run")
        await cluster.start()
        try:
            while not cluster.nodes():  # the worker process starts (not what is measured)
                await asyncio.sleep(0.05)
            report("worker", await measure(cluster, parts, arguments.seconds, arguments.runs))
        finally:
            await cluster.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--segment", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--dir", default=None)
    uvloop.run(main(parser.parse_args()))
