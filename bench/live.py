"""Live-video benchmark: start time, media ingest cost per stream, loss, added latency.

    PYTHONPATH=. .venv/bin/python bench/live.py [--streams 50,100,200] [--runs 3]
        [--viewers fmp4] [--starts 20] [--window 20] [--warmup 10] [--skip-starts]

Everything runs on this machine, on 127.0.0.1: `farmwatch serve` as a child process, one
simulated device in this process (it answers INVITEs), and `bench/rtp_replay.c` as the
cameras: N copies of the camera clip of `bench/camera_clip.py` (1280x720 25 fps, 2 Mbit/s,
GOP 50, P-frames, texture, motion and sensor noise; ~195 RTP packets/s of at most 1,400
bytes, a PS pack header per frame, system header and PSM on key frames), each from its own
socket with its own SSRC, each frame sent as one `sendmmsg` burst at its time.

1. Start time (`--starts`): the simulated device streams the camera clip itself; the time
   from `POST /api/channels/{id}/live` to its answer, to the first WebRTC frame, and (each on
   a fresh start, from the answer) to the first fMP4 media fragment and to the first HLS
   segment read (playlist, init segment, first segment); median and p95.
2. Ingest cost (each N of `--streams`, `--runs` times on a fresh platform): N sessions
   opened (no viewer: "remux on demand", the platform only receives; or with `--viewers
   fmp4` one fMP4-over-HTTP reader per stream), then after `--warmup` s a `--window` s
   window: CPU of the platform's whole process tree in % of one core, per stream; RSS; and
   loss judged from outside the platform's own view: packets the sender sent, packets the
   platform accepted (its `/metrics` ingest counter), sequence gaps it saw, datagrams the
   kernel dropped at the platform's media sockets (/proc/net/udp) and host-wide; the worst
   event-loop lag the platform measured; the sender's CPU and lateness. The ramp of a run
   stops after a step that lost media. A summary gives median and spread over the runs,
   beside the reference figures of issue 14.
3. Added latency: a WebRTC viewer (aiortc, `bench/live_latency.py`) on one more stream,
   on an idle platform and under the largest N: last RTP packet of a frame sent → last
   WebRTC packet of that frame received, median and p95.

The machine has 2 cores shared by the platform, the sender and this process; their CPU is
printed so that a step where something else was busy can be told apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bench.camera_clip import announced_camera_loop
from bench.live_latency import FrameArrivals, frame_keys, frame_latencies, webrtc_viewer
from bench.measure import (
    cpu_seconds,
    host_udp_drops,
    lag_buckets,
    scrape,
    socket_drops,
    spread,
    tree_cpu_seconds,
    tree_rss_mb,
    worst_lag_between,
)
from bench.rtp_replay import ReplayProcess, ReplayStats, StartStream
from farmwatch.simulator import FleetSettings, MediaCache, SimulatedDevice, StreamSettings
from farmwatch.simulator.session import SessionTimers
from farmwatch.simulator.test_pattern import EncodedLoop
from farmwatch.sipserver.sip.address import Address, Transport
from tests.peers.server_process import RunningServer, start_server, stop_server

PLATFORM = "34020000002000000001"
PICTURE = StreamSettings(width=1280, height=720, fps=25, bitrate=2_000_000, gop=50)
MEDIA_PORTS = (30000, 31999)
OPEN_CONCURRENCY = 8
LATENCY_WARMUP = 1.5
# Issue 14, ZLMediaKit on this kind of machine, % of one core per stream (ingest only).
REFERENCE = {50: (0.22, 0.42), 100: (0.15, 0.34), 200: (0.12, 0.36)}
REFERENCE_VIEWER = "ZLMediaKit with one fMP4 viewer per stream at N=50: 0.63-0.70 %"
TARGETS = "targets: ingest only <= 0.35 % per stream at N=100; one fMP4 viewer <= 1.2 %"


@dataclass
class Rig:
    server: RunningServer
    device: SimulatedDevice
    http: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.web_port}"

    def channel(self, index: int) -> str:
        return self.device.channels.items[index].device_id

    async def open_live(self, channel: str) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}/api/channels/{channel}/live") as response:
            return response.status, await response.json()

    async def close_live(self, session: str) -> None:
        async with self.http.delete(f"{self.base}/api/live/{session}") as response:
            await response.read()

    async def first_fragment(self, path: str) -> None:
        """Read the fMP4 stream until its first media fragment, then hang up."""
        data = b""
        async with self.http.get(self.base + path) as response:
            while b"mdat" not in data:
                chunk = await response.content.readany()
                if not chunk:
                    raise RuntimeError("the fMP4 stream ended before a fragment")
                data += chunk

    async def first_hls_segment(self, path: str) -> None:
        """Read the HLS playlist, then its init segment and first media segment."""
        base = self.base + path.rsplit("/", 1)[0]
        async with self.http.get(self.base + path) as response:
            text = await response.text()
            if response.status != 200:
                raise RuntimeError(f"HLS playlist: {response.status} {text[:200]}")
        init = next(line.split('"')[1] for line in text.splitlines() if "EXT-X-MAP" in line)
        first = next(line for line in text.splitlines() if line and not line.startswith("#"))
        for name in (init, first):
            async with self.http.get(f"{base}/{name}") as response:
                if response.status != 200 or not await response.read():
                    raise RuntimeError(f"HLS {name}: {response.status}")

    async def read_fmp4(self, path: str, counter: list[int]) -> None:
        """A viewer that reads the fMP4 stream (and discards it) until cancelled."""
        async with self.http.get(self.base + path) as response:
            while chunk := await response.content.readany():
                counter[0] += len(chunk)

    async def wait_channels(self, count: int) -> None:
        url = f"{self.base}/api/devices/{self.device.device_id}/channels"
        while True:
            async with self.http.get(url) as response:
                body = await response.json()
            if response.status == 200 and _count_nodes(body["channels"]) >= count:
                return
            await asyncio.sleep(0.2)


def has_call(device: SimulatedDevice, channel: str) -> bool:
    return any(call.channel_id == channel for call in device.calls)


def _count_nodes(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + _count_nodes(node.get("children", [])) for node in nodes)


@asynccontextmanager
async def live_rig(
    workdir: Path,
    loop: EncodedLoop,
    *,
    channels: int,
    idle_close: float,
    media: StreamSettings,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Rig]:
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "FARMWATCH_LIVE_TRANSPORT": "udp",
        "FARMWATCH_MEDIA_HOST": "127.0.0.1",
        "FARMWATCH_MEDIA_PORT_RANGE": f"{MEDIA_PORTS[0]}-{MEDIA_PORTS[1]}",
        "FARMWATCH_MEDIA_IDLE_CLOSE": str(idle_close),
        "FARMWATCH_LIVE_WEBRTC_ADDRESSES": "127.0.0.1",
        **(env or {}),
    }
    server = await asyncio.to_thread(start_server, workdir, settings)
    try:
        device_settings = FleetSettings(
            server=Address("127.0.0.1", server.sip_port, Transport.UDP), server_id=PLATFORM,
            channels=channels, media=media, timers=SessionTimers(retry_min=0.5, retry_max=5.0),
        ).device_settings()[0]  # fmt: skip
        # Every channel streams the camera clip (encoded once, not per channel).
        device = SimulatedDevice(device_settings, media_cache=MediaCache(encoder=lambda spec: loop))
        await device.start()
        try:
            # Every request carries the platform administrator's API token.
            async with aiohttp.ClientSession(headers=server.auth_headers) as http:
                rig = Rig(server, device, http)
                async with asyncio.timeout(60):
                    await device.wait_for(lambda d: d.is_registered)
                    await rig.wait_channels(channels)
                yield rig
        finally:
            await device.stop()
    finally:
        await asyncio.to_thread(stop_server, server)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# ---- 1. start time -------------------------------------------------------------------


async def measure_starts(workdir: Path, loop: EncodedLoop, starts: int) -> None:
    print(f"\n1. start time over {starts} starts (the simulated device streams the camera clip)")
    results: dict[str, list[float]] = {"answered": [], "webrtc": [], "fmp4": [], "hls": []}
    async with live_rig(workdir, loop, channels=starts, idle_close=0.5, media=PICTURE) as rig:
        for index in range(starts):
            async with asyncio.timeout(30):
                await start_once(rig, rig.channel(index), results)
    for name, label in (
        ("answered", "POST /live answered (first keyframe in the platform)"),
        ("webrtc", "first frame out over WebRTC (incl. offer/answer, ICE, DTLS)"),
        ("fmp4", "first fMP4 media fragment read over HTTP"),
        ("hls", "first HLS segment read (playlist, init, segment)"),
    ):
        values = results[name]
        if values:
            print(f"   {label}: median {statistics.median(values) * 1000:.0f} ms, "
                  f"p95 {percentile(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} "
                  f"({len(values)} of {starts})", flush=True)  # fmt: skip


async def start_once(rig: Rig, channel: str, results: dict[str, list[float]]) -> None:
    begin = time.monotonic()
    status, body = await rig.open_live(channel)
    if status != 201:
        print(f"   start on {channel}: {status} {body}", flush=True)
        return
    answered = time.monotonic()
    results["answered"].append(answered - begin)
    arrivals = FrameArrivals({})
    async with webrtc_viewer(rig.http, rig.base, body["session"], arrivals):
        await arrivals.first_frame.wait()
    assert arrivals.first_frame_at is not None
    results["webrtc"].append(arrivals.first_frame_at - begin)
    await rig.close_live(body["session"])
    # fMP4 and HLS each on a fresh start, measured from when POST /live answered. HLS has
    # no connection to close, so its stream stays up until HLS is unused for a while: the
    # next start is on another channel anyway.
    for output, first_read in (("fmp4", rig.first_fragment), ("hls", rig.first_hls_segment)):
        await rig.device.wait_for(lambda d: not has_call(d, channel))
        status, body = await rig.open_live(channel)
        if status != 201:
            return
        answered = time.monotonic()
        await first_read(body[output])
        results[output].append(time.monotonic() - answered)
        await rig.close_live(body["session"])


# ---- 2. ingest cost ------------------------------------------------------------------


class CallFeeder:
    """Hands every call the device answers to the sender (address, SSRC)."""

    def __init__(self, device: SimulatedDevice, replay: ReplayProcess, recorded: str) -> None:
        self._device = device
        self._replay = replay
        self.recorded = recorded
        self.keys: dict[str, int] = {}

    def _has_new_call(self, device: SimulatedDevice) -> bool:
        return any(call.channel_id not in self.keys for call in device.calls)

    async def run(self) -> None:
        while True:
            await self._device.wait_for(self._has_new_call)
            for call in self._device.calls:
                if call.channel_id in self.keys:
                    continue
                key = self.keys[call.channel_id] = len(self.keys)
                self._replay.send(StartStream(key, call.route.host, call.route.port, call.ssrc,
                                              record=call.channel_id == self.recorded))  # fmt: skip


async def open_streams(rig: Rig, channels: list[str]) -> tuple[list[Any], list[str]]:
    """Open one session per channel, `OPEN_CONCURRENCY` at a time: bodies and failures."""
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    bodies: list[Any] = []
    failures: list[str] = []

    async def one(channel: str) -> None:
        async with gate:
            try:
                async with asyncio.timeout(30):
                    status, body = await rig.open_live(channel)
            except (TimeoutError, aiohttp.ClientError) as error:
                failures.append(f"{channel}: {error!r}")
                return
            if status == 201:
                bodies.append(body)
            else:
                failures.append(f"{channel}: {status} {body.get('error')}")

    await asyncio.gather(*(one(channel) for channel in channels))
    return bodies, failures


@dataclass(frozen=True)
class Sample:
    at: float
    platform_cpu: float
    sender_cpu: float
    own_cpu: float
    metrics: dict[str, float]
    lag: dict[float, float]
    socket_drops: int
    host_drops: int
    sender: ReplayStats


def take_sample(rig: Rig, replay: ReplayProcess) -> Sample:
    return Sample(
        at=time.monotonic(),
        platform_cpu=tree_cpu_seconds(rig.server.process.pid),
        sender_cpu=cpu_seconds(replay.pid),
        own_cpu=cpu_seconds(os.getpid()),
        metrics=scrape(rig.base, rig.server.auth_headers),
        lag=lag_buckets(rig.base, rig.server.auth_headers),
        socket_drops=socket_drops(range(MEDIA_PORTS[0], MEDIA_PORTS[1] + 1)),
        host_drops=host_udp_drops(),
        sender=replay.stats(),
    )


@dataclass(frozen=True)
class StepResult:
    streams: int
    cpu_percent: float
    rss_mb: float
    sent: int
    accepted: int
    gaps: int
    socket_drops: int
    host_drops: int
    worst_lag: float

    @property
    def per_stream(self) -> float:
        return self.cpu_percent / self.streams

    @property
    def is_clean(self) -> bool:
        return self.gaps == 0 and self.socket_drops == 0


def report_window(rig: Rig, streams: int, before: Sample, after: Sample) -> StepResult:
    elapsed = after.at - before.at
    cpu = (after.platform_cpu - before.platform_cpu) / elapsed * 100
    sender_cpu = (after.sender_cpu - before.sender_cpu) / elapsed * 100
    own_cpu = (after.own_cpu - before.own_cpu) / elapsed * 100

    def delta(name: str) -> int:
        return int(after.metrics.get(name, 0) - before.metrics.get(name, 0))

    result = StepResult(
        streams=streams,
        cpu_percent=cpu,
        rss_mb=tree_rss_mb(rig.server.process.pid),
        sent=after.sender.packets_sent - before.sender.packets_sent,
        accepted=delta("farmwatch_media_ingest_packets_total"),
        gaps=delta("farmwatch_media_ingest_lost_packets_total"),
        socket_drops=after.socket_drops - before.socket_drops,
        host_drops=after.host_drops - before.host_drops,
        worst_lag=worst_lag_between(before.lag, after.lag),
    )
    print(f"   N={streams:>4}: platform CPU {cpu:5.1f}% of one core = {result.per_stream:.3f}% "
          f"per stream, RSS {result.rss_mb:.0f} MB", flush=True)  # fmt: skip
    print(f"           {elapsed:.1f} s: RTP packets sent {result.sent}, accepted by the platform "
          f"{result.accepted}, sequence gaps {result.gaps}, kernel drops at its media sockets "
          f"{result.socket_drops} (host-wide {result.host_drops}); worst event-loop lag "
          f"<= {result.worst_lag * 1000:.0f} ms", flush=True)  # fmt: skip
    print(
        f"           sender CPU {sender_cpu:.1f}%, late p99 {after.sender.late_p99_ms:.1f} ms "
        f"max {after.sender.late_max_ms:.1f} ms; bench process {own_cpu:.1f}%",
        flush=True,
    )
    return result


async def measure_latency(
    rig: Rig, replay: ReplayProcess, feeder: CallFeeder, loop: EncodedLoop, seconds: float,
    label: str,
) -> None:  # fmt: skip
    channel = feeder.recorded
    status, body = await rig.open_live(channel)
    if status != 201:
        print(f"   latency ({label}): cannot open: {status} {body}", flush=True)
        return
    arrivals = FrameArrivals(frame_keys(loop))
    try:
        async with webrtc_viewer(rig.http, rig.base, body["session"], arrivals):
            await asyncio.sleep(seconds)
    finally:
        await rig.close_live(body["session"])
    result = frame_latencies(arrivals, replay.send_times(feeder.keys[channel]), LATENCY_WARMUP)
    print(f"   added latency RTP in -> WebRTC out ({label}): median {result.median_ms:.1f} ms, "
          f"p95 {result.p95_ms:.1f} ms, max {result.max_ms:.1f} ms over {result.frames} frames",
          flush=True)  # fmt: skip


async def one_run(
    workdir: Path, loop: EncodedLoop, counts: list[int], args: argparse.Namespace, *,
    latency: bool,
) -> list[StepResult]:  # fmt: skip
    total = max(counts) + 1
    media = replace(PICTURE, stop_after=0.0)  # the device signals; the sender streams
    results: list[StepResult] = []
    replay = ReplayProcess(loop)
    viewers: list[asyncio.Task[None]] = []
    try:
        async with live_rig(workdir, loop, channels=total, idle_close=3600, media=media) as rig:
            feeder = CallFeeder(rig.device, replay, recorded=rig.channel(total - 1))
            task = asyncio.get_running_loop().create_task(feeder.run())
            try:
                if latency:
                    await measure_latency(rig, replay, feeder, loop, 8, "idle platform, 1 stream")
                opened = 0
                for count in counts:
                    bodies, failures = await open_streams(
                        rig, [rig.channel(index) for index in range(opened, count)]
                    )
                    opened = count
                    if failures:
                        print(f"   {len(failures)} opens failed: {failures[:3]}", flush=True)
                    if args.viewers == "fmp4":
                        for body in bodies:
                            viewers.append(asyncio.create_task(rig.read_fmp4(body["fmp4"], [0])))
                    await asyncio.sleep(args.warmup)
                    before = take_sample(rig, replay)
                    await asyncio.sleep(args.window)
                    result = report_window(rig, count, before, take_sample(rig, replay))
                    results.append(result)
                    if not result.is_clean or failures:
                        print("   stopping this run here (media lost or opens failed)")
                        break
                if latency:
                    label = f"under N={opened}"
                    await measure_latency(rig, replay, feeder, loop, 8, label)
            finally:
                for viewer in viewers:
                    viewer.cancel()
                await asyncio.gather(*viewers, return_exceptions=True)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        replay.close()
    return results


def summarize(runs: list[list[StepResult]], viewers: str) -> None:
    mode = "one fMP4 viewer per stream" if viewers else "ingest only (no viewer)"
    print(f"\nsummary over {len(runs)} run(s), {mode}: median (min-max)")
    by_count: dict[int, list[StepResult]] = defaultdict(list)
    for run in runs:
        for result in run:
            by_count[result.streams].append(result)
    for count in sorted(by_count):
        steps = by_count[count]
        clean = sum(1 for step in steps if step.is_clean)
        reference = REFERENCE.get(count)
        compare = (
            f"; ZLMediaKit {reference[0]} % on demand, {reference[1]} % remux always"
            if reference and not viewers
            else ""
        )
        print(f"   N={count:>4}: {spread([s.per_stream for s in steps])} % of one core per "
              f"stream, total {spread([s.cpu_percent for s in steps])} %, RSS "
              f"{spread([s.rss_mb for s in steps])} MB, clean in {clean} of {len(steps)} runs "
              f"(gaps {spread([float(s.gaps) for s in steps])}, socket drops "
              f"{spread([float(s.socket_drops) for s in steps])}){compare}")  # fmt: skip
    print(f"   {REFERENCE_VIEWER}\n   {TARGETS}")


async def run(args: argparse.Namespace, loop: EncodedLoop) -> None:
    counts = sorted(int(count) for count in args.streams.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_starts:
            await measure_starts(Path(tmp) / "starts", loop, args.starts)
        print(f"\n2. ingest cost, N = {counts}, {args.runs} run(s), {args.window:g} s windows "
              f"after {args.warmup:g} s; 3. added latency (first run)")  # fmt: skip
        runs = []
        for index in range(args.runs):
            print(f"  run {index + 1}", flush=True)
            latency = index == 0 and not args.skip_latency
            runs.append(
                await one_run(Path(tmp) / f"run{index}", loop, counts, args, latency=latency)
            )
        summarize(runs, args.viewers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", default="50,100,200")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--viewers", choices=["", "fmp4"], default="")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--skip-starts", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args, announced_camera_loop()))


if __name__ == "__main__":
    main()
