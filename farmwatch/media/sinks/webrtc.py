"""WebRTC output: H.264 passed through to a browser with aiortc, never re-encoded.

Owns the live WebRTC viewer of DESIGN.md "Live view" (STYLE part 1 §3, B7): a
`WebRtcSession` is the sink a stream feeds; it answers the browser's SDP offer (RFC 8829
JSEP, answerer side) with an `RTCPeerConnection` whose only sent track,
`VideoPassthroughTrack`, hands aiortc `av.Packet`s holding the Annex-B access units as the
camera sent them (`time_base` 1/90000, pts from the frame through an `OutputClock`, so the
RTP timestamps keep going forward when the camera's clock jumps). aiortc's `RTCRtpSender` sends a
packet through `H264Encoder.pack` (RFC 6184 STAP-A / FU-A) instead of encoding it, and the
answer's codec preferences allow only H.264 (+ RTX). A browser's PLI or FIR (RFC 4585
§6.3.1, RFC 5104 §4.3.1) cannot be met by a passthrough sender, so it is forwarded to the
injected `request_keyframe` (the platform sends GB/T 28181 `IFameCmd` to the camera), at most
once per `keyframe_request_interval`. G.711 sound passes through too, on an audio track
(`AudioPassthroughTrack`, aiortc's `PcmEncoder.pack`), when the browser offers audio;
A-law is preferred, as GB cameras send it. H.265 is not sent (aiortc has no H.265
packetiser): serve H.265 cameras through fMP4/HLS.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import av
from aioice import Candidate
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDtlsTransport,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, OperationError
from aiortc.mediastreams import MediaStreamError

from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame
from farmwatch.media.output_clock import OutputClock
from farmwatch.media.queue_sink import DEFAULT_SINK_QUEUE_FRAMES, QueuedSink
from farmwatch.media.sinks.webrtc_offer import check_offer

__all__ = [
    "DEFAULT_ICE_GATHERING_TIMEOUT",
    "DEFAULT_KEYFRAME_REQUEST_INTERVAL",
    "KeyframeRequester",
    "VideoPassthroughTrack",
    "WebRtcSession",
    "use_host_addresses",
]

log = logging.getLogger(__name__)

DEFAULT_ICE_GATHERING_TIMEOUT = 5.0
DEFAULT_KEYFRAME_REQUEST_INTERVAL = 1.0
"""A viewer's PLIs come every few hundred ms until a keyframe arrives; forward one a second."""
_TIME_BASE = Fraction(1, TIMESTAMP_CLOCK_RATE)
_SENT_MIME_TYPES = ("video/H264", "video/rtx")
_GONE_STATES = ("failed", "closed")

KeyframeRequester = Callable[[], None]
"""Called (on the event loop, must not block) when the viewer asks for a keyframe."""


class VideoPassthroughTrack(MediaStreamTrack):
    """A video track whose `recv()` returns the source's H.264 access units as `av.Packet`s.

    Other codecs are skipped (`frames_skipped`). When the source ends the track stops
    and `recv()` raises `MediaStreamError`, which ends aiortc's sender loop.
    """

    kind = "video"

    def __init__(self, source: QueuedSink) -> None:
        super().__init__()
        self._source = source
        self._clock = OutputClock()
        self.frames_sent = 0
        self.frames_skipped = 0

    async def recv(self) -> av.Packet[Any]:
        while (frame := await self._source.next_frame()) is not None:
            if frame.codec is not Codec.H264:
                self.frames_skipped += 1
                continue
            packet = av.Packet(frame.data)
            packet.pts, packet.dts = self._clock.stamp(frame.pts, frame.dts)
            packet.time_base = _TIME_BASE
            self.frames_sent += 1
            return packet
        self.stop()
        raise MediaStreamError


class AudioPassthroughTrack(MediaStreamTrack):
    """An audio track passing the camera's G.711 frames through (aiortc's `PcmEncoder.pack`).

    Only the codec the answer negotiated (`codec`) is sent; the other law is dropped and
    counted. The queue is short and drops its oldest frame when full: late sound is no use.
    """

    kind = "audio"

    def __init__(self, max_frames: int = 50) -> None:
        super().__init__()
        self.codec: Codec | None = None
        self._frames: deque[EsFrame] = deque(maxlen=max_frames)
        self._ready = asyncio.Event()
        self._clock = OutputClock()
        self.frames_sent = 0
        self.frames_skipped = 0

    def push(self, frame: EsFrame) -> None:
        if frame.codec is not self.codec:
            self.frames_skipped += 1
            return
        self._frames.append(frame)
        self._ready.set()

    async def recv(self) -> av.Packet[Any]:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        frame = self._frames.popleft()
        packet = av.Packet(frame.data)
        packet.pts, _ = self._clock.stamp(frame.pts, frame.pts)
        packet.time_base = _TIME_BASE
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self._ready.set()


