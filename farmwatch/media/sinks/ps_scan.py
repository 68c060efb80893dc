"""What a recorded PS frame is, read from its bytes without demultiplexing the stream.

Owns the structural reading of GB/T 28181 program-stream bytes (ISO/IEC 13818-1 §2.5.3: pack
header, system header, PSM, PES packets, each after a `00 00 01` start code and, but for the
pack header, with its length) that recording needs, for `segment_timeline.py` (each frame,
on the writer thread) and `segment_recovery.py` (a file's tail after a crash):

* `classify_frame`: does a picture start in these bytes (the first PES is video), or do they
  hold sound, private data, or the rest of a frame cut by a loss (`FrameKind`);
* `keyframe_signature`: the PSM and parameter sets at the head of a key frame, so a change of
  codec or picture size starts a new segment without demultiplexing every key frame;
* `probe_keyframe`: codec and picture size, by demultiplexing one key frame (once a segment);
* `scan_frames`: frame boundaries of PS bytes with no index: a frame starts at a pack header
  followed by a system header or PSM, by a PES with a PTS, or by sound; a pack whose first
  PES is video without a PTS continues the frame (devices that put a pack header before
  each PES). Bytes that break the structure are resynchronised over at the next pack header
  and stay with the frame before them.

Pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from farmwatch.media.frames import Codec, MediaKind
from farmwatch.media.nal import H264_NAL_CLASSES, H265_NAL_CLASSES, NalClass, VideoSize, video_size
from farmwatch.media.pes_header import parse_pes_header
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.ps_keyframe import starts_keyframe

__all__ = [
    "FrameKind",
    "KeyframeProbe",
    "ScanResult",
    "ScannedFrame",
    "classify_frame",
    "is_picture",
    "keyframe_signature",
    "probe_keyframe",
    "scan_frames",
]

_START = b"\x00\x00\x01"
_PACK_START = b"\x00\x00\x01\xba"
_PACK, _END, _SYSTEM, _PSM = 0xBA, 0xB9, 0xBB, 0xBC
_FIRST_AUDIO, _FIRST_VIDEO, _LAST_VIDEO = 0xC0, 0xE0, 0xEF
_HEAD = 4096
"""Bytes of a frame read to classify it or tell a key frame."""
_PARAMETER_SETS = int(NalClass.VPS | NalClass.SPS | NalClass.PPS)
_VCL = int(NalClass.VCL)


class FrameKind(enum.Enum):
    """What a recorded PS frame starts with."""

    PICTURE = "picture"
    """A video PES first: a picture starts here."""
    OTHER = "other"
    """Sound or private data first, or no pack header (the rest of a frame after a loss)."""


def _pack_length(data: bytes, position: int) -> int:
    """Length of the pack header at `position` (MPEG-2: 14 and the stuffing; MPEG-1: 12)."""
    if len(data) > position + 13 and data[position + 4] >> 6 == 1:
        return 14 + (data[position + 13] & 0x07)
    return 12


def classify_frame(data: bytes) -> FrameKind:
    """PICTURE when the first PES of these PS bytes (a pack header first) is video."""
    if not data.startswith(_PACK_START):
        return FrameKind.OTHER
    end = min(len(data), _HEAD)
    position = _pack_length(data, 0)
    while position + 6 <= end and data.startswith(_START, position):
        code = data[position + 3]
        if _FIRST_VIDEO <= code <= _LAST_VIDEO:
            return FrameKind.PICTURE
        if code >= _FIRST_AUDIO or code < _SYSTEM:
            return FrameKind.OTHER
        position += 6 + (data[position + 4] << 8 | data[position + 5])
    return FrameKind.OTHER


def is_picture(data: bytes) -> bool:
    """`classify_frame(data) is FrameKind.PICTURE`, read directly where a video PES follows
    the pack header (a camera's usual P-frame)."""
    if data.startswith(_PACK_START):
        position = _pack_length(data, 0)
        if (
            position + 6 <= min(len(data), _HEAD)
            and data.startswith(_START, position)
            and _FIRST_VIDEO <= data[position + 3] <= _LAST_VIDEO
        ):
            return True
    return classify_frame(data) is FrameKind.PICTURE


def keyframe_signature(codec: Codec, data: bytes) -> bytes:
    """The PSM and the parameter-set NAL units before the first slice of a key frame's PS
    bytes: equal signatures, same codec and picture size (SEI and the rest left out)."""
    table = H265_NAL_CLASSES if codec is Codec.H265 else H264_NAL_CLASSES
    end = min(len(data), _HEAD)
    parts: list[bytes] = []
    position = data.find(_START, 0, end)
    while 0 <= position < end - 4:
        code = data[position + 3]
        following = data.find(_START, position + 3, end)
        if code == _PSM:
            length = data[position + 4] << 8 | data[position + 5]
            parts.append(data[position : position + 6 + length])
        elif code < _END:
            nal = table[code]
            if nal & _VCL:
                break
            if nal & _PARAMETER_SETS:  # without the zero byte of a 4-byte start code after
                parts.append(data[position + 3 : end if following < 0 else following].rstrip(b"\0"))
        position = following
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class KeyframeProbe:
    """What demultiplexing a key frame told."""

    codec: Codec
    size: VideoSize | None


def probe_keyframe(data: bytes) -> KeyframeProbe | None:
    """Codec and picture size of a key frame's PS bytes; None when no video key frame comes
    out of them."""
    demuxer = PsDemuxer()
    for frame in demuxer.feed(data, marker=True) + demuxer.flush():
        if frame.kind is MediaKind.VIDEO and frame.is_keyframe:
            return KeyframeProbe(frame.codec, video_size(frame.codec, frame.data))
    return None


@dataclass(frozen=True, slots=True)
class ScannedFrame:
    """A frame found by `scan_frames` (offsets into the bytes scanned)."""

    offset: int
    length: int
    kind: FrameKind
    pts: int | None
    """Of its first video PES, 33 bits; None for sound, private data, or no PTS there."""
    is_keyframe: bool

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True, slots=True)
class ScanResult:
    frames: list[ScannedFrame]
    """Each ends where the next one starts, so all but the last are whole."""
    is_last_whole: bool
    """The last frame's packets end exactly at the end of the bytes (it may still be cut
    between two of its PES packets: only an index can tell)."""
    codec: Codec | None
    """The codec given, else the first key frame's."""


