"""A segment's index made whole from its PS file, and segments a killed recorder left repaired.

Owns the two readings of a segment that do not trust its `.idx` blindly (`segment_index.py`):

* `read_segment_index(path)` (for readers of closed segments): the index records that chain
  and fit the `.ps` file, followed, when the `.ps` holds more (an index cut short) or there
  is no index at all, by the frames found by scanning the rest of the PS (`ps_scan`), their
  times from the PTS of their video PES.
* `recover_segments(directory, zone)` (at start-up, before recorders start, in a worker
  thread): every `{YYYY-MM-DD}/{HHMMSS}-open.ps` a process killed while recording left is
  cut after its last whole frame — the last one its index records whose bytes all reached
  the file (records are written before their bytes) and, if the index is missing or lags,
  the frames a scan finds past it that another one follows (the last one may be cut short
  however it parses: dropped). Its index is rewritten to match, both files are renamed to
  `{HHMMSS}-{HHMMSS}`, and it is returned as the `RecordedSegment` the recorder would have
  reported, so the platform indexes it like any other. The start comes from the folder and
  file name, to the second, in the zone given; codec and picture size from demultiplexing
  its first key frame. A file without a whole picture is deleted. An index left without
  its segment file (the process died between the two renames) is deleted: the closed
  segment reads without it.

Only the index, the tail after it and the first key frame are read, never the whole file,
unless the index is missing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec
from farmwatch.media.output_clock import OutputClock
from farmwatch.media.ps_frame import video_pts
from farmwatch.media.sinks.ps_scan import FrameKind, KeyframeProbe, probe_keyframe, scan_frames
from farmwatch.media.sinks.segment_index import (
    HEADER,
    FrameFlag,
    IndexEntry,
    decode_index,
    encode_entries,
    end_time,
    whole_prefix,
)
from farmwatch.media.sinks.segment_writer import (
    INDEX_SUFFIX,
    SEGMENT_SUFFIX,
    TEMPORARY_MARK,
    RecordedSegment,
    free_path,
    index_path,
    segment_path,
)

__all__ = ["SegmentIndex", "read_segment_index", "recover_segment", "recover_segments"]

log = logging.getLogger(__name__)

_TEMPORARY_NAME = re.compile(rf"(\d{{6}})-{TEMPORARY_MARK}(?:_\d+)?")
_DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
_DEFAULT_STEP = TIMESTAMP_CLOCK_RATE // 25


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    """The frames of a segment file."""

    entries: list[IndexEntry]
    is_damaged: bool
    """The index listed frames the file does not hold (it was cut short)."""
    was_scanned: bool
    """Frames were found by scanning the PS (no index, or one cut short)."""


def read_segment_index(path: Path) -> SegmentIndex:
    """The frames of the closed segment file `path`; raises `OSError` if it cannot be read."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        listed = _listed_entries(path)
        entries = whole_prefix(listed, size)
        is_damaged = len(entries) < len(listed)
        was_scanned = False
        covered = entries[-1].end if entries else 0
        if covered < size:
            entries += _scanned_entries(file, entries, covered, keep_last=True, codec=None)
            was_scanned = True
    return SegmentIndex(entries, is_damaged, was_scanned)


def recover_segments(directory: Path, zone: ZoneInfo) -> list[RecordedSegment]:
    """Recover every temporary segment file below `directory` (any depth), oldest first."""
    recovered = []
    for path in sorted(directory.rglob(f"*-{TEMPORARY_MARK}*")):
        name = _TEMPORARY_NAME.fullmatch(path.stem)
        if name is None or not _DAY_FOLDER.fullmatch(path.parent.name):
            continue
        if path.suffix == INDEX_SUFFIX:
            if not path.with_suffix(SEGMENT_SUFFIX).exists():
                log.info("recovery: %s has no segment file; deleting it", path)
                path.unlink()
            continue
        if path.suffix != SEGMENT_SUFFIX:
            log.warning("recovery: %s is not a PS segment; left as it is", path)
            continue
        day = datetime.strptime(path.parent.name, "%Y-%m-%d").date()
        clock = datetime.strptime(name.group(1), "%H%M%S").time()
        segment = recover_segment(path, datetime.combine(day, clock, tzinfo=zone))
        if segment is not None:
            recovered.append(segment)
    return recovered


