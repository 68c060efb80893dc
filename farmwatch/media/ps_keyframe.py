"""Is this PS frame a key frame? Read from its first bytes, without demultiplexing it.

A stream nobody watches only needs to know where its key frames are, to keep the GOP a new
viewer starts from (issue 14: a stream with no viewer costs no more than receiving and
finding frame boundaries and key frames). The first bytes of a GB/T 28181 PS frame hold the
pack header, on key frames the system header and PSM, the PES header, then the access
unit's first NAL units: parameter sets, SEI, and the first slice. `starts_keyframe` walks
the start codes of those bytes and answers from the first slice it meets (an IDR, or an
IRAP picture for H.265), or from parameter sets when the slice lies beyond the bytes it
reads. Start codes of PS structures (0xB9 and above) are skipped; inside NAL units,
emulation prevention guarantees no start code appears. Pure, bounded by `limit` bytes.
"""

from __future__ import annotations

from farmwatch.media.frames import Codec
from farmwatch.media.nal import H264_NAL_CLASSES, H265_NAL_CLASSES, NalClass

__all__ = ["starts_keyframe"]

_START = b"\x00\x00\x01"
_VCL = int(NalClass.VCL)
_KEY = int(NalClass.KEY)
_PARAMETER_SETS = int(NalClass.SPS | NalClass.PPS | NalClass.VPS)
_FIRST_PS_CODE = 0xB9


def starts_keyframe(codec: Codec, data: bytes, limit: int = 4096) -> bool:
    """True when the frame whose PS bytes begin `data` is a key frame of `codec`."""
    table = H265_NAL_CLASSES if codec is Codec.H265 else H264_NAL_CLASSES
    end = min(len(data), limit)
    has_parameter_sets = False
    position = data.find(_START, 0, end)
    while 0 <= position < end - 3:
        code = data[position + 3]
        if code < _FIRST_PS_CODE:
            nal = table[code]
            if nal & _VCL:
                return bool(nal & _KEY)
            has_parameter_sets |= bool(nal & _PARAMETER_SETS)
        position = data.find(_START, position + 3, end)
    return has_parameter_sets  # no slice within reach: parameter sets come with key frames
