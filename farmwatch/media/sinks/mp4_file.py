"""MP4 files from frames: one fragmented MP4 file written as frames come (downloads, clips).

Owns the MP4 file writer of DESIGN.md "Growing the house" (the MP4 downloader): the file of a
device download (`mp4_download.Mp4FileSink`) and the MP4 files of downloads and evidence clips
remuxed from platform recordings (`platform/recordings/recording_copy.py`).

`Mp4FileWriter` (blocking; run it in a worker thread) puts frames into **one** fragmented
MP4 file (ISO/IEC 14496-12 §8.8): `ftyp`+`moov` with an `avc1`/`hvc1` sample entry
(ISO/IEC 14496-15), then one `moof`+`mdat` per GOP, each written and flushed as soon as the
next key frame completes it, so a killed process loses at most the GOP in progress. The
`ftyp`+`moov` come from PyAV's mp4 muxer (`fmp4.Fmp4Muxer` fed the first key frame, once per
file: `avcC`/`hvcC` as the live output writes them). The fragments are written here with
`struct` (`_Fragment`: `mfhd`, `tfhd`, `tfdt`, `trun`, Annex-B start codes turned into
4-byte lengths, parameter sets left to the sample entry), because PyAV's muxer cost ~40 µs a
frame in worker threads beside a busy event loop (GIL hand-offs, cold caches) where these
fragments cost ~12 µs (the scan for start codes is a third of it). A fragmented file is
still one file: PyAV, ffmpeg, browsers and VLC play it and read its duration from the
fragments, the `moov` comes first (a player starts before the end), and nothing is rewritten
at the end (no faststart pass over a finished file). Video only: audio is not muxed (as the
live fMP4 sink); new parameter sets within a file are an error (platform recording starts a
new segment there).
"""

from __future__ import annotations

import os
import re
import struct
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame
from farmwatch.media.nal import (
    H264_NAL_CLASSES,
    H265_NAL_CLASSES,
    NalClass,
    ParameterSets,
    extract_parameter_sets,
)
from farmwatch.media.output_clock import DEFAULT_FRAME_INTERVAL
from farmwatch.media.sinks.fmp4 import Fmp4Muxer, InitSegment

__all__ = ["Mp4FileInfo", "Mp4FileWriter"]

_TRACK_ID = 1
"""The video track of the `moov` the mp4 muxer writes."""
_DEFAULT_BASE_IS_MOOF = 0x020000
_SYNC_SAMPLE = 0x02000000
"""sample_depends_on = 2 (depends on no other sample), a sync sample (§8.8.3.1)."""
_NON_SYNC_SAMPLE = 0x01010000
"""sample_depends_on = 1, sample_is_non_sync_sample = 1."""
_START_CODE = re.compile(b"\x00\x00\x01")
_NAL_CLASSES = {Codec.H264: H264_NAL_CLASSES, Codec.H265: H265_NAL_CLASSES}
_PARAMETER_SETS = int(NalClass.VPS | NalClass.SPS | NalClass.PPS)


@dataclass(frozen=True, slots=True)
class Mp4FileInfo:
    """A finished MP4 file."""

    path: Path
    duration: timedelta
    """Media time of its frames (the last one lasting as long as the one before it)."""
    frame_count: int
    byte_count: int
    codec: Codec
    width: int
    height: int


