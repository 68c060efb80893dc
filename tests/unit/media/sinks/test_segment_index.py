"""The segment index format and the PS scan that stands in for a lost index: bytes written by
the recorder read back, records that do not fit a file dropped, frames found in raw PS."""

from __future__ import annotations

import struct

import pytest

from farmwatch.media.frames import Codec
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.sinks.ps_scan import (
    FrameKind,
    classify_frame,
    keyframe_signature,
    probe_keyframe,
    scan_frames,
)
from farmwatch.media.sinks.segment_index import (
    HEADER,
    HEADER_SIZE,
    RECORD_SIZE,
    FrameFlag,
    IndexEntry,
    decode_index,
    encode_entries,
    end_time,
    find_start,
    whole_prefix,
)
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames, ps_frames

SOUND = b"\x00\x00\x01\xba" + bytes([0x44, 0, 4, 0, 4, 1, 0, 0, 3, 0xF8]) + (
    b"\x00\x00\x01\xc0\x00\x08\x81\x80\x05\x21\x00\x01\x00\x01"
)  # fmt: skip


def entries_of(frames: list[PsFrame]) -> list[IndexEntry]:
    entries, offset = [], 0
    for number, frame in enumerate(frames):
        flags = FrameFlag.KEYFRAME if frame.is_keyframe else FrameFlag(0)
        entries.append(IndexEntry(offset, len(frame.data), int(flags), number * 3600))
        offset += len(frame.data)
    return entries


def test_records_are_24_bytes_big_endian_after_a_16_byte_header() -> None:
    entry = IndexEntry(0x0102030405060708, 0x0A0B0C0D, FrameFlag.KEYFRAME | FrameFlag.AFTER_LOSS,
                       -2)  # fmt: skip
    data = HEADER + encode_entries([entry])

    assert (HEADER_SIZE, RECORD_SIZE) == (16, 24)
    assert data[:16] == b"FWPSIDX1" + struct.pack(">II", 24, 0)
    assert data[16:] == bytes.fromhex("0102030405060708 0A0B0C0D 05 000000 FFFFFFFFFFFFFFFE")
    assert decode_index(data) == [entry]


def test_a_partial_last_record_is_ignored_and_a_foreign_file_refused() -> None:
    entries = [IndexEntry(i * 100, 100, 0, i * 3600) for i in range(3)]
    data = HEADER + encode_entries(entries)

    for cut in range(HEADER_SIZE, len(data) + 1):
        assert decode_index(data[:cut]) == entries[: (cut - HEADER_SIZE) // RECORD_SIZE]
    with pytest.raises(ValueError):
        decode_index(b"FWPSIDX2" + data[8:])
    with pytest.raises(ValueError):
        decode_index(data[:10])


def test_the_whole_prefix_chains_from_zero_and_fits_the_file() -> None:
    entries = [IndexEntry(i * 100, 100, 0, i * 3600) for i in range(5)]

    assert whole_prefix(entries, 500) == entries
    assert whole_prefix(entries, 499) == entries[:4]
    assert whole_prefix(entries, 99) == []
    gap = [*entries[:2], entries[2]._replace(offset=201), *entries[3:]]
    assert whole_prefix(gap, 500) == entries[:2]
    back = [*entries[:3], entries[3]._replace(time=0)]
    assert whole_prefix(back, 500) == entries[:3]


def test_the_start_is_the_key_frame_at_or_before_the_time_and_none_past_the_end() -> None:
    keys = {0, 25, 50}
    entries = [
        IndexEntry(i, 1, FrameFlag.KEYFRAME if i in keys else 0, i * 3600) for i in range(60)
    ]

    assert end_time(entries) == 60 * 3600
    assert [find_start(entries, t * 3600) for t in (0, 24, 25, 26, 49, 59)] == [0, 0, 25, 25,
                                                                                25, 50]  # fmt: skip
    assert find_start(entries, 60 * 3600 - 1) == 50
    assert find_start(entries, 60 * 3600) is None  # the segment ended before: a hole
    assert find_start([e._replace(flags=0) for e in entries], 0) is None


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_frames_are_told_apart_and_key_frames_probed_without_a_demuxer(codec: Codec) -> None:
    frames = ps_frames(pattern_frames(codec, 30))
    key, other = frames[0], frames[1]

    assert classify_frame(key.data) is FrameKind.PICTURE
    assert classify_frame(other.data) is FrameKind.PICTURE
    assert classify_frame(SOUND) is FrameKind.OTHER
    assert classify_frame(key.data[100:]) is FrameKind.OTHER  # the rest after a loss
    probe = probe_keyframe(key.data)
    assert probe is not None and probe.codec is codec
    assert probe.size is not None and (probe.size.width, probe.size.height) == (WIDTH, HEIGHT)
    assert probe_keyframe(other.data) is None
    signature = keyframe_signature(codec, key.data)
    assert signature and signature == keyframe_signature(codec, frames[25].data)
    assert b"\x00\x00\x01\xbc" in signature


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_another_codec_or_picture_size_changes_the_key_frame_signature(codec: Codec) -> None:
    key = ps_frames(pattern_frames(codec, 1))[0]
    smaller = ps_frames(pattern_frames(codec, 1, size=(160, 96)))[0]
    other = Codec.H265 if codec is Codec.H264 else Codec.H264
    recoded = ps_frames(pattern_frames(other, 1))[0]

    signature = keyframe_signature(codec, key.data)
    assert keyframe_signature(codec, smaller.data) != signature
    assert keyframe_signature(codec, recoded.data) != signature


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265, None])
def test_a_scan_finds_the_frames_the_recorder_wrote(codec: Codec | None) -> None:
    frames = ps_frames(pattern_frames(Codec.H264, 60))
    frames.insert(10, PsFrame(SOUND, 0, False))
    data = b"".join(frame.data for frame in frames)

    scan = scan_frames(data, 0, codec if codec is not Codec.H265 else Codec.H264)

    assert [(f.offset, f.length) for f in scan.frames] == [
        (e.offset, e.length) for e in entries_of(frames)
    ]
    assert [f.is_keyframe for f in scan.frames] == [f.is_keyframe for f in frames]
    assert [f.kind for f in scan.frames].count(FrameKind.OTHER) == 1
    pictures = [f for f in scan.frames if f.kind is FrameKind.PICTURE]
    assert [f.pts for f in pictures] == [i * 3600 for i in range(60)]
    assert scan.is_last_whole and scan.codec is Codec.H264
    cut = scan_frames(data[:-1], 0, Codec.H264)
    assert len(cut.frames) == len(frames) and not cut.is_last_whole


def test_garbage_stays_with_the_frame_before_it() -> None:
    frames = ps_frames(pattern_frames(Codec.H264, 3))
    garbage = b"\x17" * 33
    data = frames[0].data + garbage + frames[1].data + frames[2].data

    scan = scan_frames(data, 0, Codec.H264)

    lengths = [len(frames[0].data) + len(garbage), len(frames[1].data), len(frames[2].data)]
    assert [f.length for f in scan.frames] == lengths
    leading = scan_frames(garbage + data, 0, Codec.H264)
    assert [f.kind for f in leading.frames][:2] == [FrameKind.OTHER, FrameKind.PICTURE]
