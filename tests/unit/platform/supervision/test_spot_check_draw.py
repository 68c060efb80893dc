"""The spot check's draw: reproducible from its seed, spread over farms, weighted towards
farms not checked for a long time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.supervision.spot_checks.draw import (
    MAX_WEIGHT,
    Candidate,
    draw,
    farm_weight,
    population_digest,
)

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _population(
    farms: int, cameras: int, weights: dict[int, float] | None = None
) -> list[Candidate]:
    return [
        Candidate(
            f"3402000000131{farm:03d}{camera:04d}",
            f"34020000001110{farm:06d}",
            f"farm:{farm}",
            f"养殖场{farm}",
            (weights or {}).get(farm, 1.0),
        )  # fmt: skip
        for farm in range(farms)
        for camera in range(cameras)
    ]


def test_the_same_seed_draws_the_same_cameras_whatever_the_order_given() -> None:
    population = _population(20, 5)
    first = [d.candidate.channel_id for d in draw(population, 10, seed=1234)]
    again = [d.candidate.channel_id for d in draw(list(reversed(population)), 10, seed=1234)]
    assert first == again
    other = [d.candidate.channel_id for d in draw(population, 10, seed=1235)]
    assert other != first


def test_a_check_spreads_over_farms_before_a_second_camera_of_any() -> None:
    drawn = draw(_population(4, 3), 6, seed=7)
    farms = [d.candidate.farm_key for d in drawn]
    assert len(set(farms[:4])) == 4  # one camera of every farm first
    assert Counter(farms).most_common(1)[0][1] == 2
    assert [d.position for d in drawn] == [1, 2, 3, 4, 5, 6]
    assert len({d.candidate.channel_id for d in drawn}) == 6


def test_a_small_population_gives_all_it_has() -> None:
    population = _population(2, 2)
    assert len(draw(population, 10, seed=1)) == 4
    with pytest.raises(ValueError):
        draw(population, 0, seed=1)


def test_farms_not_checked_for_long_come_up_more_often() -> None:
    # Farm 0 was never checked (weight 8), the others today (weight 1): over many seeds it
    # is the first farm drawn far more often than its 1 in 10 share.
    population = _population(10, 1, {0: MAX_WEIGHT})
    firsts = Counter(draw(population, 1, seed=seed)[0].candidate.farm_key for seed in range(2000))
    share = firsts["farm:0"] / 2000
    assert 0.35 < share < 0.65, share  # 8 / (8 + 9) = 0.47 for the first of ten


def test_weights_grow_by_the_week_up_to_the_bound() -> None:
    assert farm_weight(None, NOW) == MAX_WEIGHT
    assert farm_weight(NOW, NOW) == 1.0
    assert farm_weight(NOW - timedelta(days=14), NOW) == pytest.approx(3.0)
    assert farm_weight(NOW - timedelta(days=400), NOW) == MAX_WEIGHT
    assert farm_weight(NOW + timedelta(days=1), NOW) == 1.0  # a clock set back


def test_the_population_digest_ignores_order_and_sees_any_change() -> None:
    population = _population(3, 2)
    assert population_digest(population) == population_digest(reversed(population))
    changed = [*population[:-1], Candidate(population[-1].channel_id, "x", "farm:9", "", 1.0)]
    assert population_digest(changed) != population_digest(population)


@given(
    farms=st.integers(1, 12), cameras=st.integers(1, 6), count=st.integers(1, 80),
    seed=st.integers(0, 2**64 - 1),
)  # fmt: skip
def test_a_draw_never_repeats_a_camera_and_takes_what_it_can(
    farms: int, cameras: int, count: int, seed: int
) -> None:
    drawn = draw(_population(farms, cameras), count, seed)
    ids = [d.candidate.channel_id for d in drawn]
    assert len(ids) == len(set(ids)) == min(count, farms * cameras)
