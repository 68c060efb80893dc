"""Snapshots: the JPEG decodes back (PyAV's MJPEG decoder) at the expected size."""

from __future__ import annotations

import dataclasses
import io

import av
import pytest

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks import snapshot_jpeg
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames


def rgb_of(picture: av.VideoFrame, width: int, height: int) -> bytes:
    """Tightly packed RGB24 of `picture` scaled to width x height."""
    plane = picture.reformat(width=width, height=height, format="rgb24").planes[0]
    data = bytes(plane)
    return b"".join(
        data[y * plane.line_size : y * plane.line_size + width * 3] for y in range(height)
    )


def decode_jpeg(data: bytes) -> av.VideoFrame:
    with av.open(io.BytesIO(data), "r", format="image2pipe") as container:
        assert container.streams.video[0].codec_context.name == "mjpeg"
        return next(iter(container.decode(video=0)))


def decode_h26x(frame: EsFrame) -> av.VideoFrame:
    decoder = av.CodecContext.create("h264" if frame.codec is Codec.H264 else "hevc", "r")
    return [*decoder.decode(av.Packet(frame.data)), *decoder.decode(None)][0]


def mean_difference(first: bytes, second: bytes) -> float:
    return sum(abs(a - b) for a, b in zip(first, second, strict=True)) / len(first)


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
async def test_keyframe_becomes_a_jpeg_of_the_picture_size(codec: Codec) -> None:
    keyframe = pattern_frames(codec, 1)[0]
    data = await snapshot_jpeg(keyframe, max_width=1920)

    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    picture = decode_jpeg(data)
    assert (picture.width, picture.height) == (WIDTH, HEIGHT)
    original = rgb_of(decode_h26x(keyframe), WIDTH, HEIGHT)
    assert mean_difference(rgb_of(picture, WIDTH, HEIGHT), original) < 6
    assert mean_difference(bytes(len(original)), original) > 50  # the picture is not black


async def test_a_wide_picture_is_scaled_to_max_width_keeping_its_aspect() -> None:
    data = await snapshot_jpeg(pattern_frames(Codec.H264, 1)[0], max_width=160)
    picture = decode_jpeg(data)
    assert (picture.width, picture.height) == (160, 90)


async def test_non_keyframes_and_garbage_are_refused() -> None:
    with pytest.raises(MediaError):
        await snapshot_jpeg(pattern_frames(Codec.H264, 2)[1], max_width=320)
    garbage = EsFrame(Codec.H264, b"\x00\x00\x01\x65" + bytes(64), 0, 0, True, 0xE0)
    with pytest.raises(MediaError):
        await snapshot_jpeg(garbage, max_width=320)
    damaged = dataclasses.replace(pattern_frames(Codec.H264, 1)[0], is_damaged=True)
    with pytest.raises(MediaError):  # half a picture and the decoder's guess: no snapshot
        await snapshot_jpeg(damaged, max_width=320)
