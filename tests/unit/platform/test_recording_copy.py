"""Downloads and evidence clips from platform recordings: a range of PS segments remuxed into
one MP4 file that PyAV opens with the range's frames and duration, the same bytes (and so the
same SHA-256) every time it is made."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from farmwatch.media.frames import Codec
from farmwatch.platform.recordings.recording_copy import SegmentFile, copy_recording
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames
from tests.unit.media.sinks.test_segment_recorder import ZONE, record

START = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)


def parts_of(directory: Path, codec: Codec) -> list[SegmentFile]:
    """10 s at 25 fps (a key frame every second) in PS segments of 4 s."""
    segments = record(directory, pattern_frames(codec, 250), START, length=timedelta(seconds=4))
    return [SegmentFile(segment.path, segment.start) for segment in segments]


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_a_range_across_segments_becomes_one_mp4_of_its_frames(
    tmp_path: Path, codec: Codec
) -> None:
    parts = parts_of(tmp_path / "recordings", codec)
    heard: list[float] = []
    first, second = tmp_path / "first.mp4", tmp_path / "second.mp4"

    info = copy_recording(parts, START + timedelta(seconds=2.5), START + timedelta(seconds=7),
                          first, heard.append)  # fmt: skip
    again = copy_recording(parts, START + timedelta(seconds=2.5), START + timedelta(seconds=7),
                           second)  # fmt: skip

    assert info is not None and again is not None
    # From the key frame at 2 s up to the last frame at or before 7 s.
    assert (info.frame_count, info.codec, info.width, info.height) == (126, codec, WIDTH, HEIGHT)
    assert info.duration == timedelta(seconds=126 / 25)
    with av.open(str(first)) as container:
        stream = container.streams.video[0]
        assert sum(len(packet.decode()) for packet in container.demux(stream)) == 126
        assert container.duration == pytest.approx(126 / 25 * 1_000_000, rel=0.01)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(second.read_bytes()).hexdigest()
    assert heard and heard == sorted(heard) and 0 < heard[-1] <= 4.5  # recorded seconds copied


def test_a_range_with_nothing_recorded_makes_no_file(tmp_path: Path) -> None:
    parts = parts_of(tmp_path / "recordings", Codec.H264)
    target = tmp_path / "none.mp4"

    assert copy_recording(parts, START + timedelta(minutes=5), START + timedelta(minutes=6),
                          target) is None  # fmt: skip
    assert not target.exists()
