"""Test material for the media ingest tests: PyAV-encoded access units and PS byte builders.

Two independent sources of PS: FFmpeg's own MPEG-PS muxers (`mpeg` writes MPEG-1 packs,
`vob` MPEG-2 packs; both split frames across 2 KiB packs and put several frames in one PES),
and `build_gb_packet`, a literal transcription of gb28181.md §8.2 (one PS packet per frame,
system header + PSM on key frames). Encodes are cached so the session pays for them once.
"""

from __future__ import annotations

import functools
import io
import random
from fractions import Fraction

import av
import pytest

WIDTH, HEIGHT, FRAME_COUNT, GOP = 160, 120, 30, 10

VIDEO_ID, AUDIO_ID = 0xE0, 0xC0


def _picture(index: int) -> av.VideoFrame:
    rnd = random.Random(index // 3)
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    noise = rnd.randbytes(WIDTH * HEIGHT // 4)
    luma = bytes((x * 3 + index * 7) & 0xFF for x in range(WIDTH)) * (HEIGHT // 2) + noise * 2
    frame.planes[0].update(luma)
    frame.planes[1].update(bytes([128 + index]) * (WIDTH * HEIGHT // 4))
    frame.planes[2].update(bytes([100]) * (WIDTH * HEIGHT // 4))
    frame.pts = index
    return frame


def _require(encoder: str) -> None:
    if encoder not in av.codecs_available:
        pytest.fail(f"the PyAV build lacks {encoder}; the H.265 tests need it (no silent skip)")


def _options(encoder: str, bframes: int) -> dict[str, str]:
    if encoder == "libx265":
        params = f"keyint={GOP}:min-keyint={GOP}:bframes={bframes}:repeat-headers=1:log-level=none"
        return {"x265-params": params}
    return {"x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0:bframes={bframes}"}


@functools.cache
def encoded_access_units(encoder: str) -> tuple[bytes, ...]:
    """FRAME_COUNT Annex-B access units in decode order, no B-frames, key frame every GOP."""
    _require(encoder)
    context = av.CodecContext.create(encoder, "w")
    context.width, context.height, context.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    context.time_base = Fraction(1, 25)
    context.framerate = 25
    context.options = _options(encoder, 0)
    units = [bytes(p) for i in range(FRAME_COUNT) for p in context.encode(_picture(i))]
    units += [bytes(p) for p in context.encode(None)]
    assert len(units) == FRAME_COUNT
    return tuple(units)


@functools.cache
def ffmpeg_program_stream(container: str, encoder: str) -> bytes:
    """PS written by FFmpeg's `mpeg` (MPEG-1 packs) or `vob` (MPEG-2) muxer, with B-frames."""
    _require(encoder)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(encoder, rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = _options(encoder, 2)
        for index in range(FRAME_COUNT):
            for packet in stream.encode(_picture(index)):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def decode(codec_name: str, units: list[bytes]) -> list[av.VideoFrame]:
    """Decode access units one packet each with FFmpeg; returns every picture."""
    context = av.CodecContext.create(codec_name, "r")
    pictures = [picture for unit in units for picture in context.decode(av.Packet(unit))]
    return pictures + list(context.decode(None))


# --- GB/T 28181 §8.2 PS builder ------------------------------------------------------------


def encode_timestamp(prefix: int, value: int) -> bytes:
    return bytes(
        [
            prefix << 4 | ((value >> 30) & 0x07) << 1 | 1,
            (value >> 22) & 0xFF,
            ((value >> 15) & 0x7F) << 1 | 1,
            (value >> 7) & 0xFF,
            (value & 0x7F) << 1 | 1,
        ]
    )


def pack_header(scr: int, *, mux_rate: int = 6106, stuffing: int = 0) -> bytes:
    fields = [
        0x44 | ((scr >> 30) & 0x07) << 3 | ((scr >> 28) & 0x03),
        (scr >> 20) & 0xFF,
        ((scr >> 15) & 0x1F) << 3 | 0x04 | ((scr >> 13) & 0x03),
        (scr >> 5) & 0xFF,
        (scr & 0x1F) << 3 | 0x04,
        0x01,
    ]
    rate = (mux_rate << 2 | 0x03).to_bytes(3, "big")
    return (
        b"\x00\x00\x01\xba" + bytes(fields) + rate + bytes([0xF8 | stuffing]) + b"\xff" * stuffing
    )


SYSTEM_HEADER = bytes.fromhex("000001BB000C80CCF504E17FE0E190C0C020")


def crc32_mpeg2(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1 ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def program_stream_map(
    entries: list[tuple[int, int, bytes]], *, es_map_length: int | None = None
) -> bytes:
    """PSM with (stream_type, stream_id, es_info) entries; `es_map_length` may lie."""
    es_map = b"".join(bytes([t, i]) + len(info).to_bytes(2, "big") + info for t, i, info in entries)
    declared = len(es_map) if es_map_length is None else es_map_length
    body = b"\xe0\xff\x00\x00" + declared.to_bytes(2, "big") + es_map
    head = b"\x00\x00\x01\xbc" + (len(body) + 4).to_bytes(2, "big")
    return head + body + crc32_mpeg2(head + body).to_bytes(4, "big")


def pes(
    stream_id: int,
    payload: bytes,
    pts: int | None = None,
    dts: int | None = None,
    *,
    length: int | None = None,
) -> bytes:
    """MPEG-2 PES; `length` overrides PES_packet_length (0 = unbounded)."""
    if pts is None:
        optional, flags = b"", 0x00
    elif dts is None:
        optional, flags = encode_timestamp(2, pts), 0x80
    else:
        optional, flags = encode_timestamp(3, pts) + encode_timestamp(1, dts), 0xC0
    header = bytes([0x80, flags, len(optional)]) + optional
    declared = len(header) + len(payload) if length is None else length
    return b"\x00\x00\x01" + bytes([stream_id]) + declared.to_bytes(2, "big") + header + payload


def build_gb_packet(
    unit: bytes,
    pts: int,
    *,
    keyframe: bool,
    stream_type: int | None = 0x1B,
    pes_size: int = 65000,
    repeat_pts: bool = False,
) -> bytes:
    """One PS packet for one access unit, as gb28181.md §8.2 lays it out."""
    parts = [pack_header(pts)]
    if keyframe and stream_type is not None:
        parts += [SYSTEM_HEADER, program_stream_map([(stream_type, VIDEO_ID, b"")])]
    for offset in range(0, len(unit), pes_size):
        first = offset == 0 or repeat_pts
        parts.append(pes(VIDEO_ID, unit[offset : offset + pes_size], pts if first else None))
    return b"".join(parts)


STREAM_TYPES = {"libx264": 0x1B, "libx265": 0x24}


def gb_stream(encoder: str, *, stream_type: int | None = -1, pes_size: int = 65000) -> bytes:
    """The encoded access units as a GB-style PS stream, 25 fps PTS from 90000."""
    units = encoded_access_units(encoder)
    stream_type = STREAM_TYPES[encoder] if stream_type == -1 else stream_type
    return b"".join(
        build_gb_packet(
            u, 90000 + 3600 * i, keyframe=i % GOP == 0, stream_type=stream_type, pes_size=pes_size
        )
        for i, u in enumerate(units)
    )
