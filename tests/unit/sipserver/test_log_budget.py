"""The log budget: a burst per window, and a count of what was left out."""

from __future__ import annotations

from farmwatch.sipserver.log_budget import LogBudget


def test_a_burst_per_window_then_the_count_of_lines_left_out() -> None:
    budget = LogBudget(burst=3, window=10.0)
    assert [budget.take(0.0) for _ in range(3)] == [0, 0, 0]
    assert [budget.take(1.0) for _ in range(5)] == [None] * 5
    assert budget.left_out == 5
    assert budget.take(9.9) is None
    assert budget.take(10.0) == 6  # a new window: allowed, and says what was left out
    assert budget.take(10.1) == 0
    assert budget.left_out == 0
