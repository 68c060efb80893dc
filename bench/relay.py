"""Relay benchmark: the CPU one media node spends relaying streams to upper platforms, and loss.

    PYTHONPATH=. .venv/bin/python bench/relay.py [--streams 50,100] [--runs 3]
        [--window 10] [--warmup 3] [--transport udp|tcp]

Everything runs on this machine, on 127.0.0.1: one media worker process (`MediaCluster` with
one worker, as `farmwatch serve` runs media), `bench/rtp_replay.c` as the cameras (N copies
of the camera clip of `bench/camera_clip.py`: 1280x720 25 fps, 2 Mbit/s, GOP 50, ~195 RTP
packets/s of at most 1,400 bytes, each copy from its own socket with its own SSRC, each
frame one burst at its time), and in this process N loopback uppers that take the relayed
RTP (a UDP socket each, or with `--transport tcp` a listening TCP socket each that the relay
connects to) and count packets, whole frames (marker bits) and sequence gaps.

Per N of `--streams`, `--runs` times, each on a fresh worker: N streams are opened (no
viewer), and after `--warmup` s a `--window` s window measures ingest only; then every
stream gets one relay to its own upper (opened and started as the cascade does after the
upper's ACK), and after `--warmup` s a second window measures relaying; the cameras stop at
its end, so that every frame they sent in it can have reached the uppers. Printed: the
worker's CPU in % of one core per stream in each window and their difference (what one
relayed stream costs; target <= 0.2 % per 2 Mbit/s stream per hop), frames the cameras sent
in the window against frames the uppers received whole, sequence gaps at the uppers, frames
the relays dropped, and packets lost before the node (its ingest counters). A summary gives
median (min-max) over the runs. Stops by itself; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import uvloop

from bench.camera_clip import announced_camera_loop
from bench.measure import cpu_seconds, spread
from bench.rtp_replay import ReplayProcess, StartStream, StopStream
from farmwatch.media.cluster import MediaCluster
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import RelaySpec, RelayTransport
from farmwatch.media.rfc4571 import Framing, Rfc4571Deframer
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream_core import CloseReason
from farmwatch.simulator.test_pattern import EncodedLoop

HOST = "127.0.0.1"
PORTS = "40000-40999"  # N streams and N relays: one even/odd pair each
SSRC_BASE = 300_000_000
TARGET = 0.2  # % of one core per relayed 2 Mbit/s stream per hop
OPEN_CONCURRENCY = 8
RECEIVE_BUFFER = 4 * 1024 * 1024
DRAIN = 0.5  # seconds for the last frames sent to reach the uppers


class Quiet:
    """The platform's listener: relays that end by themselves are counted."""

    def __init__(self) -> None:
        self.relays_closed: list[tuple[str, str]] = []

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        print(f"   stream {stream_key} closed by itself: {reason}", flush=True)

    def keyframe_needed(self, stream_key: str) -> None:
        pass

    def output_closed(self, output_id: str) -> None:
        pass

    def segment_closed(self, stream_key: str, segment: object) -> None:
        pass

    def relay_closed(self, relay_id: str, reason: str) -> None:
        self.relays_closed.append((relay_id, reason))


@dataclass
class Counts:
    packets: int = 0
    frames: int = 0
    gaps: int = 0
    next_sequence: int | None = None

    def packet(self, header: bytes | bytearray | memoryview) -> None:
        self.packets += 1
        if header[1] & 0x80:
            self.frames += 1
        sequence = (header[2] << 8) | header[3]
        if self.next_sequence is not None and sequence != self.next_sequence:
            self.gaps += 1
        self.next_sequence = (sequence + 1) & 0xFFFF


