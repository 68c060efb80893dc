"""Crash recovery: a temporary PS segment cut where a killed process left it keeps every whole
frame, gets an index that matches, is renamed, and decodes in PyAV; a closed segment whose
index is lost or cut short is read by scanning its PS."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from farmwatch.media.frames import Codec
from farmwatch.media.sinks.segment_index import HEADER_SIZE, RECORD_SIZE, decode_index
from farmwatch.media.sinks.segment_recovery import read_segment_index, recover_segments
from farmwatch.media.sinks.segment_writer import index_path
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames
from tests.unit.media.sinks.test_segment_recorder import ZONE, decode, record

CHANNEL = Path("recordings/farm-7/34020000001320000001")
START = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
FRAMES = 140


def killed_recording(tmp_path: Path, codec: Codec = Codec.H264) -> tuple[bytes, bytes]:
    """The temporary segment and index of a recorder fed 140 frames (5.6 s) one at a time,
    never closed."""
    record(tmp_path / "live", pattern_frames(codec, FRAMES), START,
           length=timedelta(minutes=10), finish=False)  # fmt: skip
    (temporary,) = (tmp_path / "live").rglob("*-open.ps")
    return temporary.read_bytes(), index_path(temporary).read_bytes()


def leave_on_disk(root: Path, name: str, data: bytes, index: bytes | None) -> Path:
    path = root / CHANNEL / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if index is not None:
        index_path(path).write_bytes(index)
    return path


def test_a_file_cut_at_every_byte_of_its_last_frame_keeps_the_frames_before(
    tmp_path: Path,
) -> None:
    """The index is written before the bytes it points at: whatever byte the kill cut the
    last frame at, the frames before it are kept, and all of them at its end."""
    frames = pattern_frames(Codec.H264, 30, size=(160, 96))  # small frames: fewer cuts
    record(tmp_path / "live", frames, START, length=timedelta(minutes=10), finish=False)
    (temporary,) = (tmp_path / "live").rglob("*-open.ps")
    data, index = temporary.read_bytes(), index_path(temporary).read_bytes()
    last = decode_index(index)[-1]
    assert last.end == len(data)

    root = tmp_path / "cut"
    for cut in range(last.offset, last.end + 1):
        left = leave_on_disk(root, "2024-05-01/080000-open.ps", data[:cut], index)
        (segment,) = recover_segments(root / "recordings", ZONE)
        expected = 30 if cut == last.end else 29
        assert segment.frame_count == expected, cut
        assert (
            segment.byte_count
            == segment.path.stat().st_size
            == min(cut, last.offset) + (last.length if cut == last.end else 0)
        )
        entries = decode_index(index_path(segment.path).read_bytes())
        assert [entry.time for entry in entries] == [i * 3600 for i in range(expected)]
        assert not left.exists() and not index_path(left).exists()
        segment.path.unlink()
        index_path(segment.path).unlink()


@pytest.mark.parametrize("records", [FRAMES - 1, 100, 0, None])
def test_an_index_that_lags_or_is_lost_is_rebuilt_from_the_pack_headers(
    tmp_path: Path, records: int | None
) -> None:
    """Frames past the index are found by scanning the PS; the last one found may be cut
    short (nothing tells a whole one from one cut between two PES packets) and is dropped
    unless the index has it."""
    data, index = killed_recording(tmp_path)
    entries = decode_index(index)
    kept = None if records is None else index[: HEADER_SIZE + records * RECORD_SIZE + 7]
    for cut in (len(data), entries[-1].offset + 1000):  # the last frame whole, or cut
        expected = FRAMES - 1
        root = tmp_path / f"{records}-{cut}"
        leave_on_disk(root, "2024-05-01/080000-open.ps", data[:cut], kept)
        (segment,) = recover_segments(root / "recordings", ZONE)
        assert segment.frame_count == expected
        rebuilt = decode_index(index_path(segment.path).read_bytes())
        assert rebuilt == entries[:expected]
        assert decode(segment.path).frame_count == expected


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_a_recovered_segment_is_renamed_by_its_end_and_decodes(
    tmp_path: Path, codec: Codec
) -> None:
    data, index = killed_recording(tmp_path, codec)
    left = leave_on_disk(tmp_path, "2024-05-01/080000-open.ps", data, index)

    (segment,) = recover_segments(tmp_path / "recordings", ZONE)

    assert segment.path == left.with_name("080000-080005.ps")  # 140 frames: 5.6 s
    assert (segment.start, segment.end) == (START, START + timedelta(seconds=FRAMES * 0.04))
    assert (segment.frame_count, segment.codec, segment.width, segment.height) == (
        FRAMES, codec, WIDTH, HEIGHT
    )  # fmt: skip
    assert segment.path.read_bytes() == data
    decoded = decode(segment.path)
    assert decoded.frame_count == FRAMES and decoded.starts_with_keyframe


def test_the_end_name_is_read_in_the_zone_across_midnight(tmp_path: Path) -> None:
    data, index = killed_recording(tmp_path)  # 5.6 s
    leave_on_disk(tmp_path, "2024-05-01/235958-open.ps", data, index)

    (segment,) = recover_segments(tmp_path / "recordings", ZONE)

    assert segment.path.relative_to(tmp_path / CHANNEL) == Path("2024-05-01/235958-000003.ps")
    assert segment.end == datetime(2024, 5, 2, 0, 0, 3, 600_000, tzinfo=ZONE)


def test_a_recovered_segment_never_overwrites_a_file(tmp_path: Path) -> None:
    data, index = killed_recording(tmp_path)
    left = leave_on_disk(tmp_path, "2024-05-01/080000-open.ps", data, index)
    taken = left.with_name("080000-080005.ps")
    taken.write_bytes(b"an earlier recording")

    (segment,) = recover_segments(tmp_path / "recordings", ZONE)

    assert segment.path.name == "080000-080005_1.ps"
    assert index_path(segment.path).exists()
    assert taken.read_bytes() == b"an earlier recording"


def test_a_file_without_a_whole_picture_is_deleted_and_others_are_left_alone(
    tmp_path: Path,
) -> None:
    data, index = killed_recording(tmp_path)
    first = decode_index(index)[0]
    empty = leave_on_disk(tmp_path, "2024-05-01/080000-open.ps", data[: first.end - 1], index)
    finished = leave_on_disk(tmp_path, "2024-05-01/070000-071000.ps", data, index)
    orphan = leave_on_disk(tmp_path, "2024-05-01/060000-open.idx", index, None)
    legacy = leave_on_disk(tmp_path, "2024-05-01/050000-open.mp4", b"old", None)

    assert recover_segments(tmp_path / "recordings", ZONE) == []
    assert not empty.exists() and not index_path(empty).exists()
    assert not orphan.exists()
    assert finished.read_bytes() == data and index_path(finished).read_bytes() == index
    assert legacy.read_bytes() == b"old"


@pytest.mark.parametrize("records", [None, 70])
def test_a_closed_segment_reads_without_its_index_or_with_one_cut_short(
    tmp_path: Path, records: int | None
) -> None:
    (segment,) = record(tmp_path, pattern_frames(Codec.H264, 100), START,
                        length=timedelta(hours=1))  # fmt: skip
    written = index_path(segment.path).read_bytes()
    if records is None:
        index_path(segment.path).unlink()
    else:
        index_path(segment.path).write_bytes(written[: HEADER_SIZE + records * RECORD_SIZE])

    index = read_segment_index(segment.path)

    assert index.entries == decode_index(written)  # the last frame parses whole: it is kept
    assert index.was_scanned and not index.is_damaged
