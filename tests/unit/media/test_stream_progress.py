"""Stream progress: frames and source timestamps (unwrapped) of a playback, in virtual time."""

from __future__ import annotations

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream
from farmwatch.media.stream_progress import ProgressMeter, StreamProgress

STEP = 3600
WRAP = 1 << 33


def test_nothing_yet() -> None:
    progress = ProgressMeter().progress(5.0, is_paused=False, scale=1.0)
    assert progress == StreamProgress(0, 0, None, None, None, None, False, 1.0)
    assert progress.media_seconds == 0.0


def test_timestamps_are_unwrapped_across_the_33_bit_wrap() -> None:
    meter = ProgressMeter()
    first = WRAP - 3 * STEP
    for number in range(10):
        meter.video_frame((first + number * STEP) % WRAP, number % 5 == 0, 100.0 + number * 0.04)
    progress = meter.progress(101.0, is_paused=True, scale=4.0)
    assert progress.first_pts == first
    assert progress.latest_pts == first + 9 * STEP > WRAP  # not the raw 6 * STEP
    assert progress.latest_keyframe_pts == first + 5 * STEP
    assert (progress.video_frames, progress.keyframes) == (10, 2)
    assert progress.media_seconds == 9 * STEP / 90_000
    assert progress.seconds_since_last_frame is not None
    assert abs(progress.seconds_since_last_frame - (101.0 - 100.36)) < 1e-9
    assert progress.is_paused and progress.scale == 4.0


def test_already_unwrapped_and_restarted_timestamps_read_the_same() -> None:
    """A replaced demuxer (re-lock, a woken stream) starts again from the raw value: the
    meter reads every PTS modulo 2^33, so its count goes on."""
    meter = ProgressMeter()
    meter.video_frame(WRAP - STEP, True, 0.0)
    meter.video_frame(WRAP, False, 0.04)  # unwrapped by the first demuxer
    meter.video_frame(STEP, False, 0.08)  # raw from a new demuxer
    assert meter.progress(0.1, is_paused=False, scale=1.0).latest_pts == WRAP + STEP


def test_reverse_playback_progress_falls() -> None:
    meter = ProgressMeter()
    for number in range(5):
        meter.video_frame(900_000 - number * STEP, True, float(number))
    progress = meter.progress(4.0, is_paused=False, scale=-2.0)
    assert progress.latest_pts == 900_000 - 4 * STEP
    assert progress.media_seconds == -4 * STEP / 90_000


async def test_a_stream_reports_source_progress_across_a_wrap_while_scaled() -> None:
    stream = Stream("pb-1", MediaSettings())
    stream.set_scale(4)
    first = WRAP - 2 * STEP
    for number in range(6):
        raw = (first + number * STEP) % WRAP
        stream.receiver_frame(EsFrame(Codec.H264, b"\x00\x00\x00\x01\x65", raw, raw, True, 0xE0))
        stream.receiver_frame(EsFrame(Codec.G711A, b"\xd5" * 160, raw, raw, False, 0xC0))
    stream.set_paused(True)
    progress = stream.progress()
    # Source time, as recorded (not the rescaled output), audio not counted.
    assert (progress.first_pts, progress.latest_pts) == (first, first + 5 * STEP)
    assert progress.video_frames == progress.keyframes == 6
    assert progress.is_paused and progress.scale == 4.0
    assert progress.seconds_since_last_frame is not None
    assert 0.0 <= progress.seconds_since_last_frame < 5.0
    stream.close()
