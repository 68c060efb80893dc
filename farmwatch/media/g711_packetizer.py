"""G.711A voice for a device, as RTP: raw (payload type 8) or wrapped in PS (gb28181.md §4.13,
§8.3; RFC 3551 §4.5.14).

Owns cutting A-law bytes into 20 ms frames of 160 samples (`frames_of`, the last one padded
with A-law silence) and turning each frame into ready-to-send RTP packets:

* `G711Framing.PCMA`: one RTP packet per frame, the 8 kHz sample count as timestamp, marker
  on the first packet of a talk spurt (RFC 3551 §4.1);
* `G711Framing.PS`: one PS packet per frame (pack header, PES 0xC0 with the PTS), the system
  header and a PSM declaring G.711A (stream type 0x90) before the first frame and every
  `psm_every` frames after (a device joining late, or dropping a packet, learns the codec
  again), RTP timestamp on the 90 kHz clock, marker on the frame's last packet (§8.1).

Pure: bytes and sample counts in, bytes out.
"""

from __future__ import annotations

import enum

from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType
from farmwatch.media.rtp_packetizer import RtpPacketizer

__all__ = [
    "ALAW_SILENCE",
    "FRAME_SAMPLES",
    "G711Framing",
    "G711Packetizer",
    "SAMPLE_RATE",
    "frames_of",
]

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
"""20 ms at 8 kHz; one A-law byte per sample."""
ALAW_SILENCE = 0xD5
"""A-law code of the sample value 0 (after the 0x55 inversion of G.711)."""
PS_CLOCK = 90000
PSM_EVERY = 50
"""Frames between PSMs in the PS form: once a second."""


class G711Framing(enum.StrEnum):
    PCMA = "pcma"
    PS = "ps"


def frames_of(alaw: bytes) -> list[bytes]:
    """`alaw` cut into frames of `FRAME_SAMPLES`; the last one padded with silence."""
    frames = [alaw[i : i + FRAME_SAMPLES] for i in range(0, len(alaw), FRAME_SAMPLES)]
    if frames and len(frames[-1]) < FRAME_SAMPLES:
        frames[-1] = frames[-1] + bytes([ALAW_SILENCE]) * (FRAME_SAMPLES - len(frames[-1]))
    return frames


class G711Packetizer:
    """Turns A-law frames into RTP packets of one SSRC, in the raw or the PS form."""

    def __init__(
        self,
        ssrc: int,
        framing: G711Framing,
        payload_type: int,
        *,
        psm_every: int = PSM_EVERY,
        first_sequence: int = 0,
    ) -> None:
        if psm_every < 1:
            raise ValueError(f"psm_every: expected >= 1, got {psm_every}")
        self._framing = framing
        self._rtp = RtpPacketizer(ssrc, payload_type, first_sequence=first_sequence)
        self._muxer = PsMuxer(PsMuxerConfig(video=None, audio=StreamType.G711A))
        self._psm_every = psm_every
        self._frames = 0
        self._samples = 0

    @property
    def framing(self) -> G711Framing:
        return self._framing

    @property
    def samples(self) -> int:
        """Samples packetised so far (the next frame's 8 kHz timestamp)."""
        return self._samples

    def packetize(self, frame: bytes, *, talk_spurt: bool = False) -> list[bytes]:
        """One frame of A-law bytes → its RTP packets; `talk_spurt` marks the first frame
        after a silence (raw form). An empty frame yields nothing."""
        if not frame:
            return []
        samples = self._samples
        self._samples += len(frame)
        index = self._frames
        self._frames += 1
        if self._framing is G711Framing.PCMA:
            packets = self._rtp.packetize(frame, samples)
            if not talk_spurt:
                # The packetiser marks a frame's last packet; a raw G.711 frame is one
                # packet, whose marker means "start of a talk spurt" (RFC 3551 §4.1).
                packets = [_without_marker(packet) for packet in packets]
            return packets
        pts = samples * PS_CLOCK // SAMPLE_RATE
        packet = self._muxer.mux_audio(frame, pts, with_headers=index % self._psm_every == 0)
        return self._rtp.packetize(packet.data, pts)


def _without_marker(packet: bytes) -> bytes:
    return packet[:1] + bytes([packet[1] & 0x7F]) + packet[2:]
