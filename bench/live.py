"""Live-video benchmark: start time, concurrent 720p streams, platform-added latency.

    PYTHONPATH=. .venv/bin/python bench/live.py [--streams 50,100,200,250,300] [--starts 20]
        [--window 10] [--latency-seconds 8] [--skip-starts] [--deadline 540]

Everything runs on this machine, on 127.0.0.1: `farmwatch serve` as a child process
(`tests/peers/server_process.py`), one simulated device in this process, and the load
generator in a third process (`bench/live_replay.py`). One 1280x720 25 fps 2 Mbit/s H.264
loop (4 s, GOP 25) is encoded once and shared by everything that streams.

1. Start time: `--starts` channels in turn, the simulated device streaming itself: the time
   from `POST /api/channels/{id}/live` to its answer (the platform INVITEd the device and
   holds the first keyframe) and to the first fMP4 media fragment (`moof`+`mdat`) read over
   HTTP; median and p95. Each stream closes (idle close 0.5 s, BYE seen by the device)
   before the next start.
2. Concurrency: the device answers INVITEs but sends nothing (`stop_after=0`); each call's
   address and SSRC go to the replay process, which sends a pre-packetised copy (own socket,
   own SSRC, own platform port, real-time pacing, ~200 packets/s). Sessions are opened up to
   each N of `--streams` (idle close 3600 s, no viewer: ingest only), then over `--window`
   seconds: the platform's CPU (% of one core, /proc/PID/stat), RSS, CPU per stream; packets
   lost as the platform's own RTCP receiver reports count them (a frame is lost only if one
   of its packets is, so frames lost ≤ packets lost), kernel UDP receive-buffer drops
   (/proc/net/snmp, host-wide), how far the platform's reception lags the sender (sent −
   highest sequence received when a report arrives), and the sender's own CPU and lateness
   (it must not be the bottleneck), with this process's and all other processes' CPU (the
   machine's busy time from /proc/stat minus the three; approximate, but it shows when
   something else was running). The ramp stops after a step that lost media or failed opens.
3. Added latency: a WebRTC viewer (aiortc, `bench/live_latency.py`) on one replayed stream,
   before the ramp (idle machine) and after each step's window (under N streams): last RTP
   packet of a frame sent → last WebRTC packet of that frame received, median and p95.

The machine has 2 cores shared by the platform, the load generator and this process. The
default run takes about 4 minutes (each step: opening, 3 s settle, window, 8 s of WebRTC).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bench.live_latency import FrameArrivals, frame_keys, frame_latencies, webrtc_viewer
from bench.live_replay import ReplayProcess, ReplayStats, StartStream
from bench.registration import CLOCK_TICKS, cpu_seconds, rss_mb
from farmwatch.simulator import FleetSettings, MediaCache, SimulatedDevice, StreamSettings
from farmwatch.simulator.session import SessionTimers
from farmwatch.simulator.test_pattern import EncodedLoop, encode_test_pattern
from farmwatch.sipserver.sip.address import Address, Transport
from tests.peers.server_process import RunningServer, start_server, stop_server

PLATFORM = "34020000002000000001"
PICTURE = StreamSettings(width=1280, height=720, fps=25, bitrate=2_000_000, gop=25)
LOOP_SPEC = PICTURE.spec_for("34020000001320000001")
OPEN_CONCURRENCY = 8
SETTLE = 3.0
WARMUP = 1.5


def udp_drops() -> int:
    """Host-wide UDP datagrams the kernel dropped on receive (RcvbufErrors)."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = [row for row in lines if row[0] == "Udp:"][:2]
    return int(values[names.index("RcvbufErrors")])


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (/proc/stat), in seconds."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


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

    async def wait_channels(self, count: int) -> None:
        url = f"{self.base}/api/devices/{self.device.device_id}/channels"
        while True:
            async with self.http.get(url) as response:
                body = await response.json()
            if response.status == 200 and _count_nodes(body["channels"]) >= count:
                return
            await asyncio.sleep(0.2)


