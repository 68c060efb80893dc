"""The media benchmarks' camera sender: `rtp_replay.c`, built on first use and driven here.

`ReplayProcess(loop)` writes the PS clip to a file, compiles `bench/rtp_replay.c` with the
machine's C compiler when its binary is missing or older than the source, and starts it.
The sender runs N copies of the clip, each like one camera: its own socket, SSRC and
timestamp base, each frame sent as one `sendmmsg` burst when due. A C sender takes a few
percent of a core for hundreds of streams, where a Python one would compete with the
platform for the machine's two cores.

The platform's RTCP receiver reports are read back (cumulative loss, how far reception
lags), but the benchmarks judge loss from the platform's own ingest counters and the kernel's
per-socket drop counts, which do not lag behind when the platform does.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from bench.camera_clip import CACHE
from farmwatch.simulator.test_pattern import EncodedLoop

__all__ = [
    "ReplayProcess",
    "ReplayStats",
    "SendTimes",
    "StartStream",
    "StopStream",
    "StreamReport",
]

SOURCE = Path(__file__).with_name("rtp_replay.c")


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


Command = StartStream | StopStream


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
    """Worst reception lag the reports showed since the last request."""


@dataclass(frozen=True, slots=True)
class ReplayStats:
    streams: tuple[StreamReport, ...]
    cpu_seconds: float
    """The sender's own CPU time so far."""
    late_p99_ms: float
    late_max_ms: float
    """How late frames left the sender after they were due (since the last request)."""

    @property
    def packets_sent(self) -> int:
        return sum(stream.packets_sent for stream in self.streams)


@dataclass(frozen=True, slots=True)
class SendTimes:
    """`times[n]` is the `time.monotonic()` at which frame n's last packet was sent."""

    key: int
    pts_step: int
    loop_frames: int
    times: tuple[float, ...]


def build_sender() -> Path:
    """The compiled sender, (re)built when the source is newer; raises when no compiler."""
    binary = CACHE / "rtp_replay"
    if binary.exists() and binary.stat().st_mtime >= SOURCE.stat().st_mtime:
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("the media benchmarks need a C compiler (gcc) for their sender")
    CACHE.mkdir(parents=True, exist_ok=True)
    temporary = binary.with_suffix(".tmp")
    subprocess.run(
        [compiler, "-O2", "-Wall", "-o", str(temporary), str(SOURCE), "-lm"],
        check=True, capture_output=True,
    )  # fmt: skip
    temporary.replace(binary)
    return binary


def write_clip(loop: EncodedLoop, path: Path) -> None:
    """The clip file format `rtp_replay.c` reads (see its header comment)."""
    parts = [b"FWCLIP1\0", struct.pack("<IIQ", loop.spec.fps, len(loop.frames), loop.duration)]
    for frame in loop.frames:
        ps = frame.ps
        parts.append(struct.pack("<BQQI", frame.is_keyframe, ps.pts, ps.dts, ps.scr_offset))
        parts.append(struct.pack(f"<I{len(ps.pts_offsets)}I", len(ps.pts_offsets), *ps.pts_offsets))
        parts.append(struct.pack(f"<I{len(ps.dts_offsets)}I", len(ps.dts_offsets), *ps.dts_offsets))
        parts.append(struct.pack("<I", len(ps.data)) + ps.data)
    path.write_bytes(b"".join(parts))


class ReplayProcess:
    """The sender process and the bench's side of its pipes (blocking calls)."""

    def __init__(self, loop: EncodedLoop) -> None:
        binary = build_sender()
        clip = CACHE / f"clip-{os.getpid()}.bin"
        write_clip(loop, clip)
        self._process = subprocess.Popen(
            [str(binary), str(clip)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        self._clip = clip
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._process.pid

    def send(self, command: Command) -> None:
        match command:
            case StartStream(key, host, port, ssrc, record):
                self._write(f"start {key} {host} {port} {ssrc} {int(record)}")
            case StopStream(key):
                self._write(f"stop {key}")

    def stats(self) -> ReplayStats:
        answer = self._ask("stats")
        streams = tuple(StreamReport(*row) for row in answer["streams"])
        return ReplayStats(streams, answer["cpu"], answer["late_p99_ms"], answer["late_max_ms"])

    def send_times(self, key: int) -> SendTimes:
        answer = self._ask(f"times {key}")
        return SendTimes(key, answer["pts_step"], answer["loop_frames"], tuple(answer["times"]))

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._write("quit")
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=5)
        self._clip.unlink(missing_ok=True)

    def _write(self, line: str) -> None:
        assert self._process.stdin is not None
        with self._lock:
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()

    def _ask(self, line: str) -> dict[str, object]:
        assert self._process.stdout is not None
        with self._lock:
            assert self._process.stdin is not None
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError("the sender exited")
        result: dict[str, object] = json.loads(answer)
        return result