class UdpUppers:
    """N UDP sockets read with `recv_into` until empty whenever readable (cheap enough that
    this process stays small beside the worker)."""

    def __init__(self, count: int) -> None:
        self.counts = [Counts() for _ in range(count)]
        self._sockets: list[socket.socket] = []
        self._buffer = bytearray(2048)
        loop = asyncio.get_running_loop()
        for index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._read, sock, self.counts[index])
            self._sockets.append(sock)

    def spec(self, index: int) -> RelaySpec:
        port = int(self._sockets[index].getsockname()[1])
        return RelaySpec(HOST, port, RelayTransport.UDP, SSRC_BASE + index)

    def _read(self, sock: socket.socket, counts: Counts) -> None:
        buffer = self._buffer
        while True:
            try:
                size = sock.recv_into(buffer)
            except BlockingIOError:
                return
            if size >= 12:
                counts.packet(buffer)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            loop.remove_reader(sock.fileno())
            sock.close()


class _TcpUpper(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._deframer = Rfc4571Deframer(framing=Framing.RFC4571)

    def data_received(self, data: bytes) -> None:
        for packet in self._deframer.feed(data):
            self._counts.packet(packet)


class TcpUppers:
    """N listening TCP sockets (the upper offered `a=setup:passive`: the relay connects)."""

    def __init__(self, count: int) -> None:
        self.counts = [Counts() for _ in range(count)]
        self._servers: list[asyncio.Server] = []

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for counts in self.counts:
            server = await loop.create_server(lambda c=counts: _TcpUpper(c), HOST, 0)
            self._servers.append(server)

    def spec(self, index: int) -> RelaySpec:
        port = int(self._servers[index].sockets[0].getsockname()[1])
        return RelaySpec(HOST, port, RelayTransport.TCP_CONNECT, SSRC_BASE + index)

    def close(self) -> None:
        for server in self._servers:
            server.close()


@dataclass(frozen=True, slots=True)
class Step:
    streams: int
    ingest_per_stream: float
    """Worker CPU, % of one core per stream, ingest only."""
    relay_per_stream: float
    """Worker CPU, % of one core per stream, every stream relayed."""
    frames_sent: int
    frames_received: int
    gaps: int
    frames_dropped: int
    ingest_lost: int
    relays_ended: int

    @property
    def relay_cost(self) -> float:
        return self.relay_per_stream - self.ingest_per_stream

    @property
    def frames_lost(self) -> int:
        return max(0, self.frames_sent - self.frames_received)


def sent_frames(replay: ReplayProcess) -> int:
    return sum(stream.frames_sent for stream in replay.stats().streams)


async def window(pid: int, seconds: float) -> float:
    """The worker's CPU over `seconds`, in % of one core."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - before) / seconds


async def open_streams(cluster: MediaCluster, replay: ReplayProcess, count: int) -> None:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(index: int) -> None:
        async with gate:
            key = f"bench-{index}"
            ssrc = SSRC_BASE + index
            placement = await cluster.open_stream(key, MediaTransport.UDP, ssrc, [HOST])
            replay.send(StartStream(index, HOST, placement.port, ssrc))

    await asyncio.gather(*(one(index) for index in range(count)))
    async with asyncio.timeout(30):
        await asyncio.gather(*(cluster.wait_live(f"bench-{index}") for index in range(count)))


async def open_relays(cluster: MediaCluster, uppers: UdpUppers | TcpUppers, count: int) -> None:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(index: int) -> None:
        async with gate:
            relay_id = f"relay-{index}"
            await cluster.open_relay(f"bench-{index}", relay_id, uppers.spec(index))
            await cluster.start_relay(relay_id)

    await asyncio.gather(*(one(index) for index in range(count)))


async def one_step(workdir: Path, loop: EncodedLoop, count: int, args: argparse.Namespace) -> Step:
    listener = Quiet()
    settings = MediaSettings(host=HOST, port_range=PORTS, idle_close=3600.0)
    cluster = MediaCluster(settings, listener, workers=1, runtime_dir=workdir, log_level="WARNING")
    replay = ReplayProcess(loop)
    uppers: UdpUppers | TcpUppers = (
        UdpUppers(count) if args.transport == "udp" else TcpUppers(count)
    )
    if isinstance(uppers, TcpUppers):
        await uppers.open()
    await cluster.start()
    try:
        await open_streams(cluster, replay, count)
        pid = cluster.stats()[0].pid
        await asyncio.sleep(args.warmup)
        ingest = await window(pid, args.window)

        await open_relays(cluster, uppers, count)
        await asyncio.sleep(args.warmup)
        received_before = sum(counts.frames for counts in uppers.counts)
        gaps_before = sum(counts.gaps for counts in uppers.counts)
        frames_before = sent_frames(replay)
        relaying = await window(pid, args.window)
        frames_sent = sent_frames(replay) - frames_before
        for index in range(count):  # the cameras stop; what they sent goes through
            replay.send(StopStream(index))
        await asyncio.sleep(DRAIN)
        received = sum(counts.frames for counts in uppers.counts) - received_before
        gaps = sum(counts.gaps for counts in uppers.counts) - gaps_before
        dropped = 0
        for index in range(count):
            dropped += (await cluster.relay_stats(f"relay-{index}")).frames_dropped
        await cluster.refresh_stats()
        ingest_lost = cluster.stats()[0].ingest.lost
        return Step(
            count, ingest / count, relaying / count, frames_sent, received, gaps, dropped,
            ingest_lost, len(listener.relays_closed),
        )  # fmt: skip
    finally:
        replay.close()
        uppers.close()
        await cluster.close()


def report(step: Step) -> None:
    print(f"   N={step.streams:>4}: ingest only {step.ingest_per_stream:.3f} %/stream, "
          f"relaying {step.relay_per_stream:.3f} %/stream -> relay {step.relay_cost:.3f} % of "
          f"one core per relayed stream; frames sent {step.frames_sent}, received whole "
          f"{step.frames_received} (lost {step.frames_lost}), gaps {step.gaps}, dropped by "
          f"relays {step.frames_dropped}, lost before the node {step.ingest_lost}, relays "
          f"ended {step.relays_ended}", flush=True)  # fmt: skip


def summarize(steps: list[Step], runs: int, transport: str) -> None:
    print(f"\nsummary over {runs} run(s), relays over {transport}: median (min-max)")
    by_count: dict[int, list[Step]] = defaultdict(list)
    for step in steps:
        by_count[step.streams].append(step)
    for count in sorted(by_count):
        group = by_count[count]
        print(f"   N={count:>4}: relay {spread([s.relay_cost for s in group])} % of one core "
              f"per relayed stream (ingest only {spread([s.ingest_per_stream for s in group])},"
              f" relaying {spread([s.relay_per_stream for s in group])}); frames lost "
              f"{spread([float(s.frames_lost) for s in group])} of "
              f"{spread([float(s.frames_sent) for s in group])}, gaps "
              f"{spread([float(s.gaps) for s in group])}, dropped "
              f"{spread([float(s.frames_dropped) for s in group])}")  # fmt: skip
    print(f"   target: relay <= {TARGET} % of one core per 2 Mbit/s stream per hop")


async def run(args: argparse.Namespace, loop: EncodedLoop) -> None:
    counts = sorted(int(count) for count in args.streams.split(","))
    print(f"relay cost, N = {counts}, {args.runs} run(s), {args.window:g} s windows after "
          f"{args.warmup:g} s, relays over {args.transport}", flush=True)  # fmt: skip
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="fw-relay-") as tmp:
        for index in range(args.runs):
            print(f"  run {index + 1}", flush=True)
            for count in counts:
                step = await one_step(Path(tmp), loop, count, args)
                report(step)
                steps.append(step)
    summarize(steps, args.runs, args.transport)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--streams", default="50,100")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    args = parser.parse_args()
    loop = announced_camera_loop()
    uvloop.run(run(args, loop))


if __name__ == "__main__":
    main()