def _count_nodes(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + _count_nodes(node.get("children", [])) for node in nodes)


@asynccontextmanager
async def live_rig(
    workdir: Path, loop: EncodedLoop, *, channels: int, idle_close: float, media: StreamSettings
) -> AsyncIterator[Rig]:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "FARMWATCH_LIVE_TRANSPORT": "udp",
        "FARMWATCH_MEDIA_HOST": "127.0.0.1",
        "FARMWATCH_MEDIA_PORT_RANGE": "30000-31999",
        "FARMWATCH_MEDIA_IDLE_CLOSE": str(idle_close),
        "FARMWATCH_LOG_LEVEL": "WARNING",
        "FARMWATCH_LIVE_WEBRTC_ADDRESSES": "127.0.0.1",
    }
    server = await asyncio.to_thread(start_server, workdir, env)
    try:
        settings = FleetSettings(
            server=Address("127.0.0.1", server.sip_port, Transport.UDP), server_id=PLATFORM,
            channels=channels, media=media, timers=SessionTimers(retry_min=0.5, retry_max=5.0),
        ).device_settings()[0]  # fmt: skip
        # Every channel streams the one loop encoded up front (no encode per channel).
        device = SimulatedDevice(settings, media_cache=MediaCache(encoder=lambda spec: loop))
        await device.start()
        try:
            async with aiohttp.ClientSession() as http:
                rig = Rig(server, device, http)
                async with asyncio.timeout(60):
                    await device.wait_for(lambda d: d.is_registered)
                    await rig.wait_channels(channels)
                yield rig
        finally:
            await device.stop()
    finally:
        await asyncio.to_thread(stop_server, server)


async def measure_starts(workdir: Path, loop: EncodedLoop, starts: int) -> None:
    print(f"\n1. start time over {starts} starts (simulated device streaming 720p25 2 Mbit/s)")
    results: dict[str, list[float]] = {"answered": [], "webrtc": [], "fmp4": []}
    async with live_rig(workdir, loop, channels=starts, idle_close=0.5, media=PICTURE) as rig:
        for index in range(starts):
            async with asyncio.timeout(30):
                await start_once(rig, rig.channel(index), results)
                await rig.device.wait_for(lambda d: d.active_calls == 0)
    for name, label in (
        ("answered", "POST /live answered (first keyframe in the platform)"),
        ("webrtc", "first keyframe out over WebRTC (incl. offer/answer, ICE, DTLS)"),
        ("fmp4", "first fMP4 fragment (one fragment per GOP: 1 s)"),
    ):
        values = results[name]
        if values:
            print(f"   {label}: median {statistics.median(values) * 1000:.0f} ms, "
                  f"p95 {percentile(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} "
                  f"({len(values)} of {starts})", flush=True)  # fmt: skip


async def start_once(rig: Rig, channel: str, results: dict[str, list[float]]) -> None:
    """One start: POST /live, a WebRTC viewer until its first frame, then one fMP4 fragment."""
    begin = time.monotonic()
    status, body = await rig.open_live(channel)
    if status != 201:
        print(f"   start on {channel}: {status} {body}", flush=True)
        return
    results["answered"].append(time.monotonic() - begin)
    arrivals = FrameArrivals({})
    async with webrtc_viewer(rig.http, rig.base, body["session"], arrivals):
        await arrivals.first_frame.wait()
    assert arrivals.first_frame_at is not None
    results["webrtc"].append(arrivals.first_frame_at - begin)
    await rig.first_fragment(body["fmp4"])
    results["fmp4"].append(time.monotonic() - begin)
    await rig.close_live(body["session"])


class CallFeeder:
    """Hands every call the device answers to the replay process (address, SSRC)."""

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


