"""PES packet headers of MPEG-2 program streams (ISO/IEC 13818-1 §2.4.3.6-§2.4.3.7, and the
MPEG-1 form of ISO/IEC 11172-1 §2.4.3): header size, payload length, PTS and DTS.

Owns reading one PES header at a position of the demuxer's buffer (gb28181.md §8.2 "PES
packet"), for `ps_demux.py`. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MPEG1_HEADER_MAX", "PesHeader", "decode_timestamp", "parse_pes_header"]

MPEG1_HEADER_MAX = 6 + 16 + 2 + 10  # prefix+length, stuffing, STD buffer, PTS+DTS


@dataclass(frozen=True, slots=True)
class PesHeader:
    """A parsed PES header."""

    size: int  # header bytes including the 6-byte prefix
    payload_length: int | None  # None: unbounded
    pts: int | None
    dts: int | None


def decode_timestamp(data: bytes, at: int) -> int:
    """33-bit PTS/DTS from its 5-byte form (ISO/IEC 13818-1 §2.4.3.7)."""
    return (
        ((data[at] >> 1) & 0x07) << 30
        | data[at + 1] << 22
        | (data[at + 2] >> 1) << 15
        | data[at + 3] << 7
        | data[at + 4] >> 1
    )


def parse_pes_header(data: bytes, pos: int, length: int) -> PesHeader | None:
    """MPEG-2 or MPEG-1 PES header at `pos`, or None when invalid or incomplete."""
    flags = data[pos + 6]
    if flags & 0xC0 == 0x80:
        header_length = data[pos + 8]
        size = 9 + header_length
        if length and length < size - 6:
            return None
        pts = dts = None
        pts_dts = data[pos + 7] >> 6
        if pts_dts >= 2 and header_length >= 5:
            pts = decode_timestamp(data, pos + 9)
            if pts_dts == 3 and header_length >= 10:
                dts = decode_timestamp(data, pos + 14)
        return PesHeader(size, length - size + 6 if length else None, pts, dts)
    return _parse_mpeg1_pes_header(data, pos, length)


def _parse_mpeg1_pes_header(data: bytes, pos: int, length: int) -> PesHeader | None:
    at = pos + 6
    limit = min(len(data), pos + 6 + length) if length else len(data)
    while at < limit and data[at] == 0xFF and at - pos < 6 + 16:
        at += 1
    if at < limit and data[at] >> 6 == 1:
        at += 2  # STD_buffer_scale and size
    if at >= limit:
        return None
    pts = dts = None
    kind = data[at] >> 4
    if kind == 2 and at + 5 <= limit:
        pts, at = decode_timestamp(data, at), at + 5
    elif kind == 3 and at + 10 <= limit:
        pts, dts, at = decode_timestamp(data, at), decode_timestamp(data, at + 5), at + 10
    elif data[at] == 0x0F:
        at += 1
    else:
        return None
    size = at - pos
    return PesHeader(size, length - size + 6 if length else None, pts, dts)
