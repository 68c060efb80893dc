"""The operator's microphone over WebRTC, as G.711A for a voice broadcast (issue 12 item 5).

Owns the receiving peer connection of a talk: `MicrophoneReceiver.answer(offer)` answers the
browser's offer holding one audio track (aiortc negotiates Opus or PCMU/PCMA and decodes it),
and every decoded frame is resampled to 8 kHz mono and encoded A-law (`AlawEncoder`) and
handed to `on_audio` — the broadcast's `AudioSender.feed`. The connection failing or
closing, or the track ending, calls `on_end` once.

In two-way talk (对讲) the same connection also carries the camera's voice to the browser:
given a `DeviceVoice`, the audio transceiver is sendrecv with a `DeviceVoiceTrack`, and the
answer prefers the camera's G.711 law (its voice goes on in the law it came in), then the
other, then whatever else the browser offered (Opus, encoded with PyAV). The microphone is
then encoded in the law the camera took (`law`: A or µ).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, OperationError
from aiortc.mediastreams import MediaStreamError

from farmwatch.media.audio_transcode import AlawEncoder
from farmwatch.media.device_voice import DeviceVoice, DeviceVoiceTrack
from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.frames import Codec
from farmwatch.media.sinks.webrtc import use_host_addresses

__all__ = ["MicrophoneReceiver"]

log = logging.getLogger(__name__)

ICE_GATHERING_TIMEOUT = 10.0
_GONE_STATES = frozenset({"failed", "closed"})


class MicrophoneReceiver:
    def __init__(
        self,
        on_audio: Callable[[bytes], None],
        on_end: Callable[[], None],
        *,
        host_addresses: Sequence[str] = (),
        name: str = "",
        voice: DeviceVoice | None = None,
        law: Codec = Codec.G711A,
    ) -> None:
        self._on_audio = on_audio
        self._voice = voice
        self._law = law
        self.voice_track: DeviceVoiceTrack | None = None
        self._on_end = on_end
        self._host_addresses = tuple(host_addresses)
        self._name = name
        self._peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peer.on("track", self._on_track)
        self._peer.on("connectionstatechange", self._on_state)
        self._reader: asyncio.Task[None] | None = None
        self._has_ended = False
        self.frames_received = 0

    async def answer(self, offer_sdp: str, offer_type: str = "offer") -> tuple[str, str]:
        """Answer an offer with an audio m-line; `InvalidOffer` otherwise."""
        if offer_type != "offer":
            raise MediaError(f"cannot answer a {offer_type!r}")
        if not any(line.startswith("m=audio ") for line in offer_sdp.splitlines()):
            raise InvalidOffer("the offer holds no audio (m=audio): no microphone to hear")
        if self._voice is None:
            transceiver = self._peer.addTransceiver("audio", direction="recvonly")
        else:
            self.voice_track = DeviceVoiceTrack(self._voice)
            transceiver = self._peer.addTransceiver(self.voice_track, direction="sendrecv")
            transceiver.setCodecPreferences(_g711_first(self._law))
        use_host_addresses(transceiver, self._host_addresses)
        try:
            await self._peer.setRemoteDescription(RTCSessionDescription(offer_sdp, offer_type))
        except (InvalidAccessError, OperationError, ValueError) as error:
            raise InvalidOffer(f"refused: {error}") from error
        async with asyncio.timeout(ICE_GATHERING_TIMEOUT):
            await self._peer.setLocalDescription(await self._peer.createAnswer())
        local = self._peer.localDescription
        return local.sdp, local.type

    async def close(self) -> None:
        self._has_ended = True  # closing on purpose is no end to report
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.voice_track is not None:
            self.voice_track.stop()
        await self._peer.close()

    def _on_track(self, track: Any) -> None:
        if track.kind != "audio" or self._reader is not None:
            return
        self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: Any) -> None:
        encoder = AlawEncoder("pcm_mulaw" if self._law is Codec.G711U else "pcm_alaw")
        try:
            while True:
                frame = await track.recv()
                self.frames_received += 1
                alaw = encoder.encode(frame)
                if alaw:
                    self._on_audio(alaw)
        except MediaStreamError:
            log.info("talk %s: the microphone track ended", self._name)
        self._ended()

    def _on_state(self) -> None:
        state = self._peer.connectionState
        log.info("talk %s: connection %s", self._name, state)
        if state in _GONE_STATES:
            self._ended()

    def _ended(self) -> None:
        if not self._has_ended:
            self._has_ended = True
            self._on_end()


def _g711_first(law: Codec) -> list[RTCRtpCodecCapability]:
    """Every audio codec aiortc has, the camera's G.711 law first, then the other (the
    answer takes the first the offer holds)."""
    codecs = RTCRtpSender.getCapabilities("audio").codecs
    first, second = ("audio/pcmu", "audio/pcma") if law is Codec.G711U else (
        "audio/pcma", "audio/pcmu")  # fmt: skip
    rank = {first: 0, second: 1}
    return sorted(codecs, key=lambda codec: rank.get(codec.mimeType.lower(), 2))