async def open_streams(rig: Rig, channels: list[str]) -> tuple[list[float], list[str]]:
    """Open one session per channel, `OPEN_CONCURRENCY` at a time: open times and failures."""
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    times: list[float] = []
    failures: list[str] = []

    async def one(channel: str) -> None:
        async with gate:
            begin = time.monotonic()
            try:
                async with asyncio.timeout(30):
                    status, body = await rig.open_live(channel)
            except (TimeoutError, aiohttp.ClientError) as error:
                failures.append(f"{channel}: {error!r}")
                return
            if status == 201:
                times.append(time.monotonic() - begin)
            else:
                failures.append(f"{channel}: {status} {body.get('error')}")

    await asyncio.gather(*(one(channel) for channel in channels))
    return times, failures


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
    result = frame_latencies(arrivals, replay.send_times(feeder.keys[channel]), WARMUP)
    print(f"   added latency RTP in → WebRTC out ({label}): median {result.median_ms:.1f} ms, "
          f"p95 {result.p95_ms:.1f} ms, max {result.max_ms:.1f} ms over {result.frames} frames",
          flush=True)  # fmt: skip


@dataclass(frozen=True)
class Sample:
    at: float
    platform_cpu: float
    replay_cpu: float
    own_cpu: float
    machine_busy: float
    drops: int
    log_lines: int
    stats: ReplayStats


def sample(rig: Rig, replay: ReplayProcess) -> Sample:
    return Sample(time.monotonic(), cpu_seconds(rig.server.process.pid), cpu_seconds(replay.pid),
                  cpu_seconds(os.getpid()), machine_busy_seconds(), udp_drops(),
                  len(rig.server.log_text().splitlines()), replay.stats())  # fmt: skip


def print_log_errors(rig: Rig, limit: int = 12) -> None:
    lines = [
        line for line in rig.server.log_text().splitlines() if "ERROR" in line or "Error" in line
    ]
    for line in lines[-limit:]:
        print(f"           platform log: {line[:300]}", flush=True)


def report_window(rig: Rig, count: int, before: Sample, after: Sample) -> bool:
    """Print one step of the ramp; False when it lost media."""
    elapsed = after.at - before.at
    cpu = (after.platform_cpu - before.platform_cpu) / elapsed * 100
    replay_cpu = (after.replay_cpu - before.replay_cpu) / elapsed * 100
    own_cpu = (after.own_cpu - before.own_cpu) / elapsed * 100
    other_cpu = (
        (after.machine_busy - before.machine_busy) / elapsed * 100 - cpu - replay_cpu - own_cpu
    )
    previous = {s.key: s for s in before.stats.streams}
    streams = [s for s in after.stats.streams if s.key in previous]
    frames = sum(s.frames_sent - previous[s.key].frames_sent for s in streams)
    packets = sum(s.packets_sent - previous[s.key].packets_sent for s in streams)
    lost = sum(s.lost - previous[s.key].lost for s in streams)
    lost_total = sum(s.lost for s in after.stats.streams)
    reporting = sum(1 for s in streams if s.reports > previous[s.key].reports)
    lag = max((s.lag_ms for s in after.stats.streams), default=0.0)
    drops = after.drops - before.drops
    print(f"   N={count:>4} (+1 latency stream): platform CPU {cpu:5.1f}% of one core, "
          f"{cpu / len(streams):.3f}% per stream, "
          f"RSS {rss_mb(rig.server.process.pid):.0f} MB", flush=True)  # fmt: skip
    print(f"           {elapsed:.1f} s: {frames} frames / {packets} RTP packets sent "
          f"(~{packets / elapsed * 8 * 1400 / 1e6:.0f} Mbit/s), RTP packets lost {lost} "
          f"(platform RTCP RR, {reporting}/{len(streams)} streams reported; {lost_total} since "
          f"start), kernel UDP drops {drops}, reception lag max {lag:.0f} ms; "
          f"platform log lines {after.log_lines - before.log_lines}", flush=True)  # fmt: skip
    print(f"           sender: CPU {replay_cpu:.1f}% of one core, late p99 "
          f"{after.stats.late_p99_ms:.1f} ms, max {after.stats.late_max_ms:.1f} ms; bench process "
          f"{own_cpu:.1f}%; all other processes {other_cpu:.1f}%", flush=True)  # fmt: skip
    return lost == 0 and drops == 0


