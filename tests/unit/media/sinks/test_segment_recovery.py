"""Crash recovery: a temporary segment cut short where a killed process left it is repaired,
renamed and decodes in PyAV."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from farmwatch.media.frames import Codec
from farmwatch.media.sinks.segment_recovery import recover_segments
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames
from tests.unit.media.sinks.test_segment_recorder import ZONE, decode, record

CHANNEL = Path("recordings/farm-7/34020000001320000001")


def box_spans(data: bytes) -> list[tuple[str, int, int]]:
    """(type, start, end) of the top-level boxes of a whole file."""
    spans, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        spans.append((data[offset + 4 : offset + 8].decode(), offset, offset + size))
        offset += size
    return spans


def killed_recording(tmp_path: Path, start: datetime, codec: Codec = Codec.H264) -> bytes:
    """The temporary file of a recorder fed 140 frames (5.6 s: five whole GOPs written)."""
    record(tmp_path / "live", pattern_frames(codec, 140), start, length=timedelta(minutes=10),
           finish=False)  # fmt: skip
    (temporary,) = (tmp_path / "live").rglob("*-open.mp4")
    data = temporary.read_bytes()
    assert [name for name, _, _ in box_spans(data)] == ["ftyp", "moov"] + ["moof", "mdat"] * 5
    return data


def leave_on_disk(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / CHANNEL / name
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def last_fragment_cut(data: bytes, where: str) -> int:
    """A byte offset inside the last fragment: in its moof, in its mdat, or after it."""
    *_, (_, moof_start, moof_end), (_, _, mdat_end) = box_spans(data)
    return {"moof": moof_start + 13, "mdat": (moof_end + mdat_end) // 2, "none": mdat_end}[where]


@pytest.mark.parametrize(("cut_in", "frames"), [("moof", 100), ("mdat", 100), ("none", 125)])
@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_a_segment_cut_short_is_repaired_renamed_and_decodes(
    tmp_path: Path, cut_in: str, frames: int, codec: Codec
) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    data = killed_recording(tmp_path, start, codec)
    left = leave_on_disk(
        tmp_path, "2024-05-01/080000-open.mp4", data[: last_fragment_cut(data, cut_in)]
    )

    (segment,) = recover_segments(tmp_path / "recordings", ZONE)

    seconds = frames // 25
    assert segment.path == left.with_name(f"080000-08000{seconds}.mp4")
    assert not left.exists()
    assert (segment.start, segment.end) == (start, start + timedelta(seconds=seconds))
    assert (segment.frame_count, segment.codec, segment.width, segment.height) == (
        frames, codec, WIDTH, HEIGHT
    )  # fmt: skip
    assert segment.byte_count == segment.path.stat().st_size
    decoded = decode(segment.path)
    assert decoded.frame_count == frames
    assert decoded.duration == pytest.approx(seconds, abs=0.001)
    assert decoded.starts_with_keyframe


def test_the_end_name_is_read_in_the_zone_across_midnight(tmp_path: Path) -> None:
    data = killed_recording(tmp_path, datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE))  # 5 s on disk
    leave_on_disk(tmp_path, "2024-05-01/235958-open.mp4", data)  # as if it began at 23:59:58

    (segment,) = recover_segments(tmp_path / "recordings", ZONE)

    assert segment.path.relative_to(tmp_path / CHANNEL) == Path("2024-05-01/235958-000003.mp4")
    assert segment.end == datetime(2024, 5, 2, 0, 0, 3, tzinfo=ZONE)


def test_a_recovered_segment_never_overwrites_a_file(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    data = killed_recording(tmp_path, start)
    left = leave_on_disk(tmp_path, "2024-05-01/080000-open.mp4", data)
    taken = left.with_name("080000-080005.mp4")
    taken.write_bytes(b"an earlier recording")

    (segment,) = recover_segments(tmp_path / "recordings", ZONE)

    assert segment.path.name == "080000-080005_1.mp4"
    assert taken.read_bytes() == b"an earlier recording"


def test_a_file_without_one_whole_fragment_is_deleted_and_others_are_left_alone(
    tmp_path: Path,
) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    data = killed_recording(tmp_path, start)
    (_, _, first_fragment_end), *_ = box_spans(data)[3:]
    empty = leave_on_disk(tmp_path, "2024-05-01/080000-open.mp4", data[: first_fragment_end - 1])
    finished = empty.with_name("070000-071000.mp4")
    finished.write_bytes(data)

    assert recover_segments(tmp_path / "recordings", ZONE) == []
    assert not empty.exists()
    assert finished.read_bytes() == data
