"""Segment recorder: PyAV (an independent demuxer/decoder) reads back the PS segment files.

Frames are the simulator's encoded test pattern (GOP of 25 frames at 25 fps: a key frame every
second) muxed into PS, recorded as a live camera sends them: frame i arrives at the start
time + i × 40 ms. The index beside each file is read back with `decode_index`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pytest

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import VideoSize
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.sinks.segment_index import FrameFlag, IndexEntry, decode_index
from farmwatch.media.sinks.segment_recorder import RecordedSegment, SegmentRecorder
from farmwatch.media.sinks.segment_timeline import (
    PlacedFrame,
    SegmentEnded,
    SegmentStarted,
    SegmentTimeline,
)
from farmwatch.media.sinks.segment_writer import SegmentWriter, index_path
from tests.unit.media.sinks.pattern import (
    HEIGHT,
    WIDTH,
    gop_length,
    pattern_frames,
    ps_frames,
    restamped,
)

ZONE = ZoneInfo("Asia/Shanghai")
FRAME_SECONDS = 0.04


@dataclass(frozen=True, slots=True)
class Decoded:
    """What PyAV reads and decodes from one file."""

    codec: str
    size: tuple[int, int]
    frame_count: int
    """Pictures decoded."""
    end: float
    """Presentation time after the last packet (its pts + duration), seconds from the first."""
    starts_with_keyframe: bool
    duration: float
    """The container's duration, seconds."""


def decode(path: Path) -> Decoded:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [packet for packet in container.demux(stream) if packet.size]
        container.seek(0)
        pictures = list(container.decode(stream))
        base = stream.time_base
        assert base is not None
        times = [(int(packet.pts or 0), int(packet.duration or 0)) for packet in packets]
        last_pts, last_duration = max(times)
        return Decoded(
            codec=stream.codec_context.name,
            size=(pictures[0].width, pictures[0].height),
            frame_count=len(pictures),
            end=float((last_pts + last_duration - times[0][0]) * base),
            starts_with_keyframe=packets[0].is_keyframe,
            duration=(container.duration or 0) / 1_000_000,
        )


def index_of(segment: RecordedSegment) -> list[IndexEntry]:
    return decode_index(index_path(segment.path).read_bytes())


def record(
    directory: Path,
    frames: Sequence[EsFrame] | Sequence[PsFrame],
    start: datetime,
    *,
    length: timedelta,
    finish: bool = True,
) -> list[RecordedSegment]:
    """Record `frames` (muxed into PS first) as live ones: frame i arrives at `start` + i ×
    40 ms."""
    muxed = [frame for frame in frames if isinstance(frame, PsFrame)] or ps_frames(
        [frame for frame in frames if isinstance(frame, EsFrame)]
    )
    writer = SegmentWriter(directory, ZONE, segment_length=length)
    origin = start.timestamp()
    segments = []
    for index, frame in enumerate(muxed):
        segments += writer.write([(frame, origin + index * FRAME_SECONDS, True)])
    return segments + writer.finish() if finish else segments


def names(directory: Path, segments: Sequence[RecordedSegment]) -> list[str]:
    return [str(segment.path.relative_to(directory)) for segment in segments]


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's zone is neither UTC nor the recorder's."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("host_in_new_york")
def test_paths_and_times_are_in_the_configured_zone_not_the_hosts(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 9, 30, 0, tzinfo=ZONE)  # 01:30 UTC, 21:30 the day before in NY
    segments = record(tmp_path, pattern_frames(Codec.H264, 125), start, length=timedelta(seconds=2))

    assert names(tmp_path, segments) == [
        "2024-05-01/093000-093002.ps",
        "2024-05-01/093002-093004.ps",
        "2024-05-01/093004-093005.ps",
    ]
    assert [segment.start for segment in segments] == [
        start,
        start + timedelta(seconds=2),
        start + timedelta(seconds=4),
    ]
    assert all(segment.start.utcoffset() == timedelta(hours=8) for segment in segments)
    assert segments[-1].end == start + timedelta(seconds=5)  # 125 frames of 40 ms
    assert sorted(path.name for path in tmp_path.rglob("*")) == [
        "093000-093002.idx",
        "093000-093002.ps",
        "093002-093004.idx",
        "093002-093004.ps",
        "093004-093005.idx",
        "093004-093005.ps",
        "2024-05-01",
    ]


