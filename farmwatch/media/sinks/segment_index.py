"""The index of a PS segment file: where each recorded frame lies, when, and what it is.

Owns the sidecar format of platform recording (`segment_writer.py` writes it beside each
`{HHMMSS}-{HHMMSS}.ps`, with the same name and `.idx`): a 16-byte header, then one 24-byte
record per frame as received, in file order (all integers big-endian):

    header   magic "FWPSIDX1" (8 bytes), record size u32 (24), reserved u32 (0)
    record   offset u64     where the frame's PS bytes start in the .ps file
             length u32     how many bytes they are (the next frame starts right after)
             flags  u8      FrameFlag bits
             (3 bytes reserved, 0)
             time   i64     90 kHz ticks from the segment's first frame (its recorded time
                            is the segment's start plus this)

Records are appended as frames are written, just before their bytes; a process killed
mid-write leaves at most a partial last record, which `decode_index` ignores, and records
whose bytes did not all reach the file. `whole_prefix` keeps the records that chain from
offset 0 and fit a file of the given size: the whole frames. (Bytes past them, in a file
whose index was lost or cut, are for `segment_recovery` to scan.) Pure.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "HEADER",
    "HEADER_SIZE",
    "RECORD",
    "RECORD_SIZE",
    "FrameFlag",
    "IndexEntry",
    "decode_index",
    "encode_entries",
    "end_time",
    "find_start",
    "whole_prefix",
]

_MAGIC = b"FWPSIDX1"
_HEADER = struct.Struct(">8sII")
RECORD = struct.Struct(">QIB3xq")
"""One record: offset, length, flags, (3 reserved bytes), time."""
RECORD_SIZE = RECORD.size
HEADER = _HEADER.pack(_MAGIC, RECORD_SIZE, 0)
HEADER_SIZE = len(HEADER)
_DEFAULT_STEP = 3600
"""40 ms in 90 kHz ticks: a frame of 25 fps video."""
_MAX_STEP = 2 * 90_000


class FrameFlag(enum.IntFlag):
    """What the index says of a frame."""

    KEYFRAME = 1
    """A whole key frame (system header, PSM, parameter sets, IDR/IRAP): playback starts here."""
    INCOMPLETE = 2
    """Packets were lost after these bytes (the frame was cut short)."""
    AFTER_LOSS = 4
    """Packets were lost just before these bytes."""
    NO_PICTURE = 8
    """No picture starts here: sound, private data, or the rest of a frame after a loss
    (not counted as a frame; its time is the picture's before it)."""


class IndexEntry(NamedTuple):
    offset: int
    length: int
    flags: int
    time: int

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def is_keyframe(self) -> bool:
        return bool(self.flags & FrameFlag.KEYFRAME)

    @property
    def is_picture(self) -> bool:
        return not self.flags & FrameFlag.NO_PICTURE


def encode_entries(entries: Iterable[IndexEntry]) -> bytes:
    """The records of `entries` (no header)."""
    pack = RECORD.pack
    return b"".join([pack(*entry) for entry in entries])


def decode_index(data: bytes) -> list[IndexEntry]:
    """The records of an index file's bytes (a partial last record ignored); raises
    `ValueError` when the header is not ours."""
    if len(data) < HEADER_SIZE:
        raise ValueError("no index header")
    magic, record_size, _ = _HEADER.unpack_from(data)
    if magic != _MAGIC or record_size != RECORD_SIZE:
        raise ValueError(f"not a segment index (magic {magic!r}, records of {record_size})")
    whole = HEADER_SIZE + (len(data) - HEADER_SIZE) // RECORD_SIZE * RECORD_SIZE
    return [IndexEntry(*fields) for fields in RECORD.iter_unpack(data[HEADER_SIZE:whole])]


def whole_prefix(entries: Sequence[IndexEntry], size: int) -> list[IndexEntry]:
    """The leading entries that follow one another from offset 0 and end within `size` bytes
    (those of a file cut shorter, or after a record that does not chain, are dropped)."""
    kept: list[IndexEntry] = []
    end = 0
    for entry in entries:
        if entry.offset != end or entry.length <= 0 or entry.end > size:
            break
        if kept and entry.time < kept[-1].time:
            break
        kept.append(entry)
        end = entry.end
    return kept


def find_start(entries: Sequence[IndexEntry], time: int) -> int | None:
    """Index of the key frame at or before `time` (the first key frame when `time` comes
    before it); None when there is no key frame, or `time` is past the last frame (a hole)."""
    if not entries or time >= end_time(entries):
        return None
    found: int | None = None
    for position, entry in enumerate(entries):
        if entry.time > time and found is not None:
            break
        if entry.is_keyframe:
            found = position
            if entry.time > time:
                break
    return found


def end_time(entries: Sequence[IndexEntry]) -> int:
    """Ticks from the segment's start to the end of its last picture, which lasts as long as
    the step before it (40 ms when there is none); 0 without entries."""
    times = [entry.time for entry in entries[-16:] if entry.is_picture]
    steps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    positive = [step for step in steps if 0 < step <= _MAX_STEP]
    if not entries:
        return 0
    return entries[-1].time + (positive[-1] if positive else _DEFAULT_STEP)
