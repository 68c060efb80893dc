"""TCP media framing (RFC 4571 §2, gb28181.md §6.5, §10 item 5): RTP packets out of a stream.

Owns the deframing of the TCP connection a GB/T 28181 device streams over: each RTP packet
is preceded by a 2-byte big-endian length (RFC 4571), or, as some devices and media servers
do, by the RTSP-interleaved header `$`, channel, 2-byte length (RFC 2326 §10.12). The variant
is detected from the first bytes of the connection. The buffer is bounded by
`max_frame_size`; a frame longer than that, or a broken framing, raises `FramingError`.
`feed` can hand out a bounded number of packets per call (`max_packets`, `max_bytes`) so a
large read is worked off over several turns of the event loop (issue 13 item 6).
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
        self._at = 0  # _buf[:_at] was handed out already (dropped at the next append)

    @property
    def framing(self) -> Framing | None:
        """The detected (or given) framing; None until enough bytes arrived."""
        return self._framing

    @property
    def buffered(self) -> int:
        """Bytes held: packets not handed out yet and the start of the next one."""
        return len(self._buf) - self._at

    @property
    def has_packet(self) -> bool:
        """A whole packet is buffered (`feed(b"")` returns it)."""
        buf, at = self._buf, self._at
        header = 4 if self._framing is Framing.INTERLEAVED else 2
        if self._framing is None or len(buf) - at < header:
            return False
        return len(buf) - at >= header + (buf[at + header - 2] << 8 | buf[at + header - 1])

    def feed(
        self, data: bytes, *, max_packets: int | None = None, max_bytes: int | None = None
    ) -> list[bytes]:
        """Append received bytes; return the packets they complete — at most `max_packets`
        of them, and no more once `max_bytes` are handed out (one packet at least): the
        rest stays buffered for the next call (`has_packet`)."""
        buf = self._buf
        if data:
            if self._at:
                del buf[: self._at]
                self._at = 0
            buf += data
        if self._framing is None and not self._detect():
            return []
        header = 4 if self._framing is Framing.INTERLEAVED else 2
        packets: list[bytes] = []
        count_left = max_packets if max_packets is not None else len(buf)
        bytes_left = max_bytes if max_bytes is not None else len(buf)
        at = self._at
        while len(buf) - at >= header and count_left > 0 and bytes_left > 0:
            if header == 4 and buf[at] != _DOLLAR:
                raise FramingError(f"interleaved frame starts with {buf[at]:#04x}, not '$'")
            length = buf[at + header - 2] << 8 | buf[at + header - 1]
            if length > self._max:
                raise FramingError(f"frame of {length} bytes exceeds {self._max}")
            if len(buf) - at < header + length:
                break
            if length:
                packets.append(bytes(buf[at + header : at + header + length]))
                count_left -= 1
                bytes_left -= length
            at += header + length
        if at == len(buf):
            buf.clear()
            at = 0
        self._at = at
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
