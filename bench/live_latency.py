"""Platform-added latency of the live benchmark: RTP packet in → WebRTC packet out.

A WebRTC viewer (an aiortc `RTCPeerConnection`, host candidates on 127.0.0.1 only) plays a
live session; its receiver's RTP handler is replaced by `FrameArrivals.handle`, which notes
when the last packet (marker) of each frame arrives and never decodes (the viewer must not
take CPU from the platform). Frames are matched to what the replay sender sent: the
platform passes the PTS through, and aiortc's RTP timestamp is PTS + a random origin, so
timestamp differences give frame-number differences exactly (3600 ticks a frame at 25 fps);
the origin is pinned by content: the first 32 bytes after a slice's NAL header (in FU-A start
fragments and single NAL packets) identify the frame within the loop (keys found in several
frames are not used), leaving only whole loops (4 s) ambiguous, which the smallest
non-negative latency resolves. Latency of a frame
= arrival of its last WebRTC packet − send of its last RTP packet (`time.monotonic()`, one
clock for both processes). Frames arriving in the first `warmup` seconds (the GOP-cache burst
every new viewer gets) are left out.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.rtp_replay import SendTimes
from farmwatch.media.nal import split_nal_units
from farmwatch.media.sinks.webrtc import use_host_addresses
from farmwatch.simulator.test_pattern import EncodedLoop

KEY_BYTES = 32
_FU_A, _STAP_A = 28, 24
_SLICE_TYPES = (1, 5)


def frame_keys(loop: EncodedLoop) -> dict[bytes, int]:
    """Slice-content key → index of the frame in the loop (keys found in one frame only)."""
    found: dict[bytes, set[int]] = {}
    for index, frame in enumerate(loop.frames):
        for nal in split_nal_units(frame.data):
            if nal and nal[0] & 0x1F in _SLICE_TYPES and len(nal) > KEY_BYTES:
                found.setdefault(bytes(nal[1 : 1 + KEY_BYTES]), set()).add(index)
    return {key: indices.pop() for key, indices in found.items() if len(indices) == 1}


@dataclass(slots=True)
class FrameArrivals:
    """What the viewer's RTP handler saw: per RTP timestamp, last arrival and loop index."""

    keys: dict[bytes, int]
    last_arrival: dict[int, float] = field(default_factory=dict)
    loop_index: dict[int, int] = field(default_factory=dict)
    packets: int = 0
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the last packet of the first frame arrived."""
    first_frame_at: float | None = None

    async def handle(self, packet: Any, arrival_time_ms: int = 0) -> None:
        self.packets += 1
        payload: bytes = packet.payload
        if packet.marker:
            self.last_arrival[packet.timestamp] = now = time.monotonic()
            if self.first_frame_at is None:
                self.first_frame_at = now
                self.first_frame.set()
        if not payload or packet.timestamp in self.loop_index:
            return
        nal_type = payload[0] & 0x1F
        if nal_type == _FU_A and len(payload) > 2 and payload[1] & 0x80:
            key = payload[2 : 2 + KEY_BYTES]
        elif nal_type in _SLICE_TYPES:
            key = payload[1 : 1 + KEY_BYTES]
        else:
            return
        index = self.keys.get(bytes(key))
        if index is not None:
            self.loop_index[packet.timestamp] = index


@asynccontextmanager
async def webrtc_viewer(
    http: aiohttp.ClientSession, base: str, session_id: str, arrivals: FrameArrivals
) -> AsyncIterator[None]:
    """Negotiate WebRTC for `session_id`; `arrivals` records until the block ends."""
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = client.addTransceiver("video", direction="recvonly")
        use_host_addresses(transceiver, ["127.0.0.1"])  # aioice skips loopback unless told
        # Record instead of aiortc's handler: no jitter buffer, no decoding.
        transceiver.receiver._handle_rtp_packet = arrivals.handle  # type: ignore[method-assign]
        await client.setLocalDescription(await client.createOffer())
        offer = {"sdp": client.localDescription.sdp, "type": client.localDescription.type}
        async with http.post(f"{base}/api/live/{session_id}/webrtc", json=offer) as response:
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"WebRTC offer refused: {response.status} {body}")
        await client.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        yield
    finally:
        await client.close()


@dataclass(frozen=True, slots=True)
class LatencyResult:
    frames: int
    median_ms: float
    p95_ms: float
    max_ms: float


def frame_latencies(arrivals: FrameArrivals, sent: SendTimes, warmup: float) -> LatencyResult:
    """Match the viewer's frames with the sender's and return the added latency."""
    if not arrivals.last_arrival or not arrivals.loop_index:
        raise RuntimeError(f"the viewer got no identifiable frame ({arrivals.packets} packets)")
    first_ts = min(arrivals.last_arrival, key=lambda ts: arrivals.last_arrival[ts])
    relative = {ts: ((ts - first_ts) & 0xFFFFFFFF) // sent.pts_step for ts in arrivals.last_arrival}
    shifts = Counter(
        (index - relative[ts]) % sent.loop_frames
        for ts, index in arrivals.loop_index.items()
        if ts in relative
    )
    shift, votes = shifts.most_common(1)[0]
    if votes < 0.9 * sum(shifts.values()):
        raise RuntimeError(f"frames identified inconsistently: {shifts.most_common(3)}")
    start = min(arrivals.last_arrival.values()) + warmup
    measured = [(relative[ts], at) for ts, at in arrivals.last_arrival.items() if at >= start]
    best: list[float] | None = None
    for loops in range(len(sent.times) // sent.loop_frames + 1, -1, -1):
        offset = shift + loops * sent.loop_frames
        numbers = [(rel + offset, at) for rel, at in measured]
        if any(number >= len(sent.times) for number, _ in numbers):
            continue
        latencies = [at - sent.times[number] for number, at in numbers]
        if latencies and min(latencies) >= -0.001:
            best = latencies
            break
    if not best:
        raise RuntimeError("could not match the viewer's frames with the sent ones")
    best.sort()
    return LatencyResult(
        frames=len(best),
        median_ms=statistics.median(best) * 1000,
        p95_ms=best[int(len(best) * 0.95)] * 1000,
        max_ms=best[-1] * 1000,
    )