@pytest.mark.parametrize(("length", "cut_every"), [(2.5, 3), (3.0, 3), (0.5, 1)])
def test_segments_are_cut_at_the_first_keyframe_at_or_after_the_length(
    tmp_path: Path, length: float, cut_every: int
) -> None:
    assert gop_length(Codec.H264) == 25  # a key frame every second
    start = datetime(2024, 5, 1, 12, 0, 0, tzinfo=ZONE)
    frames = pattern_frames(Codec.H264, 25 * 7)
    segments = record(tmp_path, frames, start, length=timedelta(seconds=length))

    decoded = [decode(segment.path) for segment in segments]
    expected_frames = [25 * cut_every] * (7 // cut_every) + [25 * (7 % cut_every)] * bool(
        7 % cut_every
    )
    assert [item.frame_count for item in decoded] == expected_frames
    assert [segment.frame_count for segment in segments] == expected_frames
    assert all(item.starts_with_keyframe for item in decoded)
    for segment, item in zip(segments, decoded, strict=True):
        assert segment.duration == timedelta(seconds=segment.frame_count * FRAME_SECONDS)
        assert item.end == pytest.approx(segment.duration.total_seconds(), abs=0.001)
        index = index_of(segment)
        assert [entry.time for entry in index] == [i * 3600 for i in range(segment.frame_count)]
        assert [entry.is_keyframe for entry in index] == [i % 25 == 0 for i in range(len(index))]
        assert (segment.codec, segment.width, segment.height) == (Codec.H264, WIDTH, HEIGHT)
        assert item.size == (WIDTH, HEIGHT)
        assert segment.byte_count == segment.path.stat().st_size


def test_each_segment_starts_where_the_one_before_ends(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 12, 0, 0, 300_000, tzinfo=ZONE)
    segments = record(tmp_path, pattern_frames(Codec.H264, 250), start, length=timedelta(seconds=4))

    assert len(segments) == 3
    for before, after in zip(segments, segments[1:], strict=False):
        assert before.end == after.start
        # What a player sees: the end of the last picture of one file on the wall clock, and
        # the first picture of the next one.
        ended = before.start + timedelta(seconds=decode(before.path).end)
        assert abs((after.start - ended).total_seconds()) <= FRAME_SECONDS / 2
    assert sum(decode(segment.path).frame_count for segment in segments) == 250


def test_a_segment_is_cut_at_the_first_keyframe_after_midnight_in_the_zone(
    tmp_path: Path,
) -> None:
    start = datetime(2024, 5, 1, 23, 59, 57, 500_000, tzinfo=ZONE)  # key frames at .5 s
    segments = record(
        tmp_path, pattern_frames(Codec.H264, 150), start, length=timedelta(minutes=10)
    )

    assert names(tmp_path, segments) == [
        "2024-05-01/235957-000000.ps",  # ends at the key frame at 00:00:00.5
        "2024-05-02/000000-000003.ps",
    ]
    before, after = segments
    midnight = datetime(2024, 5, 2, tzinfo=ZONE)
    assert after.start == midnight + timedelta(seconds=0.5)
    assert midnight < before.end <= midnight + timedelta(seconds=1)  # within one GOP
    assert decode(after.path).starts_with_keyframe


