"""Elementary-stream frames: what the PS demuxer hands to streams and sinks.

Owns `Codec` (the codecs a GB/T 28181 PS stream can carry, gb28181.md §8.2 stream_type table),
`MediaKind` and the `EsFrame` value: one video access unit as Annex-B bytes, or one audio PES
payload, with 90 kHz timestamps extended from 33 bits to a monotonic int (ISO/IEC 13818-1
§2.4.3.7 PTS/DTS).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Codec", "EsFrame", "MediaKind", "TIMESTAMP_CLOCK_RATE"]

TIMESTAMP_CLOCK_RATE = 90_000
"""PTS and DTS tick at 90 kHz (ISO/IEC 13818-1 §2.4.3.7, RTP clock of PT 96)."""


class MediaKind(enum.StrEnum):
    """Whether a stream carries pictures or sound."""

    VIDEO = "video"
    AUDIO = "audio"


class Codec(enum.StrEnum):
    """Codecs of GB/T 28181 PS streams (PSM stream_type table, gb28181.md §8.2)."""

    H264 = "h264"
    H265 = "h265"
    MPEG4 = "mpeg4"
    SVAC = "svac"
    G711A = "g711a"
    G711U = "g711u"
    G722_1 = "g722.1"
    G723_1 = "g723.1"
    G729 = "g729"
    SVAC_AUDIO = "svac-audio"
    AAC = "aac"

    @property
    def kind(self) -> MediaKind:
        """`MediaKind.VIDEO` or `MediaKind.AUDIO`."""
        return MediaKind.VIDEO if self in _VIDEO_CODECS else MediaKind.AUDIO

    @property
    def is_annex_b(self) -> bool:
        """True for H.264 and H.265, whose frames are Annex-B NAL unit streams."""
        return self in (Codec.H264, Codec.H265)


_VIDEO_CODECS = frozenset({Codec.H264, Codec.H265, Codec.MPEG4, Codec.SVAC})


@dataclass(frozen=True, slots=True)
class EsFrame:
    """One elementary-stream frame taken out of the PS stream.

    `data` is one access unit in Annex-B form (start codes kept, parameter sets in-band on
    key frames as the device sent them) for H.264/H.265, the raw frame for other video
    codecs, and one PES payload for audio (ADTS frames for AAC, samples for G.711).
    `pts`/`dts` are 90 kHz ticks, unwrapped from 33 bits so they only grow (except for
    B-frame reordering of `pts`); when the PES carried none they are extrapolated from the
    previous frame of the stream. `is_damaged` frames lost bytes in transit (RTP loss): they
    are passed on because decoders conceal the gap (WebRTC, fMP4 players) — better than a
    freeze until the next key frame — but must not start a decoder (GOP cache, snapshots).
    """

    codec: Codec
    data: bytes
    pts: int
    dts: int
    is_keyframe: bool
    stream_id: int
    """PES stream_id (0xE0-0xEF video, 0xC0-0xDF audio)."""
    is_damaged: bool = False
    """Bytes of this frame were lost in transit (RTP packet loss)."""

    @property
    def kind(self) -> MediaKind:
        """Video or audio, from the codec."""
        return self.codec.kind