class Mp4FileWriter:
    """`EsFrame`s in, one fragmented MP4 file at `path` out (blocking I/O and CPU work).

    Frames must come in decode order with increasing DTS (an `OutputClock`'s output); the
    file's time starts at the first frame. It starts at the first key frame with complete
    parameter sets (earlier frames and frames of another codec are `frames_skipped`); a key
    frame with other parameter sets raises `MediaError` (one file has one sample entry).
    The file is created (exclusively: an existing file is never overwritten) when the first
    fragment is complete; `close` writes the last one, flushes the file to disk (`fsync`)
    and returns what it holds, or None when no frame made it into the file (then there is no
    file). Blocking: call it from worker threads, never from the event loop (a lock keeps
    the calls of two threads apart).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._init: InitSegment | None = None
        self._parameter_sets = ParameterSets()
        self._file: BinaryIO | None = None
        self._fragment = _Fragment()
        self._sequence = 0
        self._first_dts = 0
        self._last_dts: int | None = None
        self._last_duration = DEFAULT_FRAME_INTERVAL
        self.frame_count = 0
        """Frames in the fragments written so far."""
        self.byte_count = 0
        """Bytes written so far."""
        self.frames_skipped = 0

    def write(self, frame: EsFrame, stamps: tuple[int, int] | None = None) -> None:
        """Add one frame, with its own timestamps or `stamps` (pts, dts), as an
        `OutputClock` gives them; a key frame first writes the fragment before it (the GOP)."""
        pts, dts = stamps if stamps is not None else (frame.pts, frame.dts)
        with self._lock:
            if self._init is None:
                if not self._start(frame, dts):
                    self.frames_skipped += 1
                    return
            elif frame.codec is not self._init.codec:
                self.frames_skipped += 1
                return
            if self._last_dts is not None:
                dts = max(dts, self._last_dts + 1)
                self._last_duration = dts - self._last_dts
            if frame.is_keyframe and self._fragment.sizes:
                self._write_fragment(dts)
                self._check_parameter_sets(frame)
            self._fragment.add(frame, dts - self._first_dts, max(pts - dts, 0))
            self._last_dts = dts

    def close(self) -> Mp4FileInfo | None:
        """Write the last fragment and close the file; None if it holds no frame."""
        with self._lock:
            if self._fragment.sizes and self._last_dts is not None:
                self._write_fragment(self._last_dts + self._last_duration)
            file, self._file = self._file, None
            if file is None or self._init is None:
                return None
            with file:
                file.flush()
                os.fsync(file.fileno())
            end = self._fragment.start  # the empty fragment after the last one starts there
            return Mp4FileInfo(
                path=self.path,
                duration=timedelta(seconds=end / TIMESTAMP_CLOCK_RATE),
                frame_count=self.frame_count,
                byte_count=self.byte_count,
                codec=self._init.codec,
                width=self._init.size.width,
                height=self._init.size.height,
            )

    def abort(self) -> None:
        """Close the file without writing more (what was written stays)."""
        with self._lock:
            file, self._file = self._file, None
            if file is not None:
                file.close()

    def _start(self, frame: EsFrame, dts: int) -> bool:
        """Take the sample entry (`ftyp`+`moov`) from the first key frame, if it can start."""
        if not frame.is_keyframe or not frame.codec.is_annex_b:
            return False
        parameter_sets = extract_parameter_sets(frame.codec, frame.data)
        if not parameter_sets.is_complete(frame.codec):
            return False
        muxer = Fmp4Muxer()
        try:
            chunks = muxer.feed(frame)
        finally:
            muxer.finish()
        self._init = next((chunk for chunk in chunks if isinstance(chunk, InitSegment)), None)
        self._parameter_sets, self._first_dts = parameter_sets, dts
        return self._init is not None

    def _check_parameter_sets(self, frame: EsFrame) -> None:
        if frame.is_damaged:
            return  # parameter sets cut short by a loss are no change
        found = extract_parameter_sets(frame.codec, frame.data)
        if found.is_complete(frame.codec) and found != self._parameter_sets:
            raise MediaError(f"{self.path}: parameter sets changed within one MP4 file")

    def _write_fragment(self, next_dts: int) -> None:
        fragment, self._fragment = self._fragment, _Fragment(next_dts - self._first_dts)
        self._sequence += 1
        header = fragment.moof_and_mdat_header(self._sequence, self._fragment.start)
        if self._file is None:
            self._file = self._create()
        self._file.write(header)
        self._file.write(fragment.payload)
        self._file.flush()
        self.byte_count += len(header) + len(fragment.payload)
        self.frame_count += len(fragment.sizes)

    def _create(self) -> BinaryIO:
        assert self._init is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("xb")
        file.write(self._init.data)
        self.byte_count += len(self._init.data)
        return file


class _Fragment:
    """The samples of one movie fragment being collected, and its `moof` (ISO/IEC 14496-12
    §8.8.4-8.8.12: `mfhd`, `traf` with `tfhd` (default-base-is-moof), `tfdt` (version 1)
    and one `trun` with each sample's duration, size, flags and composition offset)."""

    __slots__ = ("start", "payload", "sizes", "times", "flags", "offsets")

    def __init__(self, start: int = 0) -> None:
        self.start = start
        """Decode time of the first sample, 90 kHz ticks from the file's first frame."""
        self.payload = bytearray()
        """The `mdat` payload: each sample's NAL units with 4-byte length prefixes."""
        self.sizes: list[int] = []
        self.times: list[int] = []
        self.flags: list[int] = []
        self.offsets: list[int] = []

    def add(self, frame: EsFrame, time: int, composition_offset: int) -> None:
        """Append a frame decoding at `time`: Annex-B start codes become 4-byte lengths
        (ISO/IEC 14496-15 §4.3.2); parameter sets are left to the sample entry."""
        data, payload, classes = frame.data, self.payload, _NAL_CLASSES[frame.codec]
        before = len(payload)
        # One pass of the regular expression engine over the frame: half the time of
        # `nal.split_nal_units`' `find` calls (the scan is most of a sample's cost).
        starts = [match.end() for match in _START_CODE.finditer(data)]
        ends = [start - 3 for start in starts[1:]]
        ends.append(len(data))
        for start, end in zip(starts, ends, strict=True):
            while end > start and data[end - 1] == 0:  # trailing zeros, a 4-byte start code
                end -= 1
            if end > start and not classes[data[start]] & _PARAMETER_SETS:
                payload += (end - start).to_bytes(4, "big")
                payload += memoryview(data)[start:end]
        self.sizes.append(len(payload) - before)
        self.times.append(time)
        self.flags.append(_SYNC_SAMPLE if frame.is_keyframe else _NON_SYNC_SAMPLE)
        self.offsets.append(composition_offset)

    def moof_and_mdat_header(self, sequence: int, end: int) -> bytes:
        """`moof` and the `mdat` header; the samples last up to `end` (the next DTS)."""
        count = len(self.sizes)
        durations = [
            later - earlier for earlier, later in zip(self.times, self.times[1:], strict=False)
        ]
        durations.append(max(end - self.times[-1], 0))
        columns = [durations, self.sizes, self.flags]
        trun_flags = 0x000701  # data offset; sample durations, sizes and flags
        if any(self.offsets):
            columns.append(self.offsets)
            trun_flags |= 0x000800  # and composition time offsets
        values = [value for sample in zip(*columns, strict=True) for value in sample]
        samples = struct.pack(f">{len(values)}I", *values)
        # moof = moof header, mfhd, traf header, tfhd, tfdt, then the trun below.
        data_offset = 8 + 16 + 8 + 16 + 20 + 20 + len(samples) + 8
        trun = _box(b"trun", struct.pack(">IIi", trun_flags, count, data_offset), samples)
        tfhd = _box(b"tfhd", struct.pack(">II", _DEFAULT_BASE_IS_MOOF, _TRACK_ID))
        tfdt = _box(b"tfdt", struct.pack(">IQ", 1 << 24, self.start))  # version 1
        mfhd = _box(b"mfhd", struct.pack(">II", 0, sequence))
        moof = _box(b"moof", mfhd, _box(b"traf", tfhd, tfdt, trun))
        return moof + struct.pack(">I4s", len(self.payload) + 8, b"mdat")


def _box(box_type: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", len(body) + 8, box_type) + body
