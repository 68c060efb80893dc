"""PlaybackClock: output timestamps at a scale (MANSRTSP Scale), pure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.media.playback_clock import MAX_SCALE, MIN_SCALE, PlaybackClock, check_scale

STEP = 3600  # one frame at 25 fps
WRAP = 1 << 33


def run(clock: PlaybackClock, sources: list[int]) -> list[int]:
    """Output DTS of video frames with these source timestamps (PTS = DTS)."""
    return [clock.stamp(source, source)[1] for source in sources]


def steps(values: list[int]) -> list[int]:
    return [b - a for a, b in zip(values, values[1:], strict=False)]


def test_not_engaged_passes_timestamps_through_untouched() -> None:
    clock = PlaybackClock()
    assert not clock.is_engaged and clock.scale == 1.0
    assert clock.stamp(1000, 1000) == (1000, 1000)
    assert clock.stamp(7000, 4600) == (7000, 4600)
    assert clock.stamp(100, 8200) == (100, 8200)  # even a PTS before its DTS
    assert clock.place_audio(12_345) == 12_345


def test_at_4x_the_output_advances_a_quarter_step_and_is_continuous_at_the_change() -> None:
    clock = PlaybackClock()
    before = run(clock, [10_000 + n * STEP for n in range(5)])
    assert before == [10_000 + n * STEP for n in range(5)]
    clock.set_scale(4)
    # The device now sends 4x faster; its timestamps still step by one frame each.
    after = run(clock, [10_000 + n * STEP for n in range(5, 15)])
    assert after[0] == before[-1] + STEP // 4  # no gap, no step back at the change
    assert steps(after) == [STEP // 4] * 9
    clock.set_scale(1)
    again = run(clock, [10_000 + n * STEP for n in range(15, 20)])
    assert again[0] == after[-1] + STEP and steps(again) == [STEP] * 4


def test_slow_motion_stretches_the_steps() -> None:
    clock = PlaybackClock()
    clock.set_scale(0.5)
    out = run(clock, [n * STEP for n in range(6)])
    assert steps(out) == [2 * STEP] * 5


def test_reverse_playback_rises_by_the_scaled_step() -> None:
    clock = PlaybackClock()
    forward = run(clock, [900_000 + n * STEP for n in range(5)])
    clock.set_scale(-2)
    # Reverse: the device restarts a little earlier (its last keyframe) and goes back.
    back = run(clock, [900_000 + 2 * STEP - n * STEP for n in range(8)])
    assert back[0] == forward[-1] + STEP // 2
    assert steps(back) == [STEP // 2] * 7


def test_set_scale_before_the_first_frame_keeps_the_source_origin() -> None:
    clock = PlaybackClock()
    clock.set_scale(8)
    assert run(clock, [5000, 5000 + STEP, 5000 + 2 * STEP]) == [5000, 5450, 5900]


def test_the_same_scale_again_does_not_re_anchor() -> None:
    clock = PlaybackClock()
    clock.set_scale(3)
    first = run(clock, [0, 3000, 6000])
    clock.set_scale(3.0)
    assert run(clock, [9000, 12000]) == [first[-1] + 1000, first[-1] + 2000]


def test_steps_across_the_33_bit_wrap_go_on_smoothly() -> None:
    clock = PlaybackClock()
    clock.set_scale(4)
    raw = [(WRAP - 2 * STEP + n * STEP) % WRAP for n in range(5)]  # wraps after two frames
    assert raw[2] == 0
    out = run(clock, raw)
    assert steps(out) == [STEP // 4] * 4


def test_a_source_jump_is_scaled_and_left_to_the_sinks() -> None:
    clock = PlaybackClock()
    clock.set_scale(2)
    out = run(clock, [0, STEP, 10 * 90_000, 10 * 90_000 + STEP])
    assert steps(out) == [STEP // 2, (10 * 90_000 - STEP) // 2, STEP // 2]
    assert clock.frame_interval == STEP  # the jump is no frame interval


def test_the_composition_offset_is_kept_and_scaled() -> None:
    clock = PlaybackClock()
    clock.set_scale(2)
    assert clock.stamp(2 * STEP, 0) == (STEP, 0)
    assert clock.stamp(STEP, STEP) == (STEP // 2, STEP // 2)
    assert clock.stamp(STEP, 2 * STEP) == (STEP, STEP)  # PTS before DTS: clamped at 0


def test_audio_is_dropped_off_1x_and_follows_the_videos_offset_at_1x() -> None:
    clock = PlaybackClock()
    run(clock, [0, STEP])
    clock.set_scale(4)
    run(clock, [2 * STEP, 3 * STEP, 4 * STEP])  # outputs 4500, 5400, 6300
    assert clock.place_audio(4 * STEP + 100) is None
    clock.set_scale(1)
    assert clock.place_audio(4 * STEP + 200) is None  # not anchored at 1x yet
    assert run(clock, [5 * STEP]) == [6300 + STEP]
    assert clock.place_audio(5 * STEP + 720) == 6300 + STEP + 720


@pytest.mark.parametrize("scale", [0, -0.0, math.nan, math.inf, -math.inf, 65, -100, 1 / 128])
def test_unplayable_scales_are_refused(scale: float) -> None:
    clock = PlaybackClock()
    with pytest.raises(ValueError, match="scale"):
        clock.set_scale(scale)
    assert not clock.is_engaged


def test_the_limits_are_playable() -> None:
    assert [check_scale(s) for s in (MIN_SCALE, -MAX_SCALE, 4)] == [MIN_SCALE, -MAX_SCALE, 4.0]


# ---- properties ----

SCALES = st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, -1.0, -2.0, -4.0, -0.5])
SEGMENT = st.tuples(SCALES, st.integers(2, 30), st.integers(64, 2 * 90_000))


@given(
    start=st.integers(0, WRAP - 21 * STEP),
    first=st.integers(1, 20),
    segments=st.lists(SEGMENT, min_size=1, max_size=6),
)
def test_output_rises_at_one_over_scale_between_changes(
    start: int, first: int, segments: list[tuple[float, int, int]]
) -> None:
    """Whatever the scale changes, the output rises; between changes it moves by exactly the
    source distance / scale (rounded once, not per frame); at a change by one frame
    interval / |scale|. Raw 33-bit source timestamps, wrapping where they wrap."""
    clock = PlaybackClock()
    out = run(clock, [start + n * STEP for n in range(first)])
    source = start + (first - 1) * STEP
    previous: float | None = None
    for scale, count, step in segments:
        if scale == previous:
            continue  # the same scale again is no change (tested above)
        previous = scale
        interval = clock.frame_interval
        clock.set_scale(scale)
        direction = 1 if scale > 0 else -1
        sources = [source + direction * step * (n + 1) for n in range(count)]
        segment = run(clock, [value % WRAP for value in sources])
        assert segment[0] - out[-1] == max(1, round(interval / abs(scale)))
        for value, produced in zip(sources[1:], segment[1:], strict=True):
            assert produced == segment[0] + round((value - sources[0]) / scale)
        out += segment
        source = sources[-1]
    assert all(b > a for a, b in zip(out, out[1:], strict=False))
