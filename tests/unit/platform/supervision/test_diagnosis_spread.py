"""A round's cameras are spread evenly over the interval, each once."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.supervision.diagnosis.spread import spread


@given(count=st.integers(0, 2000), interval=st.floats(0.1, 86_400))
def test_every_camera_once_evenly_within_the_interval(count: int, interval: float) -> None:
    cameras = [f"{index:020d}" for index in range(count)]
    slots = spread(cameras, interval)
    assert [channel for _, channel in slots] == cameras
    offsets = [offset for offset, _ in slots]
    assert all(0 <= offset < interval for offset in offsets)
    # Equal gaps of interval / count (to float precision: rounding the gaps to a fixed
    # number of digits tells 0.0046875 apart from itself).
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert all(math.isclose(gap, interval / count, rel_tol=1e-9) for gap in gaps)


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        spread(["34020000001310000001"], 0)
