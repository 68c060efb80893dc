"""RTP ingest throughput: packets/s one UDP receiver handles, and CPU per 2 Mbit/s stream.

Run: `.venv/bin/python -m bench.rtp_ingest`. Part 1 feeds the pure `RtpIngest` core (RTP parse,
reorder, PS demux) with 1400-byte-payload packets of a ~2 Mbit/s H.264 PS stream as fast as it
can. Part 2 sends the same packets over loopback to a real `UdpReceiver` (sender in a thread)
and reports the received rate and the process CPU time per packet.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time

from farmwatch.media.frames import EsFrame
from farmwatch.media.ingest import RtpIngest
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.settings import MediaSettings
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.test_pattern import TestPatternSpec

SSRC = 200_000_001


def packets(frame_count: int) -> list[bytes]:
    spec = TestPatternSpec(
        channel_id="34020000001320000001", width=640, height=360, bitrate=2_000_000
    )
    loop = MediaCache().get(spec)
    packetizer = RtpPacketizer(SSRC, max_payload=1400)
    out: list[bytes] = []
    for number in range(frame_count):
        frame = loop.frames[number % len(loop.frames)]
        pts = number * 3600
        out += packetizer.packetize(frame.ps.shifted(pts - frame.pts), pts)
    return out


def bench_core(data: list[bytes]) -> float:
    ingest = RtpIngest(MediaSettings(), expected_ssrc=SSRC, now=0.0)
    start = time.perf_counter()
    frames = 0
    for index, packet in enumerate(data):
        frames += sum(
            isinstance(o, EsFrame) for o in ingest.receive(packet, ("h", 1), index * 1e-5)
        )
    elapsed = time.perf_counter() - start
    print(f"core: {len(data)} packets, {frames} frames, {len(data) / elapsed:,.0f} packets/s")
    return len(data) / elapsed


class _Count:
    def __init__(self) -> None:
        self.frames = 0

    def receiver_frame(self, frame: EsFrame) -> None:
        self.frames += 1

    def receiver_event(self, event: object) -> None:
        pass


def _send(data: list[bytes], port: int, rate: int) -> None:
    """Sender process: `rate` packets/s in 1 ms bursts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    burst = max(1, rate // 1000)
    begin = time.perf_counter()
    for index in range(0, len(data), burst):
        for packet in data[index : index + burst]:
            sock.sendto(packet, ("127.0.0.1", port))
        delay = begin + (index + burst) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    sock.close()


async def bench_socket(data: list[bytes], rate: int) -> None:
    from farmwatch.media.udp_receiver import UdpReceiver

    listener = _Count()
    settings = MediaSettings(host="127.0.0.1")
    receiver = UdpReceiver(settings, listener, expected_ssrc=SSRC)  # type: ignore[arg-type]
    port = await receiver.open()
    sender = multiprocessing.Process(target=_send, args=(data, port, rate))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sender.start()
    while sender.is_alive():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    stats = receiver.stats
    await receiver.close()
    print(
        f"socket at {rate:,} packets/s offered: {stats.packets} of {len(data)} received "
        f"({stats.lost} lost), {listener.frames} frames, receiver CPU "
        f"{cpu / max(stats.packets, 1) * 1e6:.1f} us/packet, {cpu / wall * 100:.0f} % of a core"
    )


def main() -> None:
    data = packets(25 * 20)  # 20 s of a 2 Mbit/s stream
    rate = bench_core(data)
    per_second = len(data) / 20
    print(
        f"2 Mbit/s stream = {per_second:.0f} packets/s -> "
        f"{per_second / rate * 100:.2f} % of one core (ingest core only)"
    )
    many = packets(25 * 100)
    for rate in (5_000, 20_000, 40_000):
        asyncio.run(bench_socket(many, rate))


if __name__ == "__main__":
    main()
