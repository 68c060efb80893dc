"""Snapshots: one keyframe decoded and re-encoded as a JPEG (DESIGN.md "media": snapshot).

Owns turning an H.264/H.265 keyframe (Annex-B with its in-band parameter sets, as a stream's
GOP cache holds it) into a baseline JPEG no wider than `max_width` (aspect ratio kept, even
sizes), with PyAV's decoder, scaler and MJPEG encoder. Decoding is CPU work, so
`snapshot_jpeg` runs it in a worker thread (STYLE B7).
"""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import av

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import Codec, EsFrame

__all__ = ["DEFAULT_JPEG_QUALITY", "snapshot_jpeg"]

DEFAULT_JPEG_QUALITY = 5
"""MJPEG qscale (2 = best .. 31 = worst)."""

_ONE_TICK = Fraction(1, 25)
_DECODERS = {Codec.H264: "h264", Codec.H265: "hevc"}


async def snapshot_jpeg(
    frame: EsFrame, *, max_width: int, quality: int = DEFAULT_JPEG_QUALITY
) -> bytes:
    """A JPEG of `frame` (a keyframe), scaled down to at most `max_width` pixels wide.

    Raises `MediaError` when the frame is not an H.264/H.265 keyframe or does not decode.
    """
    if frame.codec not in _DECODERS or not frame.is_keyframe or frame.is_damaged:
        raise MediaError(f"a snapshot needs a whole H.264/H.265 keyframe, got {frame.codec}")
    if max_width < 16 or not 2 <= quality <= 31:
        raise ValueError("max_width must be >= 16 and quality 2..31")
    return await asyncio.to_thread(_encode_jpeg, frame, max_width, quality)


def _encode_jpeg(frame: EsFrame, max_width: int, quality: int) -> bytes:
    picture = _decode_keyframe(frame)
    width = min(picture.width, max_width) & ~1
    height = max(2, round(picture.height * width / picture.width) & ~1)
    scaled = picture.reformat(width=width, height=height, format="yuvj420p")
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = picture.time_base or _ONE_TICK
    encoder.options = {"qmin": str(quality), "qmax": str(quality)}
    scaled.pts = 0
    packets = [*encoder.encode(scaled), *encoder.encode(None)]
    if not packets:
        raise MediaError("the JPEG encoder gave no picture")
    return b"".join(bytes(packet) for packet in packets)


def _decode_keyframe(frame: EsFrame) -> Any:
    decoder: Any = av.CodecContext.create(_DECODERS[frame.codec], "r")
    try:
        pictures = [*decoder.decode(av.Packet(frame.data)), *decoder.decode(None)]
    except av.error.FFmpegError as error:
        raise MediaError(f"keyframe does not decode: {error}") from error
    if not pictures:
        raise MediaError("keyframe gave no picture")
    return pictures[0]
