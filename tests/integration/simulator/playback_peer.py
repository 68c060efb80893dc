"""The platform's side of playback and download, for simulator tests (gb28181.md §6.8-§7, §11.6-7).

Independent of the platform's playback code: `PlaybackCaller` (a `media_peer.Caller`) sends
Playback/Download INVITEs built with the SDP builders, MANSRTSP INFOs in the dialog, answers
the device's in-dialog MESSAGEs (MediaStatus) 200 and keeps them; `FrameLog` receives the RTP
over UDP with arrival times and cuts it into frames at the marker bits, reading each frame's
recorded time from its SEI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from farmwatch.media.rtp import RtpPacket
from farmwatch.simulator import read_recorded_time
from farmwatch.sipserver.endpoint import IncomingRequest
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import build_request
from farmwatch.sipserver.sip.sdp import SessionDescription
from farmwatch.sipserver.sip.sdp_build import (
    MediaEndpoint,
    build_download_offer,
    build_playback_offer,
)
from tests.integration.simulator.media_peer import HOST, PLATFORM_ID, Call, Caller

MANSRTSP = "Application/MANSRTSP"


def playback_offer(
    port: int, channel_id: str, start: int, stop: int, *, ssrc: str = "1200000001"
) -> SessionDescription:
    return build_playback_offer(sender_id=PLATFORM_ID, endpoint=MediaEndpoint(HOST, port),
                                ssrc=ssrc, channel_id=channel_id, start=start,
                                stop=stop)  # fmt: skip


def download_offer(
    port: int, channel_id: str, start: int, stop: int, *, speed: int, ssrc: str = "1200000002"
) -> SessionDescription:
    return build_download_offer(sender_id=PLATFORM_ID, endpoint=MediaEndpoint(HOST, port),
                                ssrc=ssrc, channel_id=channel_id, start=start, stop=stop,
                                download_speed=speed)  # fmt: skip


class PlaybackCaller(Caller):
    """A `Caller` that also sends INFO and takes the device's in-dialog MESSAGEs."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[SipRequest] = []
        self._message_received = asyncio.Event()
        self._cseq = 10

    async def start(self) -> None:
        await super().start()
        self.endpoint.add_handler("MESSAGE", self._on_message)

    async def _on_message(self, incoming: IncomingRequest) -> SipResponse:
        self.messages.append(incoming.request)
        self._message_received.set()
        self._message_received = asyncio.Event()
        return build_response(incoming.request, 200)

    async def wait_message(self) -> SipRequest:
        """The first MESSAGE received (bound it with `asyncio.timeout`)."""
        while not self.messages:
            await self._message_received.wait()
        return self.messages[0]

    async def info(self, call: Call, body: bytes, content_type: str = MANSRTSP) -> SipResponse:
        self._cseq += 1
        contact = call.response.contact
        assert contact is not None
        request = build_request(
            "INFO", str(contact.uri), from_=call.invite.headers.get("From") or "",
            to=call.response.headers.get("To") or "", call_id=call.invite.call_id,
            cseq=self._cseq, body=body, content_type=content_type,
        )  # fmt: skip
        return await self.endpoint.request(request, self._dest(call))


@asynccontextmanager
async def running_playback_caller() -> AsyncIterator[PlaybackCaller]:
    caller = PlaybackCaller()
    await caller.start()
    try:
        yield caller
    finally:
        await caller.close()


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    arrival: float
    """Loop time the frame's last packet arrived."""
    timestamp: int
    ps: bytes

    @property
    def recorded_ms(self) -> int | None:
        """The SEI's recorded time, found by scanning the PS for start codes."""
        return read_recorded_time(self.ps, length_prefixed=False)

    @property
    def is_keyframe(self) -> bool:
        return b"\x00\x00\x01\xbc" in self.ps  # a key frame's packet carries the PSM


class FrameLog(asyncio.DatagramProtocol):
    """RTP over UDP kept with arrival times; waits without sleeping."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, RtpPacket]] = []
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.packets.append((self._loop.time(), RtpPacket.parse(data)))
        self._changed.set()
        self._changed = asyncio.Event()

    def frames(self) -> list[ReceivedFrame]:
        """Complete frames in arrival order (loopback neither loses nor reorders)."""
        frames: list[ReceivedFrame] = []
        parts: list[bytes] = []
        for arrival, packet in self.packets:
            parts.append(packet.payload)
            if packet.marker:
                frames.append(ReceivedFrame(arrival, packet.timestamp, b"".join(parts)))
                parts = []
        return frames

    def ps_stream(self) -> bytes:
        return b"".join(frame.ps for frame in self.frames())

    async def wait_for(self, predicate: Callable[[list[ReceivedFrame]], bool]) -> None:
        """Bound it with `asyncio.timeout`."""
        while not predicate(self.frames()):
            await self._changed.wait()

    async def wait_frames(self, count: int) -> list[ReceivedFrame]:
        await self.wait_for(lambda frames: len(frames) >= count)
        return self.frames()

    async def wait_recorded(self, millis: int) -> list[ReceivedFrame]:
        """Until the frame showing recorded time `millis` has arrived."""
        await self.wait_for(lambda frames: any(f.recorded_ms == millis for f in frames))
        return self.frames()


@asynccontextmanager
async def frame_log() -> AsyncIterator[tuple[FrameLog, int]]:
    loop = asyncio.get_running_loop()
    transport, log = await loop.create_datagram_endpoint(FrameLog, local_addr=(HOST, 0))
    try:
        yield log, int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


def pace(frames: list[ReceivedFrame]) -> float:
    """Recorded seconds per wall second between the first and the last frame."""
    first, last = frames[0], frames[-1]
    recorded = ((last.recorded_ms or 0) - (first.recorded_ms or 0)) / 1000
    return recorded / (last.arrival - first.arrival)
