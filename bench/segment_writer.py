"""Recording cost: CPU per frame of the PS segment recorder, against issue 8's budget.

    PYTHONPATH=. .venv/bin/python bench/segment_writer.py [--streams 50] [--seconds 20]
        [--runs 3] [--segment 600] [--dir /tmp]

Input: the camera clip of `bench/camera_clip.py` (1280x720 25 fps, 2 Mbit/s, GOP 2 s,
P-frames) as the PS frames a stream hands a recorder (`PsFrame`: the GB PS bytes of each
frame as the camera sent them, under their RTP timestamp). Figures are the median (and
range) over `--runs` runs of the CPU time of this whole process (all threads, user +
system: the writer threads, the page-cache copies and the closing `fsync` are counted):

1. writer: one `SegmentWriter` fed `--seconds` of frames in this thread a GOP per call, as
   the recorder hands them over (the segment timeline, index records, file writes, a
   demultiplexed key frame per segment): the work itself, with warm caches.
2. all-in: `--streams` `SegmentRecorder` PS sinks on uvloop, each offered its stream's
   frames at their real time (25 fps, the streams' frames spread over each 40 ms as
   independent cameras' are) for `--seconds`, minus the same paced loop offering to no
   sink: what recording adds per stream, queue, consumer wake-ups (one per GOP) and thread
   hand-offs included, at a load like the one the ingest figure was measured at. The
   recorders share `--threads` writer threads (one, as the platform runs them).

The budget: recording may add 50 % to the ingest cost of a 720p25 2 Mbit/s stream, about
0.13 % of one core (README, `bench/live.py` at N = 200), i.e. ~0.065 % of a core, ~26 µs
per frame. (Recording also keeps the stream's PS frames coming out of the ingest, which
`bench/recording.py` measures with the rest.)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvloop

from bench.camera_clip import announced_camera_loop
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.sinks.segment_recorder import SegmentRecorder
from farmwatch.media.sinks.segment_writer import SegmentWriter
from farmwatch.simulator.test_pattern import EncodedLoop

ZONE = ZoneInfo("Asia/Shanghai")
FPS = 25
BUDGET_MICROSECONDS = 26.0


def looped_frames(loop: EncodedLoop, seconds: int) -> list[PsFrame]:
    frames = []
    for index in range(seconds * FPS):
        encoded = loop.frames[index % len(loop.frames)]
        pts = encoded.pts + (index // len(loop.frames)) * loop.duration
        data = encoded.ps.shifted(pts - encoded.pts)
        frames.append(PsFrame(data, pts & 0xFFFFFFFF, is_keyframe=encoded.is_keyframe))
    return frames


def measure_writer(frames: list[PsFrame], directory: Path, segment: timedelta) -> float:
    """CPU µs per frame of `SegmentWriter` fed in this thread, a GOP per call."""
    writer = SegmentWriter(directory, ZONE, segment_length=segment)
    now = time.time()
    begin = time.process_time()
    batch: list[tuple[PsFrame, float, bool]] = []
    for index, frame in enumerate(frames):
        if frame.is_keyframe and batch:
            writer.write(batch)
            batch = []
        batch.append((frame, now + index / FPS, True))
    writer.write(batch)
    writer.finish()
    return (time.process_time() - begin) / len(frames) * 1e6


async def paced_offers(
    frames: list[PsFrame], streams: int, sinks: list[SegmentRecorder] | None
) -> float:
    """CPU seconds of offering `frames` to each of `streams` streams at 25 fps (to `sinks`,
    one per stream, or to nothing); stream s sends frame i at (i + s / streams) / 25 s."""
    loop = asyncio.get_running_loop()
    for sink in sinks or []:
        await sink.start()
    begin_cpu, begin = time.process_time(), loop.time()
    for index, frame in enumerate(frames):
        for stream in range(streams):
            delay = begin + (index + stream / streams) / FPS - loop.time()
            await asyncio.sleep(max(delay, 0))
            if sinks is not None:
                sinks[stream].offer_ps(frame)
    if sinks is not None:
        async with asyncio.timeout(120):
            await asyncio.gather(*(sink.close() for sink in sinks))
        lost = sum(sink.frames_lost for sink in sinks)
        assert lost == 0, f"the recorders lost {lost} frames"
    return time.process_time() - begin_cpu


async def measure_all_in(
    frames: list[PsFrame], directory: Path, segment: timedelta, streams: int, threads: int
) -> float:
    """CPU µs per frame that recording adds to `streams` paced streams, the recorders sharing
    `threads` writer threads (0: asyncio's default executor)."""
    baseline = await paced_offers(frames, streams, None)
    with ThreadPoolExecutor(threads, "recording") if threads else nullcontext() as executor:
        recorders = [
            SegmentRecorder(
                directory / f"channel-{stream}",
                zone=ZONE,
                on_segment=lambda _: None,
                segment_length=segment,
                executor=executor,
                name=f"bench-{stream}",
            )
            for stream in range(streams)
        ]
        recording = await paced_offers(frames, streams, recorders)
    return (recording - baseline) / len(frames) / streams * 1e6


def summary(name: str, values: list[float]) -> str:
    median = statistics.median(values)
    return (
        f"{name}: {median:.1f} µs/frame (runs {min(values):.1f}-{max(values):.1f}), "
        f"{median * FPS / 1e4:.3f} % of one core per 25 fps stream "
        f"({median / BUDGET_MICROSECONDS * 100:.0f} % of the budget)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=50, help="streams recorded at once")
    parser.add_argument("--seconds", type=int, default=20, help="video per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--segment", type=float, default=600.0, help="segment length, seconds")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="writer threads shared by the recorders (0: asyncio's)",
    )
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    frames = looped_frames(announced_camera_loop(), args.seconds)
    segment = timedelta(seconds=args.segment)
    writer_runs, all_in_runs = [], []
    for run in range(args.runs):
        directory = Path(tempfile.mkdtemp(prefix="segment-bench-", dir=args.dir))
        try:
            writer_runs.append(measure_writer(frames, directory / "writer", segment))
            all_in = measure_all_in(
                frames, directory / "sinks", segment, args.streams, args.threads
            )
            all_in_runs.append(uvloop.run(all_in))
        finally:
            shutil.rmtree(directory)
        print(f"run {run + 1}: writer {writer_runs[-1]:.1f} µs/frame, "
              f"all-in {all_in_runs[-1]:.1f} µs/frame", flush=True)  # fmt: skip
    print(summary("writer (timeline + index + files)", writer_runs))
    print(summary(f"all-in ({args.streams} recorders on the loop)", all_in_runs))


if __name__ == "__main__":
    main()
