"""Replay sender of the live benchmark: N copies of one pre-packetised PS loop over RTP/UDP.

Runs in its own process (`ReplayProcess`), never in the platform's: the loop is encoded once
(by the caller), each frame's PS packet is cut into RTP payloads once per pass of the loop
(the PS SCR/PTS are re-stamped with `PsPacket.shifted` so they keep growing across passes;
the chunks are shared by every copy in that pass), and each copy only packs its own 12-byte
RTP header (SSRC, sequence, timestamp = PTS, marker on a frame's last packet) in front of a
shared payload. Every copy has its own socket, connected to its own platform port, and sends
each frame as a burst when it is due (frame n at start + n / fps), like a camera. The sender
is a plain loop over a deadline heap (no event loop); the control pipe doubles as its sleep.

The platform's RTCP receiver reports (sent to each copy's socket every `rtcp_interval`) are
read back as they arrive (one selector over the sockets and the control pipe): cumulative
packets lost and the extended highest sequence received, so the bench
knows what the platform lost and how long its reception lags the sender. `ReplayStats` also tells
how late the sender itself was (it must not be the bottleneck) and its own CPU time.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import selectors
import socket
import struct
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from farmwatch.media.rtp import RtcpReceiverReport, parse_rtcp
from farmwatch.simulator.test_pattern import EncodedLoop

MAX_PAYLOAD = 1400
PS_PAYLOAD_TYPE = 96
IDLE_WAIT = 0.5
RECENT_FRAMES = 256
_HEADER = struct.Struct("!BBHII")
_PASSES_CACHED = 64


@dataclass(frozen=True, slots=True)
class StartStream:
    """Command: start sending copy `key` to `host`:`port` with `ssrc` now."""

    key: int
    host: str
    port: int
    ssrc: int
    record: bool = False
    """Keep the send time of every frame's last packet (for the latency measurement)."""


@dataclass(frozen=True, slots=True)
class StopStream:
    key: int


@dataclass(frozen=True, slots=True)
class StatsRequest:
    """Answered with `ReplayStats`; the lateness figures cover the time since the last one."""


@dataclass(frozen=True, slots=True)
class SendTimesRequest:
    """Answered with `SendTimes` of copy `key` (it must have been started with `record`)."""

    key: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Command = StartStream | StopStream | StatsRequest | SendTimesRequest | Shutdown


@dataclass(frozen=True, slots=True)
class StreamReport:
    key: int
    frames_sent: int
    packets_sent: int
    send_errors: int
    reports: int
    """RTCP receiver reports received from the platform."""
    lost: int
    """Cumulative packets lost, as the platform's last report said."""
    lag_ms: float
    """Worst reception lag since the last request: when a report arrived, how long ago the
    oldest packet the platform had not received yet was sent (0 when it had them all)."""


@dataclass(frozen=True, slots=True)
class ReplayStats:
    streams: tuple[StreamReport, ...]
    cpu_seconds: float
    """The replay process's own CPU time so far."""
    late_p99_ms: float
    late_max_ms: float
    """How late frames left the sender after they were due (since the last request)."""


@dataclass(frozen=True, slots=True)
class SendTimes:
    """`times[n]` is the `time.monotonic()` at which frame n's last packet was sent."""

    key: int
    pts_step: int
    loop_frames: int
    times: tuple[float, ...]


class PacketLoop:
    """The loop's RTP payloads, cut once per pass and shared by every copy."""

    def __init__(self, loop: EncodedLoop) -> None:
        self._frames = loop.frames
        self._duration = loop.duration
        self._passes: OrderedDict[int, tuple[tuple[bytes, ...], ...]] = OrderedDict()
        self.fps = loop.spec.fps

    def __len__(self) -> int:
        return len(self._frames)

    def frame(self, number: int) -> tuple[int, tuple[bytes, ...]]:
        """(PTS, payloads) of frame `number` of the endless stream."""
        passes, index = divmod(number, len(self._frames))
        chunks = self._passes.get(passes)
        if chunks is None:
            chunks = self._cut(passes)
        return passes * self._duration + self._frames[index].pts, chunks[index]

    def _cut(self, passes: int) -> tuple[tuple[bytes, ...], ...]:
        shift = passes * self._duration
        cut = []
        for frame in self._frames:
            data = frame.ps.shifted(shift)
            cut.append(
                tuple(data[at : at + MAX_PAYLOAD] for at in range(0, len(data), MAX_PAYLOAD))
            )
        chunks = self._passes[passes] = tuple(cut)
        while len(self._passes) > _PASSES_CACHED:
            self._passes.popitem(last=False)
        return chunks