async def measure_concurrency(
    workdir: Path, loop: EncodedLoop, replay: ReplayProcess, counts: list[int], window: float,
    latency_seconds: float,
) -> None:  # fmt: skip
    print(f"\n2. concurrent replayed streams {counts}, {window:g} s windows; 3. added latency")
    total = max(counts) + 1
    media = replace(PICTURE, stop_after=0.0)  # the device signals; the replay process streams
    async with live_rig(workdir, loop, channels=total, idle_close=3600, media=media) as rig:
        feeder = CallFeeder(rig.device, replay, recorded=rig.channel(total - 1))
        task = asyncio.get_running_loop().create_task(feeder.run())
        try:
            await measure_latency(rig, replay, feeder, loop, latency_seconds, "1 stream")
            opened = 0
            for count in counts:
                is_clean = await ramp_step(rig, replay, range(opened, count), window)
                opened = count
                label = f"N={count} load"
                await measure_latency(rig, replay, feeder, loop, latency_seconds, label)
                if not is_clean:
                    print("   stopping the ramp here (media lost or opens failed)", flush=True)
                    break
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def ramp_step(rig: Rig, replay: ReplayProcess, indices: range, window: float) -> bool:
    """Open the sessions of `indices`, settle, measure one window; False when it went wrong."""
    times, failures = await open_streams(rig, [rig.channel(index) for index in indices])
    if times:
        print(f"   {len(times)} more sessions opened ({indices.stop} streams): "
              f"open time median {statistics.median(times) * 1000:.0f} ms, "
              f"p95 {percentile(times, 0.95) * 1000:.0f} ms; {len(failures)} failed "
              f"{failures[:3]}", flush=True)  # fmt: skip
    if failures:
        print_log_errors(rig)
    await asyncio.sleep(SETTLE)
    before = sample(rig, replay)
    await asyncio.sleep(window)
    is_clean = report_window(rig, indices.stop, before, sample(rig, replay))
    return is_clean and not failures


async def run(args: argparse.Namespace, loop: EncodedLoop, replay: ReplayProcess) -> None:
    counts = sorted(int(count) for count in args.streams.split(","))
    async with asyncio.timeout(args.deadline):
        with tempfile.TemporaryDirectory() as tmp:
            if not args.skip_starts:
                await measure_starts(Path(tmp) / "starts", loop, args.starts)
            await measure_concurrency(
                Path(tmp) / "load", loop, replay, counts, args.window, args.latency_seconds
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", default="50,100,200,250,300")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument("--skip-starts", action="store_true")
    parser.add_argument("--deadline", type=float, default=540.0)
    args = parser.parse_args()
    begin = time.monotonic()
    loop = encode_test_pattern(LOOP_SPEC)
    packets = sum(-(-len(frame.ps.data) // 1400) for frame in loop.frames)
    size = sum(len(frame.ps.data) for frame in loop.frames)
    seconds = LOOP_SPEC.loop_seconds
    print(f"loop: {LOOP_SPEC.size_text} {LOOP_SPEC.fps} fps, {size * 8 / seconds / 1e6:.2f} "
          f"Mbit/s PS, {packets / seconds:.0f} RTP packets/s, encoded once in "
          f"{time.monotonic() - begin:.1f} s", flush=True)  # fmt: skip
    replay = ReplayProcess(loop)
    try:
        asyncio.run(run(args, loop, replay))
    finally:
        replay.close()


if __name__ == "__main__":
    main()
