"""The output clock: whatever the device's timestamps do, outputs get increasing, paced ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from farmwatch.media.output_clock import OutputClock

FRAME = 3600  # 25 fps at 90 kHz


def stamp_all(clock: OutputClock, dts_values: list[int]) -> list[int]:
    return [clock.stamp(dts, dts)[1] for dts in dts_values]


def steps(values: list[int]) -> list[int]:
    return [later - earlier for earlier, later in zip(values, values[1:], strict=False)]


def test_a_regular_source_passes_through_from_zero() -> None:
    clock = OutputClock()
    source = [900_000 + n * FRAME for n in range(10)]
    assert stamp_all(clock, source) == [n * FRAME for n in range(10)]
    assert clock.jumps == 0


def test_jitter_and_short_gaps_pass_through() -> None:
    clock = OutputClock()
    source = [0, 3500, 7300, 10_800, 10_800 + 90_000, 10_800 + 93_600]  # a 1 s loss
    assert stamp_all(clock, source) == source
    assert clock.jumps == 0


def test_a_device_restarting_its_file_at_zero_goes_on_one_frame_later() -> None:
    clock = OutputClock()
    first_pass = [n * FRAME for n in range(50)]
    output = stamp_all(clock, first_pass + first_pass + first_pass)
    assert steps(output) == [FRAME] * 149
    assert clock.jumps == 2


def test_a_forward_jump_beyond_max_step_is_closed_up() -> None:
    clock = OutputClock(max_step=90_000)
    source = [0, 3000, 6000, 6000 + 3600 * 90_000, 9000 + 3600 * 90_000]
    assert stamp_all(clock, source) == [0, 3000, 6000, 9000, 12_000]
    assert clock.jumps == 1


def test_a_jump_is_paced_by_the_source_frame_rate() -> None:
    clock = OutputClock()
    source = [n * 9000 for n in range(20)] + [0, 9000]  # 10 fps, then restarted at 0
    assert steps(stamp_all(clock, source)) == [9000] * 21


def test_repeated_and_reordered_timestamps_stay_increasing_without_drifting() -> None:
    # B-frames stamped with their PTS because the device left DTS out: I P B B P B B ...
    clock = OutputClock()
    source = [0, 3 * FRAME, FRAME, 2 * FRAME, 6 * FRAME, 4 * FRAME, 5 * FRAME, 9 * FRAME]
    output = stamp_all(clock, source)
    assert all(step > 0 for step in steps(output))
    assert output[-1] == 9 * FRAME  # in step with the source: no tick given twice
    assert clock.reordered == 4 and clock.jumps == 0
    assert stamp_all(clock, [9 * FRAME]) == [9 * FRAME + 1]  # a repeated timestamp


def test_raw_33_bit_timestamps_wrap_smoothly() -> None:
    clock = OutputClock()
    source = [((1 << 33) - 2 * FRAME + n * FRAME) % (1 << 33) for n in range(5)]
    assert stamp_all(clock, source) == [n * FRAME for n in range(5)]
    assert clock.jumps == 0


def test_pts_keeps_its_composition_offset_clamped() -> None:
    clock = OutputClock(max_step=90_000)
    assert clock.stamp(1000 + 2 * FRAME, 1000) == (2 * FRAME, 0)
    assert clock.stamp(1000, 1000 + FRAME) == (FRAME, FRAME)  # PTS before DTS: not below it
    assert clock.stamp(10**9, 1000 + 2 * FRAME) == (2 * FRAME + 90_000, 2 * FRAME)


@given(st.lists(st.integers(min_value=0, max_value=(1 << 40)), min_size=1, max_size=200))
def test_any_source_gives_strictly_increasing_output(source: list[int]) -> None:
    clock = OutputClock()
    output = stamp_all(clock, source)
    assert output[0] == 0
    assert all(0 < step <= 2 * 90_000 for step in steps(output))