class WebRtcSession(QueuedSink):
    """One browser viewer: the sink to attach to the stream, and its peer connection.

    ```
    session = WebRtcSession(request_keyframe=stream.request_keyframe, name="ch1:alice")
    subscription = stream.attach(session)
    sdp, sdp_type = await session.answer(offer_sdp, "offer")   # → back to the browser
    ...
    await session.close()          # also happens by itself when the peer fails or hangs up
    ```
    `is_closed` turns true when the peer connection fails or closes, so the stream detaches.
    """

    def __init__(
        self,
        *,
        request_keyframe: KeyframeRequester,
        ice_servers: Sequence[str] = (),
        host_addresses: Sequence[str] = (),
        ice_gathering_timeout: float = DEFAULT_ICE_GATHERING_TIMEOUT,
        keyframe_request_interval: float = DEFAULT_KEYFRAME_REQUEST_INTERVAL,
        clock: Callable[[], float] | None = None,
        max_frames: int = DEFAULT_SINK_QUEUE_FRAMES,
        name: str = "",
    ) -> None:
        super().__init__(max_frames=max_frames, name=name)
        self._request_keyframe = request_keyframe
        self._keyframe_request_interval = keyframe_request_interval
        self._clock = clock or asyncio.get_running_loop().time
        self._last_keyframe_request: float | None = None
        self._ice_gathering_timeout = ice_gathering_timeout
        self._host_addresses = tuple(host_addresses)
        servers = [RTCIceServer(urls=url) for url in ice_servers]  # [] = no STUN at all
        self._peer = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.track = VideoPassthroughTrack(self)
        self.audio_track = AudioPassthroughTrack()
        self.keyframe_requests = 0
        """PLI/FIR forwarded to `request_keyframe` (at most one per interval)."""
        self.pictures_lost = 0
        """PLI/FIR received from the viewer."""
        self._peer_gone = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._peer.on("connectionstatechange", self._on_connection_state_change)

    def offer(self, frame: EsFrame) -> None:
        """Video goes through the bounded queue; G.711 sound to the audio track."""
        if frame.codec in _AUDIO_MIME_TYPES:
            self.audio_track.push(frame)
        else:
            super().offer(frame)

    @property
    def connection_state(self) -> str:
        """RTCPeerConnection.connectionState: new, connecting, connected, failed, closed."""
        return str(self._peer.connectionState)

    async def answer(self, offer_sdp: str, offer_type: str = "offer") -> tuple[str, str]:
        """Answer the browser's offer: returns (answer SDP, "answer") with ICE gathered.

        Raises `InvalidOffer` when the offer is malformed or has no video we can send into,
        `MediaError` when it is not an offer or the session is closed.
        """
        if offer_type != "offer" or self.is_closed:
            raise MediaError(f"cannot answer a {offer_type!r} on session {self.name!r}")
        check_offer(offer_sdp)
        transceiver = self._peer.addTransceiver(self.track, direction="sendonly")
        use_host_addresses(transceiver, self._host_addresses)
        transceiver.setCodecPreferences(
            [
                codec
                for codec in RTCRtpSender.getCapabilities("video").codecs
                if codec.mimeType in _SENT_MIME_TYPES
            ]
        )
        audio = None
        if _has_audio(offer_sdp):
            audio = self._peer.addTransceiver(self.audio_track, direction="sendonly")
            use_host_addresses(audio, self._host_addresses)
            # A-law first: the law GB/T 28181 cameras use (PSM stream type 0x90).
            audio.setCodecPreferences(
                sorted(
                    (
                        codec
                        for codec in RTCRtpSender.getCapabilities("audio").codecs
                        if codec.mimeType in _AUDIO_MIME_TYPES.values()
                    ),
                    key=lambda codec: codec.mimeType != _AUDIO_MIME_TYPES[Codec.G711A],
                )
            )
        try:
            await self._peer.setRemoteDescription(RTCSessionDescription(offer_sdp, offer_type))
        except (InvalidAccessError, OperationError, ValueError) as error:
            raise InvalidOffer(f"refused: {error}") from error
        if transceiver.mid is None:
            raise InvalidOffer("no video m-line")
        sender = transceiver.sender
        self._forward_keyframe_requests(sender)
        async with asyncio.timeout(self._ice_gathering_timeout):
            await self._peer.setLocalDescription(await self._peer.createAnswer())
        _yield_while_sending(sender.transport)  # bundled now: the transport every track uses
        if audio is not None and audio.mid is not None:
            self.audio_track.codec = _negotiated_audio(self._peer.localDescription.sdp)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._close_when_peer_gone())
        local = self._peer.localDescription
        return local.sdp, local.type

    @property
    def is_closed(self) -> bool:
        """Closed, or the peer connection failed/closed (the stream then detaches)."""
        return super().is_closed or self._peer_gone.is_set()

    def _forward_keyframe_requests(self, sender: RTCRtpSender) -> None:
        """Hook aiortc's PLI/FIR handler, which only flags its encoder (unused here).

        aiortc exposes no event for it: `RTCRtpSender._handle_rtcp_packet` calls
        `self._send_keyframe()` on PLI and FIR, so the session wraps that method on its own
        sender instance.
        """
        flag_encoder = sender._send_keyframe

        def on_keyframe_request() -> None:
            flag_encoder()
            self.pictures_lost += 1
            now = self._clock()
            last = self._last_keyframe_request
            if last is not None and now - last < self._keyframe_request_interval:
                return
            self._last_keyframe_request = now
            self.keyframe_requests += 1
            try:
                self._request_keyframe()
            except Exception:
                log.exception("WebRTC session %s: keyframe request failed", self.name)

        setattr(sender, "_send_keyframe", on_keyframe_request)  # noqa: B010

    def _on_connection_state_change(self) -> None:
        state = self._peer.connectionState
        log.info("WebRTC session %s: connection %s", self.name, state)
        if state in _GONE_STATES:
            self._peer_gone.set()

    async def _close_when_peer_gone(self) -> None:
        await self._peer_gone.wait()
        await self.close()

    async def _on_close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        self.track.stop()
        self.audio_track.stop()
        await self._peer.close()


