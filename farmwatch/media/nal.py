"""H.264 / H.265 Annex-B NAL units: splitting, types, key frames, parameter sets, SPS size.

Owns what the media part needs to know about the video bitstream inside GB/T 28181 PS
(gb28181.md §8.2 "How a frame is spread over PES packets", §10 item 19): NAL unit types of
ITU-T H.264 §7.4.1 (Table 7-1) and H.265 §7.4.2 (Table 7-1), access-unit start rules (H.264
§7.4.1.2.3, H.265 §7.4.2.4.4), key-frame detection (IDR / IRAP), parameter-set extraction,
codec sniffing from parameter-set headers, and the picture size from an SPS (exp-Golomb over
the RBSP with emulation-prevention bytes removed). Pure functions over bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import Codec

__all__ = [
    "MAX_PARAMETER_SET_SIZE",
    "H264NalType",
    "H265NalType",
    "NalClass",
    "ParameterSets",
    "VideoSize",
    "classify_nal_header",
    "extract_parameter_sets",
    "is_keyframe",
    "nal_unit_type",
    "parse_sps_size",
    "sniff_video_codec",
    "split_nal_units",
    "video_size",
]

START_CODE = b"\x00\x00\x01"
MAX_PARAMETER_SET_SIZE = 4096
"""Largest VPS/SPS/PPS NAL unit accepted, in bytes: real ones are tens to a few hundred
bytes (an H.265 SPS with scaling lists and VUI stays under 2 KiB); larger ones are refused."""


class H264NalType(enum.IntEnum):
    """nal_unit_type values of H.264 Table 7-1 used here."""

    SLICE = 1
    SLICE_PARTITION_A = 2
    IDR = 5
    SEI = 6
    SPS = 7
    PPS = 8
    AUD = 9
    END_OF_SEQUENCE = 10
    END_OF_STREAM = 11
    FILLER = 12


class H265NalType(enum.IntEnum):
    """nal_unit_type values of H.265 Table 7-1 used here."""

    TRAIL_N = 0
    TRAIL_R = 1
    BLA_W_LP = 16
    IDR_W_RADL = 19
    IDR_N_LP = 20
    CRA = 21
    VPS = 32
    SPS = 33
    PPS = 34
    AUD = 35
    END_OF_SEQUENCE = 36
    END_OF_BITSTREAM = 37
    FILLER = 38
    PREFIX_SEI = 39
    SUFFIX_SEI = 40


class NalClass(enum.IntFlag):
    """What a NAL unit header says, as bits (looked up from one table per codec)."""

    NONE = 0
    VCL = 1
    """A coded slice: starts a new access unit when it is the first slice of a picture."""
    AU_START = 2
    """A non-VCL unit that may only precede the first slice of an access unit (AUD, SEI...)."""
    KEY = 4
    """IDR (H.264) or IRAP (H.265) slice."""
    VPS = 8
    SPS = 16
    PPS = 32


def nal_unit_type(codec: Codec, header: int) -> int:
    """The nal_unit_type from the first header byte (H.264 b&0x1F, H.265 (b>>1)&0x3F)."""
    return (header >> 1) & 0x3F if codec is Codec.H265 else header & 0x1F


def _h264_class(nal_type: int) -> NalClass:
    if nal_type == H264NalType.IDR:
        return NalClass.VCL | NalClass.KEY
    if nal_type in (H264NalType.SLICE, H264NalType.SLICE_PARTITION_A):
        return NalClass.VCL
    if nal_type == H264NalType.SPS:
        return NalClass.AU_START | NalClass.SPS
    if nal_type == H264NalType.PPS:
        return NalClass.AU_START | NalClass.PPS
    if nal_type in (6, 9) or 14 <= nal_type <= 18:
        return NalClass.AU_START
    return NalClass.NONE


def _h265_class(nal_type: int) -> NalClass:
    if 16 <= nal_type <= 23:
        return NalClass.VCL | NalClass.KEY
    if nal_type <= 9:
        return NalClass.VCL
    special = {32: NalClass.VPS, 33: NalClass.SPS, 34: NalClass.PPS}
    if nal_type in special:
        return NalClass.AU_START | special[nal_type]
    if nal_type in (35, 39) or 41 <= nal_type <= 44 or 48 <= nal_type <= 55:
        return NalClass.AU_START
    return NalClass.NONE


# Plain ints indexed by the first header byte: IntFlag arithmetic is too slow per NAL unit.
H264_NAL_CLASSES: tuple[int, ...] = tuple(
    int(_h264_class(b & 0x1F)) if b < 0x80 else 0 for b in range(256)
)
H265_NAL_CLASSES: tuple[int, ...] = tuple(
    int(_h265_class((b >> 1) & 0x3F)) if b < 0x80 else 0 for b in range(256)
)


_VCL_BIT = int(NalClass.VCL)
_VPS_BIT, _SPS_BIT, _PPS_BIT = int(NalClass.VPS), int(NalClass.SPS), int(NalClass.PPS)
_PARAMETER_SET_BITS = _VPS_BIT | _SPS_BIT | _PPS_BIT
_MAX_UNITS_BEFORE_SLICE = 64
"""AUD, SEI, VPS, SPS, PPS... precede the first slice; real access units have a handful."""


def classify_nal_header(codec: Codec, header: int) -> NalClass:
    """Classify a NAL unit by its first header byte (forbidden_zero_bit set → NONE)."""
    return NalClass((H265_NAL_CLASSES if codec is Codec.H265 else H264_NAL_CLASSES)[header])


def first_slice_offset(codec: Codec) -> int:
    """Offset from the NAL header of the byte whose top bit says "first slice of the picture".

    H.264: first_mb_in_slice is ue(v) and equals 0 iff its first bit is 1; H.265:
    first_slice_segment_in_pic_flag follows the 2-byte header.
    """
    return 2 if codec is Codec.H265 else 1


def split_nal_units(data: bytes) -> list[bytes]:
    """Split an Annex-B byte stream into NAL units (start codes and trailing zeros removed)."""
    units: list[bytes] = []
    start = data.find(START_CODE)
    while start >= 0:
        start += 3
        end = data.find(START_CODE, start)
        unit = data[start:] if end < 0 else data[start:end]
        unit = unit.rstrip(b"\x00")
        if unit:
            units.append(unit)
        start = end
    return units


def is_keyframe(codec: Codec, data: bytes) -> bool:
    """True when the Annex-B access unit holds an IDR (H.264) or IRAP (H.265) slice."""
    return any(classify_nal_header(codec, unit[0]) & NalClass.KEY for unit in split_nal_units(data))


@dataclass(frozen=True, slots=True)
class ParameterSets:
    """The parameter-set NAL units of an access unit (without start codes), if present."""

    sps: bytes | None = None
    pps: bytes | None = None
    vps: bytes | None = None

    def is_complete(self, codec: Codec) -> bool:
        """SPS and PPS are there, and the VPS too for H.265."""
        has_vps = self.vps is not None or codec is not Codec.H265
        return self.sps is not None and self.pps is not None and has_vps


def extract_parameter_sets(codec: Codec, data: bytes) -> ParameterSets:
    """The first VPS/SPS/PPS NAL units of an Annex-B access unit.

    Only the units before the first slice are looked at (parameter sets after it start the
    next access unit, H.264 §7.4.1.2.3, H.265 §7.4.2.4.4), at most `_MAX_UNITS_BEFORE_SLICE`
    of them, and a parameter set over `MAX_PARAMETER_SET_SIZE` bytes is left out: the work is
    bounded whatever the frame holds (a million tiny NAL units, a 64 KiB SPS).
    """
    found: dict[int, bytes] = {}
    classes = H265_NAL_CLASSES if codec is Codec.H265 else H264_NAL_CLASSES
    end = len(data)
    start = data.find(START_CODE)
    for _ in range(_MAX_UNITS_BEFORE_SLICE):
        if start < 0 or start + 3 >= end:
            break
        start += 3
        kind = classes[data[start]]
        if kind & _VCL_BIT:
            break
        following = data.find(START_CODE, start)
        kind &= _PARAMETER_SET_BITS
        if kind and kind not in found:
            # Without trailing_zero_8bits (and the leading zero of a 4-byte start code).
            unit = data[start : end if following < 0 else following].rstrip(b"\x00")
            if len(unit) <= MAX_PARAMETER_SET_SIZE:
                found[kind] = unit
        start = following
    return ParameterSets(sps=found.get(_SPS_BIT), pps=found.get(_PPS_BIT), vps=found.get(_VPS_BIT))


_H264_PROFILES = frozenset({66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134})


def sniff_video_codec(header: int, next_byte: int) -> Codec | None:
    """Tell H.264 from H.265 by a parameter-set NAL header, or None when it proves nothing.

    Only parameter sets decide, because their headers cannot be confused: an H.265 VPS/SPS/PPS
    header is `40|42|44 01` (layer 0, temporal id 0), which in H.264 would be a type 0 or a
    data-partition NAL followed by an implausible byte; an H.264 SPS (type 7) carries a known
    profile_idc in its next byte, and its header byte read as H.265 has the layer-id bit set.
    """
    if header in (0x40, 0x42, 0x44) and next_byte == 0x01:
        return Codec.H265
    if header & 0x9F == 0x07 and next_byte in _H264_PROFILES:
        return Codec.H264
    return None


@dataclass(frozen=True, slots=True)
class VideoSize:
    """Picture size in luma samples after the SPS cropping window."""

    width: int
    height: int


class _BitReader:
    """MSB-first bit reader with exp-Golomb codes (H.264 §9.1) over an RBSP.

    Each read costs O(bits read): only the bytes it spans are converted (a whole-RBSP
    integer shifted per read made parsing quadratic in the SPS size).
    """

    __slots__ = ("_data", "_bits", "_pos")

    def __init__(self, rbsp: bytes) -> None:
        self._data = rbsp
        self._bits = len(rbsp) * 8
        self._pos = 0

    def _peek(self, count: int) -> int:
        end = self._pos + count
        if end > self._bits:
            raise MediaError("SPS ended early")
        last = (end + 7) >> 3
        chunk = int.from_bytes(self._data[self._pos >> 3 : last], "big")
        return (chunk >> (last * 8 - end)) & ((1 << count) - 1)

    def read(self, count: int) -> int:
        if count == 0:
            return 0
        value = self._peek(count)
        self._pos += count
        return value

    def read_ue(self) -> int:
        window = min(32, self._bits - self._pos)
        prefix = self._peek(window) if window > 0 else 0
        if not prefix:
            raise MediaError("SPS exp-Golomb code too long" if window == 32 else "SPS ended early")
        zeros = window - prefix.bit_length()
        self._pos += zeros + 1
        return (1 << zeros) - 1 + self.read(zeros)

    def read_se(self) -> int:
        value = self.read_ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def _rbsp(nal: bytes, header_size: int) -> bytes:
    """Drop the NAL header and the emulation-prevention bytes (00 00 03 → 00 00)."""
    return nal[header_size:].replace(b"\x00\x00\x03", b"\x00\x00")


def parse_sps_size(codec: Codec, sps: bytes) -> VideoSize:
    """Width and height from an SPS NAL unit (header included, no start code).

    Raises `MediaError` when the SPS is truncated, not an SPS of `codec`, larger than
    `MAX_PARAMETER_SET_SIZE` or outside the standard's value ranges.
    """
    if len(sps) > MAX_PARAMETER_SET_SIZE:
        raise MediaError(f"SPS of {len(sps)} bytes exceeds {MAX_PARAMETER_SET_SIZE}: refused")
    if codec is Codec.H265:
        return _parse_h265_sps(_BitReader(_rbsp(sps, 2)))
    if codec is Codec.H264:
        return _parse_h264_sps(_BitReader(_rbsp(sps, 1)))
    raise MediaError(f"no SPS parser for {codec}")


def video_size(codec: Codec, data: bytes) -> VideoSize | None:
    """The picture size of an Annex-B key frame from its in-band SPS; None when it carries
    none, or one that does not parse."""
    if not codec.is_annex_b:
        return None
    sps = extract_parameter_sets(codec, data).sps
    if sps is None:
        return None
    try:
        return parse_sps_size(codec, sps)
    except MediaError:
        return None


_SUB_SAMPLING = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}
_MAX_POC_CYCLE = 255  # num_ref_frames_in_pic_order_cnt_cycle: 0..255 (H.264 §7.4.2.1.1)


def _skip_h264_scaling_lists(reader: _BitReader, count: int) -> None:
    for index in range(count):
        if not reader.read(1):
            continue
        last, following = 8, 8
        for _ in range(16 if index < 6 else 64):
            if following:
                following = (last + reader.read_se() + 256) % 256
            last = following or last


def _parse_h264_sps(reader: _BitReader) -> VideoSize:
    profile_idc = reader.read(8)
    reader.read(16)  # constraint flags, level_idc
    reader.read_ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma_format_idc = reader.read_ue()
        if chroma_format_idc == 3:
            reader.read(1)  # separate_colour_plane_flag
        reader.read_ue()  # bit_depth_luma_minus8
        reader.read_ue()  # bit_depth_chroma_minus8
        reader.read(1)  # qpprime_y_zero_transform_bypass_flag
        if reader.read(1):
            _skip_h264_scaling_lists(reader, 12 if chroma_format_idc == 3 else 8)
    reader.read_ue()  # log2_max_frame_num_minus4
    poc_type = reader.read_ue()
    if poc_type == 0:
        reader.read_ue()
    elif poc_type == 1:
        reader.read(1)
        reader.read_se()
        reader.read_se()
        cycle = reader.read_ue()
        if cycle > _MAX_POC_CYCLE:
            raise MediaError(f"SPS pic order count cycle of {cycle} frames (at most 255)")
        for _ in range(cycle):
            reader.read_se()
    reader.read_ue()  # max_num_ref_frames
    reader.read(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = reader.read_ue() + 1
    height_units = reader.read_ue() + 1
    frame_mbs_only = reader.read(1)
    if not frame_mbs_only:
        reader.read(1)  # mb_adaptive_frame_field_flag
    reader.read(1)  # direct_8x8_inference_flag
    crop = [reader.read_ue() for _ in range(4)] if reader.read(1) else [0, 0, 0, 0]
    sub_width, sub_height = _SUB_SAMPLING.get(chroma_format_idc, (1, 1))
    if chroma_format_idc == 0:
        sub_width, sub_height = 1, 1
    crop_x, crop_y = sub_width, sub_height * (2 - frame_mbs_only)
    width = width_mbs * 16 - crop_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - crop_y * (crop[2] + crop[3])
    return VideoSize(width, height)


def _skip_h265_profile_tier_level(reader: _BitReader, max_sub_layers_minus1: int) -> None:
    reader.read(8)  # general profile space, tier, profile idc
    reader.read(32)  # general_profile_compatibility_flags
    reader.read(48)  # progressive..constraint flags
    reader.read(8)  # general_level_idc
    present = [(reader.read(1), reader.read(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        reader.read(2 * (8 - max_sub_layers_minus1))
    for profile_present, level_present in present:
        reader.read(88 if profile_present else 0)
        reader.read(8 if level_present else 0)


def _parse_h265_sps(reader: _BitReader) -> VideoSize:
    reader.read(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = reader.read(3)
    reader.read(1)  # sps_temporal_id_nesting_flag
    _skip_h265_profile_tier_level(reader, max_sub_layers_minus1)
    reader.read_ue()  # sps_seq_parameter_set_id
    chroma_format_idc = reader.read_ue()
    if chroma_format_idc == 3:
        reader.read(1)
    width = reader.read_ue()
    height = reader.read_ue()
    if reader.read(1):  # conformance_window_flag
        left, right, top, bottom = (reader.read_ue() for _ in range(4))
        sub_width, sub_height = _SUB_SAMPLING.get(chroma_format_idc, (1, 1))
        width -= sub_width * (left + right)
        height -= sub_height * (top + bottom)
    return VideoSize(width, height)