@dataclass(frozen=True, slots=True)
class _Pack:
    offset: int
    end: int
    """Where its last whole packet ends."""
    kind: FrameKind
    pts: int | None
    has_map: bool
    """A system header or PSM: a key frame's head."""

    @property
    def starts_frame(self) -> bool:
        return self.has_map or self.kind is FrameKind.OTHER or self.pts is not None


def scan_frames(data: bytes, start: int = 0, codec: Codec | None = None) -> ScanResult:
    """The frames of `data[start:]`; see the module docstring."""
    frames: list[ScannedFrame] = []
    first: _Pack | None = None  # the first pack of the frame being read
    last_end = start
    position, end = start, len(data)
    while position < end:
        pack = _read_pack(data, position)
        if pack is None and first is None:  # bytes before any pack header
            pack = _Pack(position, position, FrameKind.OTHER, None, False)
        if pack is not None:
            if first is not None and pack.starts_frame:
                frame, codec = _frame(data, first, pack.offset, codec)
                frames.append(frame)
                first = None
            first = first or pack
            last_end = pack.end
        following = data.find(_PACK_START, max(position + 1, last_end))
        position = end if following < 0 else following
    if first is not None:
        frame, codec = _frame(data, first, end, codec)
        frames.append(frame)
    return ScanResult(frames, bool(frames) and last_end == end, codec)


def _frame(
    data: bytes, first: _Pack, end: int, codec: Codec | None
) -> tuple[ScannedFrame, Codec | None]:
    """The frame from `first` to `end`, and the codec (found at the first key frame)."""
    is_key = False
    if first.has_map and first.kind is FrameKind.PICTURE:
        if codec is None:
            probe = probe_keyframe(data[first.offset : end])
            codec = probe.codec if probe is not None else None
            is_key = probe is not None
        else:
            is_key = starts_keyframe(codec, data[first.offset : min(end, first.offset + _HEAD)])
    return ScannedFrame(first.offset, end - first.offset, first.kind, first.pts, is_key), codec


def _read_pack(data: bytes, position: int) -> _Pack | None:
    """The pack at `position` up to its last whole packet; None without a pack header."""
    if not data.startswith(_PACK_START, position):
        return None
    at = position + _pack_length(data, position)
    if at > len(data):
        return _Pack(position, position, FrameKind.OTHER, None, False)
    end = len(data)
    kind: FrameKind | None = None
    pts: int | None = None
    has_map = False
    while at + 4 <= end and data.startswith(_START, at):
        code = data[at + 3]
        if code == _END:
            at += 4
            continue
        if code < _SYSTEM or at + 6 > end:
            break  # the next pack, or no PS structure: the pack ends here
        length = data[at + 4] << 8 | data[at + 5]
        if at + 6 + length > end:
            break  # cut short
        if code in (_SYSTEM, _PSM):
            has_map = True
        elif kind is None and code >= _FIRST_AUDIO:
            kind = FrameKind.PICTURE if _FIRST_VIDEO <= code <= _LAST_VIDEO else FrameKind.OTHER
            if kind is FrameKind.PICTURE and length >= 3:
                header = parse_pes_header(data, at, length)
                pts = header.pts if header is not None else None
        at += 6 + length
    return _Pack(position, at, kind or FrameKind.OTHER, pts, has_map)
