"""PS muxer: the gb28181.md §8.2 worked bytes, and FFmpeg's PS demuxer as independent reader."""

from __future__ import annotations

import io
import random
from fractions import Fraction

import av
import pytest

from farmwatch.media.ps_mux import (
    PS_TIMESTAMP_MODULUS,
    PsMuxer,
    PsMuxerConfig,
    StreamType,
    crc32_mpeg2,
)

WIDTH, HEIGHT, FRAMES = 160, 96, 20


def _encode(
    codec: str, pictures: list[bytes], width: int, height: int, options: dict[str, str]
) -> list[tuple[bool, bytes]]:
    context = av.CodecContext.create(codec, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, 25)
    context.options = options
    units: list[tuple[bool, bytes]] = []
    for index, luma in enumerate([*pictures, None]):
        frame = None
        if luma is not None:
            frame = av.VideoFrame(width, height, "yuv420p")
            frame.planes[0].update(luma)
            frame.planes[1].update(b"\x80" * (width * height // 4))
            frame.planes[2].update(b"\x80" * (width * height // 4))
            frame.pts = index
        units += [(bool(p.is_keyframe), bytes(p)) for p in context.encode(frame)]
    return units


@pytest.fixture(scope="module")
def h264_units() -> list[tuple[bool, bytes]]:
    pictures = [
        bytes((x + 4 * index) % 220 + 16 for x in range(WIDTH)) * HEIGHT for index in range(FRAMES)
    ]
    options = {"tune": "zerolatency", "x264-params": "keyint=10:bframes=0:annexb=1"}
    return _encode("libx264", pictures, WIDTH, HEIGHT, options)


def _decode_ps(data: bytes) -> tuple[list[str], list[av.VideoFrame]]:
    container = av.open(io.BytesIO(data), format="mpeg", mode="r")
    codecs = [stream.codec_context.name for stream in container.streams]
    pictures: list[av.VideoFrame] = []
    for packet in container.demux(video=0):
        pictures += [frame for frame in packet.decode() if isinstance(frame, av.VideoFrame)]
    container.close()
    return codecs, pictures


def _decode_timestamp(field: bytes) -> int:
    """The decode formula given in gb28181.md §8.2 (written independently of the muxer)."""
    b0, b1, b2, b3, b4 = field
    return ((b0 >> 1) & 7) << 30 | b1 << 22 | (b2 >> 1) << 15 | b3 << 7 | b4 >> 1


def test_key_frame_reproduces_the_worked_bytes_of_section_8_2() -> None:
    muxer = PsMuxer(PsMuxerConfig(video=StreamType.H264, audio=StreamType.G711A))
    packet = muxer.mux_video(b"\x00" * 1000, 90000, is_keyframe=True).data
    assert packet[:14] == bytes.fromhex("000001BA 440016FC8401 005F6BF8")
    assert packet[14:32] == bytes.fromhex("000001BB 000C 80CCF5 04 E1 7F E0E190 C0C020")
    assert packet[32:56] == bytes.fromhex("000001BC 0012 E0FF 0000 0008 1BE00000 90C00000 FEDFB1D7")
    assert packet[56:70] == bytes.fromhex("000001E0 03F0 80 80 05 210005BF21")
    assert packet[70:] == b"\x00" * 1000


def test_psm_crc_is_crc32_mpeg2() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # the catalogue check value
    muxer = PsMuxer(PsMuxerConfig(video=StreamType.H265, audio=StreamType.G711U))
    packet = muxer.mux_video(b"\x01", 0, is_keyframe=True).data
    psm_start = packet.index(b"\x00\x00\x01\xbc")
    psm = packet[psm_start : psm_start + 6 + int.from_bytes(packet[psm_start + 4 : psm_start + 6])]
    assert psm[12:20] == bytes([0x24, 0xE0, 0, 0, 0x91, 0xC0, 0, 0])
    assert crc32_mpeg2(psm) == 0  # running over data + CRC gives 0


def test_non_key_frame_has_no_system_header_nor_psm() -> None:
    packet = PsMuxer().mux_video(b"\x02" * 10, 3600, is_keyframe=False).data
    assert packet[14:18] == b"\x00\x00\x01\xe0"
    assert b"\x00\x00\x01\xbb" not in packet
    assert b"\x00\x00\x01\xbc" not in packet


def test_dts_is_written_only_when_it_differs_from_pts() -> None:
    packet = PsMuxer().mux_video(b"\x03" * 10, 7200, 3600, is_keyframe=False).data
    pes = packet[14:]
    assert pes[6:9] == bytes([0x80, 0xC0, 10])
    assert pes[9] >> 4 == 0b0011 and pes[14] >> 4 == 0b0001
    assert _decode_timestamp(pes[9:14]) == 7200
    assert _decode_timestamp(pes[14:19]) == 3600
    assert pes[19:] == b"\x03" * 10


def test_ffmpeg_demuxes_and_decodes_every_frame(h264_units: list[tuple[bool, bytes]]) -> None:
    muxer = PsMuxer()
    stream = b"".join(
        muxer.mux_video(data, 90000 + 3600 * index, is_keyframe=key).data
        for index, (key, data) in enumerate(h264_units)
    )
    codecs, pictures = _decode_ps(stream)
    assert codecs == ["h264"]
    assert len(pictures) == FRAMES
    assert {(p.width, p.height) for p in pictures} == {(WIDTH, HEIGHT)}
    assert [p.pts for p in pictures] == [90000 + 3600 * index for index in range(FRAMES)]


def test_ffmpeg_finds_g711_audio_in_its_own_packets(h264_units: list[tuple[bool, bytes]]) -> None:
    muxer = PsMuxer(PsMuxerConfig(audio=StreamType.G711A))
    parts = []
    for index, (key, data) in enumerate(h264_units):
        parts.append(muxer.mux_video(data, 3600 * index, is_keyframe=key).data)
        parts.append(muxer.mux_audio(bytes([0xD5]) * 320, 3600 * index).data)
    container = av.open(io.BytesIO(b"".join(parts)), format="mpeg", mode="r")
    audio = [p for p in container.demux(audio=0) if p.size]
    assert container.streams.audio[0].codec_context.name == "pcm_alaw"
    assert [p.pts for p in audio] == [3600 * index for index in range(FRAMES)]
    assert {bytes(p) for p in audio} == {bytes([0xD5]) * 320}


def test_large_frame_is_split_into_pes_packets_and_survives_ffmpeg() -> None:
    width, height = 480, 320
    noise = random.Random(7).randbytes(width * height)
    options = {"x264-params": "qp=0:keyint=1:bframes=0:annexb=1"}  # lossless: bytes come back
    ((is_key, data),) = _encode("libx264", [noise], width, height, options)
    assert is_key and len(data) > 2 * 65535
    ps = PsMuxer().mux_video(data, 0, is_keyframe=True)
    pes_starts = [i for i in range(len(ps.data)) if ps.data.startswith(b"\x00\x00\x01\xe0", i)]
    lengths = [int.from_bytes(ps.data[i + 4 : i + 6]) for i in pes_starts[:3]]
    assert len(ps.pts_offsets) == 1 and max(lengths) == 65535
    _, pictures = _decode_ps(ps.data)
    (picture,) = pictures
    plane = picture.planes[0]
    luma = b"".join(
        bytes(plane)[row * plane.line_size : row * plane.line_size + width] for row in range(height)
    )
    assert luma == noise


@pytest.mark.parametrize("delta", [3600, 90000 * 3600, PS_TIMESTAMP_MODULUS - 100])
def test_shifted_equals_muxing_at_the_shifted_time(delta: int) -> None:
    muxer = PsMuxer(PsMuxerConfig(audio=StreamType.G711A))
    payload = bytes(range(256)) * 300
    for dts in (None, 1800):
        template = muxer.mux_video(payload, 3600, dts, is_keyframe=True)
        direct = muxer.mux_video(
            payload, 3600 + delta, None if dts is None else dts + delta, is_keyframe=True
        )
        assert template.shifted(delta) == direct.data
    audio = muxer.mux_audio(b"\xd5" * 160, 0)
    assert audio.shifted(delta) == muxer.mux_audio(b"\xd5" * 160, delta).data


def test_muxer_rejects_undeclared_streams_and_bad_configs() -> None:
    with pytest.raises(ValueError, match="no audio"):
        PsMuxer().mux_audio(b"\xd5", 0)
    with pytest.raises(ValueError, match="no video"):
        PsMuxer(PsMuxerConfig(video=None, audio=StreamType.G711A)).mux_video(
            b"", 0, is_keyframe=True
        )
    with pytest.raises(ValueError, match="not a video"):
        PsMuxerConfig(video=StreamType.G711A)
    with pytest.raises(ValueError, match="at least one"):
        PsMuxerConfig(video=None)
