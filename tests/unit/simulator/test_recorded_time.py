"""The recorded-time SEI: written before the first slice, read back from Annex-B and MP4 framing."""

from __future__ import annotations

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.media.nal import split_nal_units
from farmwatch.simulator import (
    RECORDED_TIME_UUID,
    MediaCache,
    TestPatternSpec,
    VideoCodec,
    insert_recorded_time,
    read_recorded_time,
)
from farmwatch.simulator.recorded_time import build_recorded_time_sei, slice_start

CHANNEL = "34020000001310000001"
MOMENT_MS = 1_704_067_200_123  # 2024-01-01T08:00:00.123 Beijing
# Annex-B access units as encoders write them: parameter sets, then the first slice.
H264_IDR = (
    b"\x00\x00\x00\x01\x67\x42\xc0\x1e\xda\x02\x80\xbf\xe5\x84"  # SPS
    b"\x00\x00\x00\x01\x68\xce\x3c\x80"  # PPS
    b"\x00\x00\x01\x65\x88\x84\x00\x33\xff"  # IDR slice (3-byte start code)
)
H264_P = b"\x00\x00\x00\x01\x41\x9a\x02\x04\x00"
H265_IDR = (
    b"\x00\x00\x00\x01\x40\x01\x0c\x01\xff\xff"  # VPS
    b"\x00\x00\x00\x01\x42\x01\x01\x01\x60\x00"  # SPS
    b"\x00\x00\x00\x01\x44\x01\xc1\x72\xb4"  # PPS
    b"\x00\x00\x00\x01\x26\x01\xaf\x06\xb8"  # IDR_W_RADL slice
)
H265_TRAIL = b"\x00\x00\x00\x01\x02\x01\xd0\x09\x7e"
CASES = [
    (VideoCodec.H264, H264_IDR),
    (VideoCodec.H264, H264_P),
    (VideoCodec.H265, H265_IDR),
    (VideoCodec.H265, H265_TRAIL),
]


def _length_prefixed(annex_b: bytes) -> bytes:
    return b"".join(len(unit).to_bytes(4, "big") + unit for unit in split_nal_units(annex_b))


def _nal_types(annex_b: bytes, codec: VideoCodec) -> list[int]:
    units = split_nal_units(annex_b)
    if codec is VideoCodec.H264:
        return [unit[0] & 0x1F for unit in units]
    return [(unit[0] >> 1) & 0x3F for unit in units]


@pytest.mark.parametrize(("codec", "unit"), CASES)
def test_the_sei_goes_right_before_the_first_slice(codec: VideoCodec, unit: bytes) -> None:
    marked = insert_recorded_time(unit, MOMENT_MS, codec)
    types, original = _nal_types(marked, codec), _nal_types(unit, codec)
    sei = 6 if codec is VideoCodec.H264 else 39
    assert types == [*original[:-1], sei, original[-1]]
    assert marked.startswith(unit[: slice_start(unit, codec)])
    assert marked.endswith(unit[slice_start(unit, codec) :])


@pytest.mark.parametrize(("codec", "unit"), CASES)
def test_round_trip_in_annex_b_and_length_prefixed_framing(codec: VideoCodec, unit: bytes) -> None:
    marked = insert_recorded_time(unit, MOMENT_MS, codec)
    assert read_recorded_time(marked, length_prefixed=False) == MOMENT_MS
    assert read_recorded_time(_length_prefixed(marked), length_prefixed=True) == MOMENT_MS


@given(
    millis=st.integers(min_value=0, max_value=(1 << 63) - 1),
    codec=st.sampled_from(VideoCodec),
)
def test_any_time_survives_emulation_prevention(millis: int, codec: VideoCodec) -> None:
    sei = build_recorded_time_sei(millis, codec)
    body = sei[1:] if codec is VideoCodec.H264 else sei[2:]
    for zero_run in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert zero_run not in body  # no start code can appear inside the SEI
    unit = H264_P if codec is VideoCodec.H264 else H265_TRAIL
    marked = insert_recorded_time(unit, millis, codec)
    assert read_recorded_time(marked, length_prefixed=False) == millis
    assert read_recorded_time(_length_prefixed(marked), length_prefixed=True) == millis


def test_a_time_with_zero_bytes_gets_emulation_prevention_bytes() -> None:
    sei = build_recorded_time_sei(MOMENT_MS, VideoCodec.H264)
    # 8-byte big-endian 1 704 067 200 123 starts 00 00 01: written 00 00 03 01.
    assert sei[1:3] == bytes([5, 24])
    assert RECORDED_TIME_UUID in sei
    assert sei[3 + 16 :] == b"\x00\x00\x03\x01" + MOMENT_MS.to_bytes(8, "big")[3:] + b"\x80"
    assert b"\x00" not in RECORDED_TIME_UUID and len(RECORDED_TIME_UUID) == 16


def test_no_time_without_our_sei() -> None:
    assert read_recorded_time(H264_IDR, length_prefixed=False) is None
    assert read_recorded_time(_length_prefixed(H265_IDR), length_prefixed=True) is None
    assert read_recorded_time(b"", length_prefixed=True) is None
    assert read_recorded_time(b"\x00\x00\x00\x09\x06\x05", length_prefixed=True) is None
    other_uuid = insert_recorded_time(H264_P, MOMENT_MS, VideoCodec.H264).replace(
        RECORDED_TIME_UUID, bytes(range(1, 17))
    )
    assert read_recorded_time(other_uuid, length_prefixed=False) is None


def test_negative_times_are_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        build_recorded_time_sei(-1, VideoCodec.H264)


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_encoder_output_stays_decodable_and_its_own_sei_is_skipped(codec: VideoCodec) -> None:
    """x264/x265 put their own user_data_unregistered SEI in the first access unit."""
    if codec is VideoCodec.H265 and "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265")
    spec = TestPatternSpec(CHANNEL, codec=codec, width=64, height=64, fps=10, loop_seconds=1,
                           gop=10, bitrate=50_000)  # fmt: skip
    loop = MediaCache().get(spec)
    assert f"x26{4 if codec is VideoCodec.H264 else 5}".encode() in loop.frames[0].data
    assert read_recorded_time(loop.frames[0].data, length_prefixed=False) is None
    decoder = av.CodecContext.create(codec.value if codec is VideoCodec.H264 else "hevc", "r")
    assert isinstance(decoder, av.VideoCodecContext)
    pictures = 0
    for number, frame in enumerate(loop.frames):
        marked = insert_recorded_time(frame.data, MOMENT_MS + 100 * number, codec)
        assert read_recorded_time(marked, length_prefixed=False) == MOMENT_MS + 100 * number
        pictures += len(decoder.decode(av.Packet(marked)))
    pictures += len(decoder.decode(None))
    assert pictures == len(loop.frames)
