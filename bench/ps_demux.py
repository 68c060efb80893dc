"""Throughput of the pure PS demuxer (farmwatch.media.PsDemuxer) in MB/s of PS.

Two layouts: GB/T 28181 device style (one PS packet per frame, PES up to 64 KiB, fed as
1400-byte RTP payloads with the marker on the last) and FFmpeg's `vob` muxer (2 KiB packs).
H.264 640x360 at about 2 Mbit/s. Run: PYTHONPATH=. .venv/bin/python bench/ps_demux.py
"""

from __future__ import annotations

import io
import random
import time
from fractions import Fraction

import av

from farmwatch.media import PsDemuxer
from tests.unit.media.ps_samples import build_gb_packet

WIDTH, HEIGHT, FRAMES = 640, 360, 150


def pictures() -> list[av.VideoFrame]:
    base = random.Random(0).randbytes(WIDTH * HEIGHT)
    out = []
    for index in range(FRAMES):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(base[index * 97 :] + base[: index * 97])
        frame.planes[1].update(bytes([128]) * (WIDTH * HEIGHT // 4))
        frame.planes[2].update(bytes([128]) * (WIDTH * HEIGHT // 4))
        frame.pts = index
        out.append(frame)
    return out


def gb_payloads() -> list[tuple[bytes, int, bool]]:
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    context.time_base, context.bit_rate = Fraction(1, 25), 2_000_000
    context.options = {"x264-params": "keyint=50:bframes=0"}
    units = [bytes(p) for f in pictures() for p in context.encode(f)]
    units += [bytes(p) for p in context.encode(None)]
    payloads = []
    for index, unit in enumerate(units):
        packet = build_gb_packet(unit, 3600 * index, keyframe=index % 50 == 0)
        chunks = [packet[i : i + 1400] for i in range(0, len(packet), 1400)]
        payloads += [(c, 3600 * index, i == len(chunks) - 1) for i, c in enumerate(chunks)]
    return payloads


def vob_payloads() -> list[tuple[bytes, int, bool]]:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="vob") as output:
        stream = output.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 2_000_000
        for frame in pictures():
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    data = buffer.getvalue()
    return [(data[i : i + 1400], 0, False) for i in range(0, len(data), 1400)]


def measure(name: str, payloads: list[tuple[bytes, int, bool]]) -> None:
    size = sum(len(p) for p, _, _ in payloads)
    best = float("inf")
    for _ in range(5):
        demuxer = PsDemuxer()
        started = time.perf_counter()
        frames = 0
        for payload, timestamp, marker in payloads:
            frames += len(demuxer.feed(payload, rtp_timestamp=timestamp, marker=marker))
        frames += len(demuxer.flush())
        best = min(best, time.perf_counter() - started)
    print(
        f"{name}: {size / best / 1e6:.0f} MB/s, {best / len(payloads) * 1e6:.1f} us per "
        f"{size // len(payloads)}-byte payload, {frames} frames"
    )


if __name__ == "__main__":
    measure("GB layout (PES 64 KiB, marker)", gb_payloads())
    measure("FFmpeg vob layout (2 KiB packs)", vob_payloads())
