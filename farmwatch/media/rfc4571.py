"""TCP media framing (RFC 4571 §2, gb28181.md §6.5, §10 item 5): RTP packets out of a stream.

Owns the deframing of the TCP connection a GB/T 28181 device streams over: each RTP packet
is preceded by a 2-byte big-endian length (RFC 4571), or, as some devices and media servers
do, by the RTSP-interleaved header `$`, channel, 2-byte length (RFC 2326 §10.12). The variant
is detected from the first bytes of the connection. The buffer is bounded by
`max_frame_size`; a frame longer than that, or a broken framing, raises `FramingError`.
"""

from __future__ import annotations

import enum

from farmwatch.media.errors import FramingError

__all__ = ["Framing", "Rfc4571Deframer", "frame"]

_DOLLAR = 0x24
_MAX_LENGTH = 0xFFFF


class Framing(enum.Enum):
    """How RTP packets are delimited on the TCP connection."""

    RFC4571 = "rfc4571"
    INTERLEAVED = "interleaved"


def frame(packet: bytes) -> bytes:
    """Prefix one RTP/RTCP packet with its RFC 4571 length."""
    if len(packet) > _MAX_LENGTH:
        raise FramingError(f"packet of {len(packet)} bytes does not fit RFC 4571 framing")
    return len(packet).to_bytes(2, "big") + packet


def _is_rtp_start(byte: int) -> bool:
    return byte >> 6 == 2


class Rfc4571Deframer:
    """Incremental deframer: `feed(data) -> list[bytes]` of whole RTP/RTCP packets.

    With `framing=None` the variant is detected from the first bytes: `$` followed, after
    the 4-byte header, by an RTP version-2 byte means interleaved (unless the bytes also read
    as an RFC 4571 length followed by RTP, and the interleaved reading does not). Interleaved
    packets of every channel are returned (RTP and RTCP alike; tell them apart by
    `rtp.is_rtcp`). Empty frames are skipped.
    """

    def __init__(self, *, max_frame_size: int = _MAX_LENGTH, framing: Framing | None = None):
        self._max = max_frame_size
        self._framing = framing
        self._buf = bytearray()

    @property
    def framing(self) -> Framing | None:
        """The detected (or given) framing; None until enough bytes arrived."""
        return self._framing

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Append received bytes; return the packets they complete."""
        buf = self._buf
        buf += data
        if self._framing is None and not self._detect():
            return []
        header = 4 if self._framing is Framing.INTERLEAVED else 2
        packets: list[bytes] = []
        at = 0
        while len(buf) - at >= header:
            if header == 4 and buf[at] != _DOLLAR:
                raise FramingError(f"interleaved frame starts with {buf[at]:#04x}, not '$'")
            length = buf[at + header - 2] << 8 | buf[at + header - 1]
            if length > self._max:
                raise FramingError(f"frame of {length} bytes exceeds {self._max}")
            if len(buf) - at < header + length:
                break
            if length:
                packets.append(bytes(buf[at + header : at + header + length]))
            at += header + length
        del buf[:at]
        return packets

    def _detect(self) -> bool:
        buf = self._buf
        if not buf:
            return False
        if buf[0] != _DOLLAR:
            self._framing = Framing.RFC4571
            return True
        if len(buf) < 5:
            return False
        as_rfc4571 = _is_rtp_start(buf[2])
        as_interleaved = _is_rtp_start(buf[4])
        rfc4571_only = as_rfc4571 and not as_interleaved
        self._framing = Framing.RFC4571 if rfc4571_only else Framing.INTERLEAVED
        return True
