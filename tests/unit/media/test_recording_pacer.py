"""Recording pacer: due times of recorded frames in virtual time (no clock, no sleep)."""

from __future__ import annotations

import pytest

from farmwatch.media.recording_pacer import RecordingPacer

TICKS = 3600  # 25 fps at 90 kHz
STEP = 0.04


def play(pacer: RecordingPacer, dts_values: list[int], now: float) -> list[float]:
    """Send each frame at its due time (a loop with no lag); the due times."""
    times = []
    for dts in dts_values:
        due = pacer.due_at(dts, now)
        assert due is not None
        now = max(now, due)
        pacer.sent(dts, due)
        times.append(due)
    return times


def running(now: float = 100.0) -> RecordingPacer:
    pacer = RecordingPacer()
    pacer.set_running(True)
    pacer.sent(0, now)  # the first frame of a reading position goes out at once
    return pacer


def test_frames_are_due_in_real_time_by_their_dts() -> None:
    pacer = running()
    times = play(pacer, [n * TICKS for n in range(1, 6)], 100.0)

    assert times == pytest.approx([100.0 + n * STEP for n in range(1, 6)])


def test_asking_again_gives_the_same_due_time() -> None:
    pacer = running()

    assert pacer.due_at(TICKS, 100.01) == pacer.due_at(TICKS, 100.03) == pytest.approx(100.04)


@pytest.mark.parametrize("scale", [4.0, 0.5, 64.0])
def test_a_scale_divides_the_intervals_from_the_change_on(scale: float) -> None:
    pacer = running()
    play(pacer, [TICKS, 2 * TICKS], 100.0)  # at 100.04, 100.08
    pacer.set_scale(scale)
    times = play(pacer, [n * TICKS for n in range(3, 7)], 100.08)

    assert times == pytest.approx([100.08 + k * STEP / scale for k in range(1, 5)])


@pytest.mark.parametrize("scale", [0.0, -1.0, -4.0, float("nan"), float("inf")])
def test_only_forward_scales_are_paced(scale: float) -> None:
    with pytest.raises(ValueError, match="forward"):
        RecordingPacer().set_scale(scale)


def test_nothing_is_due_while_not_running_and_resuming_goes_on_from_now() -> None:
    pacer = running()
    play(pacer, [TICKS], 100.0)
    pacer.set_running(False)

    assert pacer.due_at(2 * TICKS, 100.08) is None
    assert pacer.due_at(2 * TICKS, 500.0) is None

    pacer.set_running(True)
    times = play(pacer, [2 * TICKS, 3 * TICKS, 4 * TICKS], 600.0)

    assert times == pytest.approx([600.0, 600.04, 600.08])  # no burst for the pause


def test_a_short_pause_keeps_the_frame_interval() -> None:
    pacer = running()
    play(pacer, [TICKS], 100.0)  # sent at 100.04
    pacer.set_running(False)
    pacer.set_running(True)

    assert pacer.due_at(2 * TICKS, 100.05) == pytest.approx(100.08)


def test_a_hole_between_segments_is_played_as_one_frame_interval() -> None:
    pacer = running()
    hole = 3600 * 90_000  # an hour not recorded
    times = play(pacer, [TICKS, 2 * TICKS, hole + 2 * TICKS, hole + 3 * TICKS], 100.0)

    assert times == pytest.approx([100.04, 100.08, 100.12, 100.16])
    assert pacer.holes_skipped == 1


def test_a_frame_far_behind_is_re_anchored_not_burst() -> None:
    pacer = running()
    play(pacer, [TICKS], 100.0)
    # The reading thread stalled for 3 s: the next frames go on from now, 40 ms apart.
    times = play(pacer, [2 * TICKS, 3 * TICKS, 4 * TICKS], 103.0)

    assert times == pytest.approx([103.0, 103.04, 103.08])
    assert pacer.catch_ups == 1


def test_a_little_late_frame_is_sent_at_once_and_keeps_the_timeline() -> None:
    pacer = running()
    due = pacer.due_at(TICKS, 100.3)  # 260 ms late: within the lateness allowed

    assert due == pytest.approx(100.04)
    pacer.sent(TICKS, 100.04)
    assert pacer.due_at(2 * TICKS, 100.3) == pytest.approx(100.08)
    assert pacer.catch_ups == 0


def test_a_restart_makes_the_next_frame_due_at_once() -> None:
    pacer = running()
    play(pacer, [TICKS, 2 * TICKS], 100.0)
    pacer.restart()

    assert pacer.due_at(500 * TICKS, 100.09) == pytest.approx(100.09)


def test_the_first_frame_asked_for_is_due_now() -> None:
    pacer = RecordingPacer()
    pacer.set_running(True)

    assert pacer.due_at(123_456, 7.0) == 7.0