def test_a_killed_recorder_loses_at_most_the_gop_in_progress(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    frames = pattern_frames(Codec.H264, 140)
    assert (
        record(tmp_path / "live", frames, start, length=timedelta(minutes=10), finish=False) == []
    )

    (temporary,) = (tmp_path / "live").rglob("*.ps")
    assert temporary.relative_to(tmp_path / "live") == Path("2024-05-01/080000-open.ps")
    assert index_path(temporary).exists()
    copy = tmp_path / "copy.ps"  # what is on disk the moment the process dies
    shutil.copyfile(temporary, copy)
    decoded = decode(copy)
    assert decoded.frame_count >= len(frames) - gop_length(Codec.H264) - 1
    assert decoded.starts_with_keyframe


def test_a_device_timestamp_jump_neither_breaks_the_file_nor_moves_the_time(
    tmp_path: Path,
) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    frames = pattern_frames(Codec.H264, 60)
    frames += restamped(pattern_frames(Codec.H264, 65, first=60), 7)  # restarts near 0
    frames += restamped(pattern_frames(Codec.H264, 50, first=125), 90_000 * 3600)
    (segment,) = record(tmp_path, frames, start, length=timedelta(minutes=10))

    assert decode(segment.path).frame_count == 175
    times = [entry.time for entry in index_of(segment)]
    assert times == sorted(times) and times[-1] == pytest.approx(174 * 3600, abs=2 * 3600)
    assert segment.end - segment.start == pytest.approx(
        timedelta(seconds=175 * FRAME_SECONDS), abs=timedelta(seconds=2 * FRAME_SECONDS)
    )


def test_new_parameter_sets_start_a_new_segment(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    frames = pattern_frames(Codec.H264, 50) + restamped(pattern_frames(Codec.H265, 50), 50 * 3600)
    segments = record(tmp_path, frames, start, length=timedelta(minutes=10))

    assert [(segment.codec, segment.frame_count) for segment in segments] == [
        (Codec.H264, 50),
        (Codec.H265, 50),
    ]
    assert [decode(segment.path).codec for segment in segments] == ["h264", "hevc"]
    assert segments[0].end == segments[1].start == start + timedelta(seconds=2)


def test_a_new_picture_size_starts_a_new_segment(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    smaller = pattern_frames(Codec.H264, 50, size=(160, 96))
    frames = pattern_frames(Codec.H264, 50) + restamped(smaller, 50 * 3600)
    segments = record(tmp_path, frames, start, length=timedelta(minutes=10))

    assert [(s.width, s.height, s.frame_count) for s in segments] == [
        (WIDTH, HEIGHT, 50),
        (160, 96, 50),
    ]
    assert [decode(segment.path).size for segment in segments] == [(WIDTH, HEIGHT), (160, 96)]


def test_the_file_holds_the_ps_exactly_as_received(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    frames = ps_frames(pattern_frames(Codec.H265, 60))
    (segment,) = record(tmp_path, frames, start, length=timedelta(hours=1))

    assert segment.path.read_bytes() == b"".join(frame.data for frame in frames)
    assert [(entry.offset, entry.length) for entry in index_of(segment)] == [
        (sum(len(f.data) for f in frames[:i]), len(frame.data)) for i, frame in enumerate(frames)
    ]
    decoded = decode(segment.path)
    assert (decoded.codec, decoded.size, decoded.frame_count) == ("hevc", (WIDTH, HEIGHT), 60)
    assert (segment.codec, segment.width, segment.height) == (Codec.H265, WIDTH, HEIGHT)


def test_losses_sound_and_split_frames_are_kept_flagged_and_not_counted(tmp_path: Path) -> None:
    """The bytes before and after a loss come as two frames under one timestamp; sound comes
    as frames of its own: all are written, only pictures counted and timed."""
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    frames = ps_frames(pattern_frames(Codec.H264, 50))
    cut = frames[30]
    half = len(cut.data) // 2
    sound = PsFrame(b"\x00\x00\x01\xba" + bytes(10) + b"\x00\x00\x01\xc0\x00\x02ab", 1, False)
    fed = [
        *frames[:30],
        PsFrame(cut.data[:half], cut.timestamp, is_keyframe=False, is_complete=False),
        PsFrame(cut.data[half:], cut.timestamp, is_keyframe=False, after_loss=True),
        sound,
        *frames[31:],
    ]
    (segment,) = record(tmp_path, fed, start, length=timedelta(hours=1))

    assert segment.frame_count == 50
    index = index_of(segment)
    assert len(index) == 52
    assert [entry.flags for entry in index[30:33]] == [
        FrameFlag.INCOMPLETE,
        FrameFlag.AFTER_LOSS | FrameFlag.NO_PICTURE,
        FrameFlag.NO_PICTURE,
    ]
    assert [entry.time for entry in index[29:34]] == [29 * 3600, *[30 * 3600] * 3, 31 * 3600]
    assert segment.path.read_bytes() == b"".join(frame.data for frame in fed)


def posix(moment: datetime) -> float:
    return moment.timestamp()


def test_the_first_start_is_read_from_the_first_live_frame() -> None:
    """A new sink gets the stream's last GOP at once (captured up to a GOP ago)."""
    timeline = SegmentTimeline(ZONE, segment_length=timedelta(minutes=1))
    frames = ps_frames(pattern_frames(Codec.H264, 30))
    arrived = datetime(2024, 5, 1, 8, 0, 10, tzinfo=ZONE)
    outputs = [o for f in frames[:19] for o in timeline.feed(f, posix(arrived), is_live=False)]
    assert outputs == []  # held until a frame shows when frames arrive
    outputs = timeline.feed(frames[19], posix(arrived), is_live=True)

    assert outputs[0] == SegmentStarted(
        arrived - timedelta(seconds=19 * FRAME_SECONDS), Codec.H264, VideoSize(WIDTH, HEIGHT)
    )
    released = [output for output in outputs[1:] if isinstance(output, PlacedFrame)]
    assert len(released) == len(outputs) - 1 == 20
    assert released[0].frame.is_keyframe and released[0].time == 0
    assert [placed.time for placed in released] == [index * 3600 for index in range(20)]


def test_a_drifting_clock_starts_the_next_segment_at_the_wall_clocks_time() -> None:
    timeline = SegmentTimeline(ZONE, segment_length=timedelta(minutes=10), resync_threshold=2.0)
    start = datetime(2024, 5, 1, 8, 0, 0, tzinfo=ZONE)
    frames = ps_frames(pattern_frames(Codec.H264, 100))
    boundaries = []
    for index, frame in enumerate(frames):
        stall = 5.0 if index >= 40 else 0.0  # the device stalled 5 s; its timestamps did not
        now = posix(start) + index * FRAME_SECONDS + stall
        boundaries += [
            output
            for output in timeline.feed(frame, now)
            if isinstance(output, SegmentStarted | SegmentEnded)
        ]

    size = VideoSize(WIDTH, HEIGHT)
    assert boundaries == [
        SegmentStarted(start, Codec.H264, size),
        # At the first key frame after a whole GOP of late frames (the least offset of a GOP
        # counts: arrival jitter is not drift), the next segment starts 5 s later.
        SegmentEnded(start + timedelta(seconds=3)),
        SegmentStarted(start + timedelta(seconds=8), Codec.H264, size),
    ]
    assert timeline.resyncs == 1


class LiveCamera:
    """Offers frames as they arrive from a camera and is the recorder's wall clock.

    The clock reads the arrival time of the latest frame offered (frame i arrives at the
    start + i × 40 ms); the recorder reads it as it takes what is queued (it takes a GOP at a
    time), so the camera can wait for the recorder to take the frames up to a key frame
    before sending more.
    """

    def __init__(self, start: datetime) -> None:
        self._start = start.timestamp()
        self._latest = 0
        self._took = asyncio.Event()

    def __call__(self) -> float:
        self._took.set()
        return self._start + self._latest * FRAME_SECONDS

    async def send(self, sink: SegmentRecorder, frames: Sequence[PsFrame], first: int) -> None:
        """Offer frames `first`.. at once; with a key frame among them, wait until the sink
        took them all."""
        for frame in frames:
            sink.offer_ps(frame)
        self._latest = first + len(frames) - 1
        if not any(frame.is_keyframe for frame in frames):
            return
        async with asyncio.timeout(10):
            while sink.queued_frames:
                self._took.clear()
                await self._took.wait()


async def test_the_recorder_sink_records_a_live_stream_and_reports_each_segment(
    tmp_path: Path,
) -> None:
    start = datetime(2024, 5, 1, 8, 0, 30, tzinfo=ZONE)
    camera = LiveCamera(start)
    reported: list[RecordedSegment] = []
    recorder = SegmentRecorder(
        tmp_path,
        zone=ZONE,
        on_segment=reported.append,
        segment_length=timedelta(seconds=2),
        wall_clock=camera,
        name="test",
    )
    await recorder.start()
    frames = ps_frames(pattern_frames(Codec.H264, 200))
    # The stream hands a new sink the frames since its last key frame at once (they were
    # captured up to a GOP ago), then the frames come one by one as they arrive.
    await camera.send(recorder, frames[:20], 0)
    for index in range(20, len(frames)):
        await camera.send(recorder, frames[index : index + 1], index)
    async with asyncio.timeout(30):
        await recorder.close()  # writes what is queued and closes the open segment

    assert [segment.start for segment in reported] == [
        start + timedelta(seconds=seconds) for seconds in (0, 2, 4, 6)
    ]
    assert reported[-1].end == start + timedelta(seconds=8)
    assert sum(decode(segment.path).frame_count for segment in reported) == 200
    assert (recorder.frames_lost, recorder.segments_recorded, recorder.is_closed) == (0, 4, True)
    assert not list(tmp_path.rglob("*-open.*"))


async def test_a_recorder_that_falls_a_whole_queue_behind_logs_and_counts_the_loss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reported: list[RecordedSegment] = []
    recorder = SegmentRecorder(
        tmp_path, zone=ZONE, on_segment=reported.append, max_frames=30, name="slow"
    )
    await recorder.start()
    with caplog.at_level(logging.ERROR):
        for frame in ps_frames(pattern_frames(Codec.H264, 100)):  # faster than it writes
            recorder.offer_ps(frame)
    async with asyncio.timeout(30):
        await recorder.close()

    recorded = sum(decode(segment.path).frame_count for segment in reported)
    assert recorder.frames_lost > 0
    assert recorded + recorder.frames_lost == 100
    assert "fell a whole queue behind" in caplog.text
