"""NAL units: types, key frames, parameter sets, codec sniffing, SPS size (H.264, H.265)."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from farmwatch.media import (
    MAX_PARAMETER_SET_SIZE,
    Codec,
    MediaError,
    NalClass,
    ParameterSets,
    VideoSize,
    classify_nal_header,
    extract_parameter_sets,
    is_keyframe,
    nal_unit_type,
    parse_sps_size,
    sniff_video_codec,
    split_nal_units,
)
from tests.unit.media.ps_samples import encoded_access_units
from tests.unit.media.sps_samples import h264_sps, sps_bomb

CODECS = {"libx264": Codec.H264, "libx265": Codec.H265}


def encode_one(encoder: str, width: int, height: int) -> bytes:
    context = av.CodecContext.create(encoder, "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, 25)
    if encoder == "libx265":
        context.options = {"x265-params": "log-level=none"}
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    return b"".join(bytes(p) for p in [*context.encode(frame), *context.encode(None)])


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
@pytest.mark.parametrize(("width", "height"), [(160, 120), (176, 100), (1920, 1080)])
def test_sps_size_matches_the_encoder(encoder: str, width: int, height: int) -> None:
    codec = CODECS[encoder]
    sets = extract_parameter_sets(codec, encode_one(encoder, width, height))
    assert sets.is_complete(codec) and sets.sps is not None
    assert parse_sps_size(codec, sets.sps) == VideoSize(width, height)


def test_truncated_sps_raises() -> None:
    with pytest.raises(MediaError):
        parse_sps_size(Codec.H264, b"\x67\x64\x00")


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_key_frames_and_parameter_sets(encoder: str) -> None:
    codec = CODECS[encoder]
    units = encoded_access_units(encoder)
    assert [is_keyframe(codec, u) for u in units] == [i % 10 == 0 for i in range(30)]
    assert extract_parameter_sets(codec, units[0]).is_complete(codec)
    assert extract_parameter_sets(codec, units[1]).sps is None


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_sniffing_finds_the_codec_only_from_parameter_sets(encoder: str) -> None:
    verdicts = {
        sniff_video_codec(nal[0], nal[1])
        for unit in encoded_access_units(encoder)
        for nal in split_nal_units(unit)
    }
    assert verdicts == {CODECS[encoder], None}


def test_nal_types_and_classes() -> None:
    assert nal_unit_type(Codec.H264, 0x65) == 5
    assert nal_unit_type(Codec.H265, 0x26) == 19
    assert classify_nal_header(Codec.H264, 0x65) == NalClass.VCL | NalClass.KEY
    assert classify_nal_header(Codec.H265, 0x2A) == NalClass.VCL | NalClass.KEY  # CRA
    assert classify_nal_header(Codec.H265, 0x40) == NalClass.AU_START | NalClass.VPS
    assert classify_nal_header(Codec.H264, 0x0C) == NalClass.NONE  # filler
    assert classify_nal_header(Codec.H264, 0xE5) == NalClass.NONE  # forbidden bit


def test_split_keeps_emulation_prevention_and_strips_trailing_zeros() -> None:
    stream = b"\x00\x00\x00\x01\x67\x00\x00\x03\x01\x00\x00\x01\x68\xce\x00\x00"
    assert split_nal_units(stream) == [b"\x67\x00\x00\x03\x01", b"\x68\xce"]


def test_an_sps_over_the_size_limit_is_refused_unread() -> None:
    bomb = sps_bomb()  # 64 KiB: the quadratic reader took seconds over it
    assert len(bomb) > MAX_PARAMETER_SET_SIZE
    with pytest.raises(MediaError, match="exceeds"):
        parse_sps_size(Codec.H264, bomb)


def test_a_pic_order_count_cycle_over_255_is_refused() -> None:
    assert parse_sps_size(Codec.H264, h264_sps(255)) == VideoSize(320, 192)
    small_bomb = sps_bomb(2000)
    assert len(small_bomb) <= MAX_PARAMETER_SET_SIZE
    with pytest.raises(MediaError, match="cycle"):
        parse_sps_size(Codec.H264, small_bomb)


def test_oversized_parameter_sets_are_left_out_and_the_search_stops_at_the_slice() -> None:
    key = encoded_access_units("libx264")[0]
    sps, pps, slice_at = (key.find(b"\x00\x00\x01" + bytes([h])) for h in (0x67, 0x68, 0x65))
    bombed = b"\x00\x00\x00\x01" + sps_bomb() + key[pps:]
    found = extract_parameter_sets(Codec.H264, bombed)
    assert found.sps is None and found.pps is not None
    # Parameter sets after the first slice belong to the next access unit, not this one.
    late = key[slice_at:] + key[sps:slice_at]
    assert extract_parameter_sets(Codec.H264, late) == ParameterSets()
