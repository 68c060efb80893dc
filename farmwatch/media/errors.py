"""Errors of the media part (STYLE B8): `MediaError` and its subclasses.

Pure media cores raise these when the peer sends something they cannot accept within their
bounds (an RTP packet too short for its header, an RFC 4571 frame longer than `max_frame_size`).
The asyncio shells catch them at the isolation boundary of one datagram or one connection.
"""

from __future__ import annotations

__all__ = ["DemuxError", "FramingError", "InvalidOffer", "MediaError", "RtpParseError"]


class MediaError(Exception):
    """Base class of every error raised by farmwatch.media."""


class RtpParseError(MediaError):
    """An RTP or RTCP packet is malformed (RFC 3550 §5.1, §6.4)."""


class FramingError(MediaError):
    """A TCP media stream broke its framing (RFC 4571, `$`-interleave) or a bound."""


class DemuxError(MediaError):
    """An MPEG-PS stream cannot be demultiplexed (ISO/IEC 13818-1 §2.5)."""


class InvalidOffer(MediaError):
    """A viewer's WebRTC SDP offer is malformed or cannot be answered (RFC 8829 §5.8)."""
