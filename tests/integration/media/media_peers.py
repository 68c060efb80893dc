"""Loopback media senders for the receiver tests: the simulator's test pattern as PS over RTP."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol, TypeVar

import av

from farmwatch.media.events import ReceiverEvent
from farmwatch.media.frames import EsFrame, MediaKind
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.test_pattern import EncodedLoop, TestPatternSpec

CHANNEL_A = "34020000001320000001"
CHANNEL_B = "34020000001320000002"
FRAME_TICKS = 3600  # 25 fps at 90 kHz

_CACHE = MediaCache()


PRIVATE_PORTS = (22000, 29998)
"""Where receivers opened by hand listen: below the kernel's ephemeral range (32768-60999),
so no port another test's sender still sprays (a stream it tore down, a relay it left) can
be handed to them by `bind(0)`, and apart from the ranges of the tests' media managers."""


class _Opens(Protocol):
    def open(self) -> Awaitable[int]: ...


OpensT = TypeVar("OpensT", bound=_Opens)


async def open_on_private_port(make: Callable[[int], OpensT]) -> tuple[OpensT, int]:
    """`make(port)` opened on a free even port of `PRIVATE_PORTS` (another is drawn while
    the port is taken); returns the receiver and its port."""
    for _ in range(50):
        receiver = make(random.randrange(PRIVATE_PORTS[0], PRIVATE_PORTS[1], 2))
        try:
            return receiver, await receiver.open()
        except OSError:
            continue
    raise RuntimeError(f"no free port in {PRIVATE_PORTS}")


def pattern_loop(channel_id: str = CHANNEL_A, width: int = 320, height: int = 180) -> EncodedLoop:
    spec = TestPatternSpec(channel_id=channel_id, width=width, height=height, loop_seconds=2)
    return _CACHE.get(spec)


def rtp_frames(
    loop: EncodedLoop, ssrc: int, frame_count: int, *, max_payload: int = 1400
) -> Iterator[list[bytes]]:
    """RTP packets of `frame_count` frames (the loop replayed with continuous timestamps)."""
    packetizer = RtpPacketizer(ssrc, max_payload=max_payload, first_sequence=65500)
    frames = loop.frames
    for number in range(frame_count):
        frame = frames[number % len(frames)]
        pts = number * FRAME_TICKS
        ps = frame.ps.shifted(pts - frame.pts)
        yield packetizer.packetize(ps, pts)


def with_loss_and_reordering(
    packets: list[bytes], *, loss: float, seed: int
) -> tuple[list[bytes], int]:
    """Drop `loss` of the packets and swap some neighbours; returns (packets, dropped).

    The first packet stays first: a receiver starts its sequence at the first packet it
    gets and cannot know that an earlier one is still to come (RFC 3550 §A.1), so a swap
    there costs the first GOP by design. Which packets a seed swaps depends on how many
    there are, and the encoder does not always give the same count: swapping the first
    pair made the loss test fail now and then."""
    chooser = random.Random(seed)
    kept = [packet for packet in packets if chooser.random() >= loss]
    for index in range(1, len(kept) - 1, 7):
        if chooser.random() < 0.5:
            kept[index], kept[index + 1] = kept[index + 1], kept[index]
    return kept, len(packets) - len(kept)


class UdpSender(asyncio.DatagramProtocol):
    pass


async def open_udp_sender() -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(UdpSender, local_addr=("127.0.0.1", 0))
    return transport


async def send_udp(
    transport: asyncio.DatagramTransport, port: int, frames: Iterator[list[bytes]]
) -> None:
    for packets in frames:
        for packet in packets:
            transport.sendto(packet, ("127.0.0.1", port))
        await asyncio.sleep(0.001)  # pace like a camera burst, not a flood


def mp4_decode_times(data: bytes) -> list[Fraction]:
    """Decode times, in seconds, of the video samples of an fMP4 byte stream (PyAV)."""
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        return [
            packet.dts * stream.time_base
            for packet in container.demux(stream)
            if packet.dts is not None
        ]


def decode_sizes(frames: list[EsFrame]) -> list[tuple[int, int]]:
    """Decode the video frames with PyAV (an independent decoder); sizes of the pictures."""
    decoder = av.CodecContext.create("h264", "r")
    sizes = []
    for frame in frames:
        if frame.kind is MediaKind.VIDEO:
            for picture in decoder.decode(av.Packet(frame.data)):
                sizes.append((picture.width, picture.height))
    sizes.extend((picture.width, picture.height) for picture in decoder.decode(None))
    return sizes


@dataclass
class RecordingListener:
    """A `ReceiverListener` that keeps everything and wakes waiters."""

    frames: list[EsFrame] = field(default_factory=list)
    events: list[ReceiverEvent] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def receiver_frame(self, frame: EsFrame) -> None:
        self.frames.append(frame)
        self.changed.set()

    def receiver_event(self, event: ReceiverEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, kind: type[ReceiverEvent], timeout: float = 5.0) -> ReceiverEvent:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if isinstance(event, kind):
                        return event
                self.changed.clear()
                await self.changed.wait()