_AUDIO_MIME_TYPES = {Codec.G711A: "audio/PCMA", Codec.G711U: "audio/PCMU"}
_PACKETS_PER_TURN = 64


def _yield_while_sending(transport: RTCDtlsTransport) -> None:
    """Give the event loop a turn every `_PACKETS_PER_TURN` RTP packets sent.

    aiortc's sender loop sends every packet of a frame without yielding: a 4 MiB key frame is
    3 000 packets (SRTP, ICE), ~40 ms holding the loop (issue 13 item 6). Its `_send_rtp` is
    an awaited coroutine, so the session wraps it on its own transport instance, as it wraps
    `_send_keyframe`.
    """
    send_rtp = transport._send_rtp
    sent = 0

    async def send_rtp_yielding(data: bytes) -> None:
        nonlocal sent
        await send_rtp(data)
        sent += 1
        if sent % _PACKETS_PER_TURN == 0:
            await asyncio.sleep(0)

    setattr(transport, "_send_rtp", send_rtp_yielding)  # noqa: B010


def use_host_addresses(transceiver: RTCRtpTransceiver, addresses: Sequence[str]) -> None:
    """Gather `transceiver`'s ICE host candidates on `addresses` only; empty: every interface.

    Neither aiortc 1.16 nor aioice 0.13 has a setting for it: aioice's
    `Connection.gather_candidates` lists every interface but loopback (the module function
    `get_host_addresses`) and binds one socket per address in
    `get_component_candidates(component, addresses)`. That method is wrapped here on this
    transceiver's own connection (reached through aiortc's `RTCIceGatherer._connection`), so
    no other peer connection and nothing global changes. Loopback is allowed when listed.
    Call it right after `addTransceiver`, before the local description is set.
    """
    if not addresses:
        return
    chosen = list(addresses)
    connection = transceiver.sender.transport.transport.iceGatherer._connection
    gather_on = connection.get_component_candidates

    async def gather_on_chosen(
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109 - aioice's signature
    ) -> list[Candidate]:
        return await gather_on(component=component, addresses=chosen, timeout=timeout)

    setattr(connection, "get_component_candidates", gather_on_chosen)  # noqa: B010


def _has_audio(sdp: str) -> bool:
    return any(line.startswith("m=audio ") for line in sdp.splitlines())


def _negotiated_audio(sdp: str) -> Codec | None:
    """The G.711 law of the answer's audio section (its first payload type)."""
    in_audio = False
    first_payload: str | None = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_audio = line.startswith("m=audio ")
            fields = line.split()
            first_payload = fields[3] if in_audio and len(fields) > 3 else None
        elif in_audio and first_payload and line.startswith(f"a=rtpmap:{first_payload} "):
            name = line.split(" ", 1)[1].split("/", 1)[0].upper()
            return {"PCMA": Codec.G711A, "PCMU": Codec.G711U}.get(name)
    return None
