"""Crash recovery of segment files: temporary segments left by a killed recorder made whole.

Owns the repair of `{YYYY-MM-DD}/{HHMMSS}-open.mp4` files (`segment_recorder.py`) that a
process killed while recording left behind. Such a file is `ftyp`+`moov` and whole movie
fragments (`moof`+`mdat`, ISO/IEC 14496-12 §8.8), possibly followed by the start of one more
that was being written. `recover_segments` cuts that incomplete tail off, reads the end of the
recording from the last whole fragment (`tfdt` base decode time plus the `trun` sample
durations, defaults from `tfhd` or `trex`, §8.8.12, §8.8.7, §8.8.8, §8.8.3), renames the file
to `{HHMMSS}-{HHMMSS}.mp4` and returns the same `RecordedSegment` the recorder reports, so the
platform indexes it like any other. A file without one whole fragment holds no playable frame
and is deleted. The start comes from the folder and file name, to the second, in the zone
given (the recorder's). Run it at start-up, before recorders start, from a worker thread:
it reads box headers and the small `moov`/`moof` boxes, never the media data.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from farmwatch.media.frames import Codec
from farmwatch.media.sinks.segment_recorder import (
    TEMPORARY_MARK,
    RecordedSegment,
    free_path,
    segment_path,
)

__all__ = ["recover_segment", "recover_segments"]

log = logging.getLogger(__name__)

_TEMPORARY_NAME = re.compile(rf"(\d{{6}})-{TEMPORARY_MARK}(?:_\d+)?\.mp4")
_DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
_SAMPLE_ENTRIES = {b"avc1": Codec.H264, b"avc3": Codec.H264, b"hvc1": Codec.H265,
                   b"hev1": Codec.H265}  # fmt: skip
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf"})
_MAX_HEADER_BOX = 64 * 1024 * 1024
"""A `moov` or `moof` larger than this is not one of ours: the file is left alone."""


@dataclass(frozen=True, slots=True)
class _Track:
    timescale: int
    default_duration: int
    codec: Codec
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class _Fragments:
    whole_length: int
    """Bytes up to the end of the last whole fragment."""
    first_time: int
    end_time: int
    """Decode time after the last sample of the last whole fragment (track timescale)."""
    sample_count: int


def recover_segments(directory: Path, zone: ZoneInfo) -> list[RecordedSegment]:
    """Recover every temporary segment file below `directory` (any depth), oldest first."""
    recovered = []
    for path in sorted(directory.rglob(f"*-{TEMPORARY_MARK}*.mp4")):
        name = _TEMPORARY_NAME.fullmatch(path.name)
        if name is None or not _DAY_FOLDER.fullmatch(path.parent.name):
            continue
        day = datetime.strptime(path.parent.name, "%Y-%m-%d").date()
        clock = datetime.strptime(name.group(1), "%H%M%S").time()
        segment = recover_segment(path, datetime.combine(day, clock, tzinfo=zone))
        if segment is not None:
            recovered.append(segment)
    return recovered


def recover_segment(path: Path, start: datetime) -> RecordedSegment | None:
    """Repair one temporary segment file that started at `start` (aware); see the module."""
    with path.open("r+b") as file:
        try:
            track, fragments = _read_structure(file)
        except (ValueError, struct.error) as error:
            log.warning("recovery: %s is not a fragmented MP4 we can repair (%s)", path, error)
            return None
        if track is None or fragments is None:
            log.warning("recovery: %s holds no whole fragment; deleting it", path)
            path.unlink()
            return None
        file.truncate(fragments.whole_length)
    seconds = (fragments.end_time - fragments.first_time) / track.timescale
    end = (start.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(start.tzinfo)
    final = free_path(segment_path(path.parent.parent, start, end))
    path.rename(final)
    log.info("recovery: %s recovered as %s", path, final.name)
    return RecordedSegment(
        final, start, end, fragments.sample_count, fragments.whole_length, track.codec,
        track.width, track.height,
    )  # fmt: skip


def _read_structure(file: BinaryIO) -> tuple[_Track | None, _Fragments | None]:
    """The track (from `moov`) and the whole fragments of a file, reading box by box."""
    track: _Track | None = None
    moof: bytes | None = None
    first_time: int | None = None
    end_time = count = whole_length = 0
    for box_type, offset, size in _top_level_boxes(file):
        if box_type in (b"moov", b"moof"):
            if size > _MAX_HEADER_BOX:
                raise ValueError(f"{box_type.decode()} of {size} bytes")
            file.seek(offset)
            body = file.read(size)
            if box_type == b"moov":
                track = _parse_moov(body)
            else:
                moof = body
        elif box_type == b"mdat" and moof is not None and track is not None:
            start_time, end_time, samples = _parse_moof(moof, track.default_duration)
            first_time = start_time if first_time is None else first_time
            count += samples
            whole_length = offset + size
            moof = None
    if track is None or first_time is None:
        return track, None
    return track, _Fragments(whole_length, first_time, end_time, count)


def _top_level_boxes(file: BinaryIO) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset, size) of each whole top-level box; stops at an incomplete one."""
    length = file.seek(0, 2)
    offset = 0
    while offset + 8 <= length:
        file.seek(offset)
        header = file.read(16)
        size, box_type = struct.unpack(">I4s", header[:8])
        if size == 1 and len(header) == 16:
            size = struct.unpack(">Q", header[8:])[0]
        elif size == 0:
            size = length - offset
        if size < 8 or offset + size > length:
            return
        yield box_type, offset, size
        offset += size


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in data[start:end]."""
    while start + 8 <= end:
        size, box_type = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        if size < header or start + size > end:
            raise ValueError(f"box {box_type!r} overruns its parent")
        yield box_type, start + header, start + size
        start += size


def _find(data: bytes, start: int, end: int, wanted: bytes) -> Iterator[tuple[int, int]]:
    """(payload start, end) of every `wanted` box inside the container boxes of data."""
    for box_type, payload, box_end in _children(data, start, end):
        if box_type == wanted:
            yield payload, box_end
        elif box_type in _CONTAINERS:
            yield from _find(data, payload, box_end, wanted)


def _first(data: bytes, wanted: bytes) -> tuple[int, int]:
    for found in _find(data, 0, len(data), wanted):
        return found
    raise ValueError(f"no {wanted.decode()} box")


def _parse_moov(moov: bytes) -> _Track:
    mdhd, _ = _first(moov, b"mdhd")
    version = moov[mdhd]
    timescale = struct.unpack_from(">I", moov, mdhd + (20 if version == 1 else 12))[0]
    default_duration = 0
    for trex, _ in _find(moov, 0, len(moov), b"trex"):
        default_duration = struct.unpack_from(">I", moov, trex + 12)[0]
    stsd, stsd_end = _first(moov, b"stsd")
    for entry_type, entry, _ in _children(moov, stsd + 8, stsd_end):
        if entry_type in _SAMPLE_ENTRIES:
            width, height = struct.unpack_from(">HH", moov, entry + 24)
            return _Track(timescale, default_duration, _SAMPLE_ENTRIES[entry_type], width, height)
    raise ValueError("no H.264/H.265 sample entry")


def _parse_moof(moof: bytes, trex_duration: int) -> tuple[int, int, int]:
    """(base decode time, decode time after its last sample, sample count) of the first
    track fragment."""
    traf, traf_end = _first(moof, b"traf")
    default_duration, base_time, total, count = trex_duration, 0, 0, 0
    for box_type, payload, _ in _children(moof, traf, traf_end):
        flags = int.from_bytes(moof[payload + 1 : payload + 4], "big")
        if box_type == b"tfhd" and flags & 0x08:
            skip = 8 if flags & 0x01 else 0
            skip += 4 if flags & 0x02 else 0
            default_duration = struct.unpack_from(">I", moof, payload + 8 + skip)[0]
        elif box_type == b"tfdt":
            wide = moof[payload] == 1
            base_time = struct.unpack_from(">Q" if wide else ">I", moof, payload + 4)[0]
        elif box_type == b"trun":
            samples, durations = _trun_durations(moof, payload, flags)
            count += samples
            total += sum(durations) if durations else samples * default_duration
    return base_time, base_time + total, count


def _trun_durations(moof: bytes, payload: int, flags: int) -> tuple[int, list[int]]:
    """Sample count of a `trun`, and its per-sample durations ([] if it has none)."""
    samples = struct.unpack_from(">I", moof, payload + 4)[0]
    position = payload + 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    if not flags & 0x100:
        return samples, []
    stride = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    return samples, [
        struct.unpack_from(">I", moof, position + index * stride)[0] for index in range(samples)
    ]