def recover_segment(path: Path, start: datetime) -> RecordedSegment | None:
    """Repair one temporary segment file that started at `start` (aware); see the module."""
    index = index_path(path)
    with path.open("r+b") as file:
        size = file.seek(0, 2)
        entries = whole_prefix(_listed_entries(path), size)
        probe = _probe_first_keyframe(file, entries)
        covered = entries[-1].end if entries else 0
        codec = probe.codec if probe is not None else None
        entries += _scanned_entries(file, entries, covered, keep_last=False, codec=codec)
        probe = probe or _probe_first_keyframe(file, entries)
        if probe is None or not any(entry.is_picture for entry in entries):
            log.warning("recovery: %s holds no whole picture; deleting it", path)
            file.close()
            path.unlink()
            index.unlink(missing_ok=True)
            return None
        byte_count = entries[-1].end
        file.truncate(byte_count)
    with index.open("wb") as written:
        written.write(HEADER + encode_entries(entries))
    end = _add(start, end_time(entries))
    final = free_path(segment_path(path.parent.parent, start, end))
    path.rename(final)
    index.rename(index_path(final))
    log.info("recovery: %s recovered as %s", path, final.name)
    picture = probe.size
    return RecordedSegment(
        final, start, end, sum(1 for entry in entries if entry.is_picture), byte_count,
        probe.codec, picture.width if picture else 0, picture.height if picture else 0,
    )  # fmt: skip


def _add(start: datetime, ticks: int) -> datetime:
    moment = start.astimezone(UTC) + timedelta(seconds=ticks / TIMESTAMP_CLOCK_RATE)
    return moment.astimezone(start.tzinfo)


def _listed_entries(path: Path) -> list[IndexEntry]:
    """What the index beside `path` lists ([] when it is missing or not ours)."""
    try:
        return decode_index(index_path(path).read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as error:
        log.warning("segment %s: index ignored (%s)", path, error)
        return []


def _read(file: BinaryIO, offset: int, length: int) -> bytes:
    file.seek(offset)
    return file.read(length)


def _probe_first_keyframe(file: BinaryIO, entries: list[IndexEntry]) -> KeyframeProbe | None:
    for entry in entries:
        if entry.is_keyframe:
            return probe_keyframe(_read(file, entry.offset, entry.length))
    return None


def _scanned_entries(
    file: BinaryIO, entries: list[IndexEntry], offset: int, *, keep_last: bool, codec: Codec | None
) -> list[IndexEntry]:
    """Entries for the frames of the file from `offset` on, timed on from `entries`.

    The last frame found is kept only when `keep_last` and its packets end at the file's end.
    """
    data = _read(file, offset, -1)
    if not data:
        return []
    scan = scan_frames(data, 0, codec)
    frames = scan.frames if keep_last and scan.is_last_whole else scan.frames[:-1]
    pictures = [entry for entry in entries if entry.is_picture]
    time = pictures[-1].time if pictures else 0
    has_time = bool(pictures)  # the next picture comes after `time` (else it is at 0)
    clock = OutputClock()
    base = time
    if pictures:
        last = pictures[-1]
        pts = video_pts(_read(file, last.offset, min(last.length, 4096)))
        if pts is not None:
            clock.stamp(pts, pts)  # the last indexed picture: 0 on the clock, `time` here
        else:
            base += _DEFAULT_STEP
    found: list[IndexEntry] = []
    for frame in frames:
        flags = FrameFlag.KEYFRAME if frame.is_keyframe else FrameFlag(0)
        if frame.kind is FrameKind.PICTURE and frame.pts is not None:
            time = base + clock.stamp(frame.pts, frame.pts)[1]
            has_time = True
        elif frame.kind is FrameKind.PICTURE:
            time += _DEFAULT_STEP if has_time else 0
            has_time = True
        else:
            flags |= FrameFlag.NO_PICTURE
        found.append(IndexEntry(offset + frame.offset, frame.length, int(flags), time))
    if found and entries and found[0].time < entries[-1].time:
        return []  # times that do not follow on: keep what the index says
    return found
