"""Recording reader: the frames it yields from PS segments (and legacy MP4 ones) decode (PyAV,
from Annex-B), start at the key frame at or before the time asked and keep one timeline
across segments."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.recording_feed import RecordingFile
from farmwatch.media.recording_reader import RecordingReader
from farmwatch.media.sinks.mp4_file import Mp4FileWriter
from farmwatch.media.sinks.segment_index import HEADER_SIZE, RECORD_SIZE
from farmwatch.media.sinks.segment_recorder import RecordedSegment
from farmwatch.media.sinks.segment_writer import index_path
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames
from tests.unit.media.sinks.test_segment_recorder import FRAME_SECONDS, ZONE, record

START = datetime(2024, 5, 1, 8, 0, 0, 300_000, tzinfo=ZONE)
FRAME_TICKS = 3600
GOP = timedelta(seconds=1)


def recorded(tmp_path: Path, codec: Codec = Codec.H264) -> list[RecordedSegment]:
    """10 s at 25 fps (a key frame every second) in segments of 4 s: [0, 4), [4, 8), [8, 10)."""
    segments = record(tmp_path, pattern_frames(codec, 250), START, length=timedelta(seconds=4))
    assert [segment.start - START for segment in segments] == [
        timedelta(seconds=seconds) for seconds in (0, 4, 8)
    ]
    return segments


def decode_annex_b(codec: Codec, frames: list[EsFrame]) -> list[tuple[int, int]]:
    """Sizes of the pictures a decoder makes of the frames' bytes, as a raw bitstream."""
    context = av.CodecContext.create("h264" if codec is Codec.H264 else "hevc", "r")
    pictures = [picture for frame in frames for picture in context.decode(av.Packet(frame.data))]
    pictures += context.decode(None)
    return [(picture.width, picture.height) for picture in pictures]


@pytest.mark.parametrize("seconds", [-3.0, 0.0, 1.7, 3.99, 4.0, 5.5, 9.9])
def test_reading_starts_at_the_key_frame_at_or_before_the_start(
    tmp_path: Path, seconds: float
) -> None:
    reader = RecordingReader(recorded(tmp_path), START + timedelta(seconds=seconds))
    first = reader.read(1)[0]

    assert first.is_keyframe and (first.pts, first.dts) == (0, 0)
    began = reader.wall_time(first)
    asked = START + timedelta(seconds=max(seconds, 0))
    assert began <= asked < began + GOP


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_timestamps_run_on_across_segments_and_the_frames_decode(
    tmp_path: Path, codec: Codec
) -> None:
    segments = recorded(tmp_path, codec)
    reader = RecordingReader(segments, START + timedelta(seconds=2.5))
    frames = reader.read(1000)

    assert len(frames) == 250 - 50  # from the key frame at 2 s to the end
    assert [frame.dts for frame in frames] == [index * FRAME_TICKS for index in range(200)]
    assert all(frame.pts == frame.dts and frame.codec is codec for frame in frames)
    assert [index for index, frame in enumerate(frames) if frame.is_keyframe] == list(
        range(0, 200, 25)
    )
    assert decode_annex_b(codec, frames) == [(WIDTH, HEIGHT)] * 200
    assert reader.read(10) == []
    crossing = frames[50]  # the first frame of the second segment
    assert reader.wall_time(crossing) == segments[1].start
    assert reader.wall_time(frames[-1]) == START + timedelta(seconds=249 * FRAME_SECONDS)


def test_a_hole_between_segments_is_a_step_of_its_length(tmp_path: Path) -> None:
    first, _, last = recorded(tmp_path)  # the middle segment is gone (retention, a fault)
    reader = RecordingReader([first, last], START + timedelta(seconds=3.5))
    frames = reader.read(1000)

    assert len(frames) == 25 + 50
    steps = {later.dts - earlier.dts for earlier, later in zip(frames, frames[1:], strict=False)}
    assert steps == {FRAME_TICKS, FRAME_TICKS + 4 * 90_000}
    assert reader.wall_time(frames[25]) == last.start


def test_a_start_in_a_hole_begins_with_the_next_segment(tmp_path: Path) -> None:
    first, _, last = recorded(tmp_path)
    reader = RecordingReader([first, last], START + timedelta(seconds=5))
    frames = reader.read(1000)

    assert len(frames) == 50
    assert frames[0].is_keyframe and reader.wall_time(frames[0]) == last.start


def test_a_segment_that_cannot_be_read_is_skipped(tmp_path: Path) -> None:
    first, middle, last = recorded(tmp_path)
    middle.path.unlink()
    reader = RecordingReader([first, middle, last], START)

    assert len(reader.read(1000)) == 100 + 50
    assert reader.files_skipped == 1


def test_a_segment_damaged_midway_gives_what_it_holds_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    first, middle, last = recorded(tmp_path)
    with middle.path.open("r+b") as file:
        file.truncate(middle.path.stat().st_size // 2)
    reader = RecordingReader([first, middle, last], START)
    frames = reader.read(1000)

    assert 100 + 25 <= len(frames) < 100 + 100 + 50
    assert (reader.files_skipped, reader.files_damaged) == (0, 1)
    assert reader.wall_time(frames[-50]) == last.start
    assert decode_annex_b(Codec.H264, frames[-50:]) == [(WIDTH, HEIGHT)] * 50


def test_a_segment_without_its_index_is_read_from_its_ps(tmp_path: Path) -> None:
    segments = recorded(tmp_path)
    index_path(segments[1].path).unlink()
    cut = index_path(segments[2].path)
    cut.write_bytes(cut.read_bytes()[: HEADER_SIZE + 10 * RECORD_SIZE])
    reader = RecordingReader(segments, START + timedelta(seconds=4.5))
    frames = reader.read(1000)

    assert len(frames) == 150 and frames[0].is_keyframe
    assert [frame.dts for frame in frames] == [index * FRAME_TICKS for index in range(150)]
    assert reader.wall_time(frames[0]) == segments[1].start
    assert reader.wall_time(frames[100]) == segments[2].start


def test_a_legacy_mp4_segment_still_plays_beside_ps_ones(tmp_path: Path) -> None:
    """Segments recorded before they were kept as PS are MP4 files: read with PyAV."""
    legacy = tmp_path / "2024-05-01" / "075956-080000.mp4"
    legacy.parent.mkdir(parents=True)
    writer = Mp4FileWriter(legacy)
    for frame in pattern_frames(Codec.H264, 100):
        writer.write(frame)
    writer.close()
    parts = [RecordingFile(legacy, START - timedelta(seconds=4)), *recorded(tmp_path)]
    reader = RecordingReader(parts, START - timedelta(seconds=2.5))
    frames = reader.read(1000)

    assert len(frames) == 75 + 250
    assert [frame.dts for frame in frames] == [index * FRAME_TICKS for index in range(325)]
    assert reader.wall_time(frames[75]) == START
    assert decode_annex_b(Codec.H264, frames) == [(WIDTH, HEIGHT)] * 325