@dataclass(slots=True)
class _Copy:
    key: int
    sock: socket.socket
    ssrc: int
    start: float
    record: bool
    number: int = 0
    sequence: int = 0
    packets: int = 0
    errors: int = 0
    reports: int = 0
    lost: int = 0
    lag: float = 0.0
    times: list[float] = field(default_factory=list)
    recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))
    """(first sequence number, send time) of the last frames sent."""

    def send_frame(self, packets: PacketLoop) -> None:
        pts, chunks = packets.frame(self.number)
        self.recent.append((self.sequence, time.monotonic()))
        timestamp, last = pts & 0xFFFFFFFF, len(chunks) - 1
        for index, chunk in enumerate(chunks):
            marker = 0x80 if index == last else 0
            header = _HEADER.pack(0x80, marker | PS_PAYLOAD_TYPE, self.sequence & 0xFFFF,
                                  timestamp, self.ssrc)  # fmt: skip
            try:
                self.sock.send(header + chunk)
            except OSError:
                self.errors += 1
            self.sequence += 1
        self.packets += len(chunks)
        if self.record:
            self.times.append(time.monotonic())
        self.number += 1

    def read_reports(self) -> None:
        while True:
            try:
                data = self.sock.recv(2048, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.errors += 1
                return
            for packet in parse_rtcp(data):
                if not isinstance(packet, RtcpReceiverReport):
                    continue
                for block in packet.reports:
                    if block.ssrc == self.ssrc:
                        self.reports += 1
                        self.lost = block.packets_lost
                        self.lag = max(self.lag, self._lag(block.highest_sequence + 1))

    def _lag(self, pending: int) -> float:
        """How long ago packet `pending` (the first one not received) was sent."""
        if pending >= self.sequence:
            return 0.0
        sent_at = next((at for first, at in reversed(self.recent) if first <= pending), None)
        return time.monotonic() - sent_at if sent_at is not None else float("inf")


class Replayer:
    """The sender loop: copies, their deadline heap, the control pipe."""

    def __init__(self, loop: EncodedLoop, control: Connection) -> None:
        self._packets = PacketLoop(loop)
        self._control = control
        self._copies: dict[int, _Copy] = {}
        self._heap: list[tuple[float, int]] = []
        self._late: list[float] = []
        self._running = True
        self._selector = selectors.DefaultSelector()

    def run(self) -> None:
        self._selector.register(self._control, selectors.EVENT_READ, None)
        while self._running:
            self._send_due(time.monotonic())
            wait = self._heap[0][0] - time.monotonic() if self._heap else IDLE_WAIT
            for ready, _ in self._selector.select(max(0.0, wait)):
                if ready.data is None:
                    while self._running and self._control.poll():
                        self._handle(self._control.recv())
                else:
                    ready.data.read_reports()
        for copy in self._copies.values():
            copy.sock.close()
        self._selector.close()

    def _send_due(self, now: float) -> None:
        heap, interval = self._heap, 1.0 / self._packets.fps
        while heap and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            copy = self._copies.get(key)
            if copy is None:
                continue
            self._late.append(time.monotonic() - due)
            copy.send_frame(self._packets)
            heapq.heappush(heap, (copy.start + copy.number * interval, key))

    def _handle(self, command: Command) -> None:
        match command:
            case StartStream(key, host, port, ssrc, record):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((host, 0))
                sock.connect((host, port))
                start = time.monotonic()
                self._copies[key] = _Copy(key, sock, ssrc, start, record)
                self._selector.register(sock, selectors.EVENT_READ, self._copies[key])
                heapq.heappush(self._heap, (start, key))
            case StopStream(key):
                stopped = self._copies.pop(key, None)
                if stopped is not None:
                    self._selector.unregister(stopped.sock)
                    stopped.sock.close()
            case StatsRequest():
                self._control.send(self._stats())
            case SendTimesRequest(key):
                copy = self._copies[key]
                step = 90_000 // self._packets.fps
                self._control.send(SendTimes(key, step, len(self._packets), tuple(copy.times)))
            case Shutdown():
                self._running = False

    def _stats(self) -> ReplayStats:
        late = sorted(self._late) or [0.0]
        self._late = []
        streams = tuple(
            StreamReport(c.key, c.number, c.packets, c.errors, c.reports, c.lost, c.lag * 1000)
            for c in self._copies.values()
        )
        for copy in self._copies.values():
            copy.lag = 0.0
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
        return ReplayStats(streams, time.process_time(), p99 * 1000, late[-1] * 1000)


def _replay_main(loop: EncodedLoop, control: Connection) -> None:
    Replayer(loop, control).run()


class ReplayProcess:
    """The sender process and the bench's side of its control pipe (blocking calls)."""

    def __init__(self, loop: EncodedLoop) -> None:
        context = multiprocessing.get_context("spawn")
        self._control, child = context.Pipe()
        self._process = context.Process(target=_replay_main, args=(loop, child), daemon=True)
        self._process.start()
        child.close()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def send(self, command: Command) -> None:
        self._control.send(command)

    def stats(self, timeout: float = 10.0) -> ReplayStats:
        self._control.send(StatsRequest())
        if not self._control.poll(timeout):
            raise TimeoutError("the replay process did not answer")
        answer: ReplayStats = self._control.recv()
        return answer

    def send_times(self, key: int, timeout: float = 10.0) -> SendTimes:
        self._control.send(SendTimesRequest(key))
        if not self._control.poll(timeout):
            raise TimeoutError("the replay process did not answer")
        answer: SendTimes = self._control.recv()
        return answer

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._control.send(Shutdown())
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._control.close()
