"""LoopLagTracker: lag histogram, stall count and one log line per burst (pure, no loop)."""

from __future__ import annotations

from farmwatch.platform.observability.loop_lag import LAG_BUCKETS, LoopLagTracker


def test_samples_fill_the_histogram_and_keep_the_largest_lag() -> None:
    tracker = LoopLagTracker(threshold=0.05)
    for lag in (0.0005, 0.003, 0.003, 0.04, 7.0):
        tracker.sample(lag, now=1.0)
    stats = tracker.stats
    assert stats.samples == 5
    assert stats.max_lag == 7.0
    assert abs(stats.lag_sum - 7.0465) < 1e-9
    assert len(stats.bucket_counts) == len(LAG_BUCKETS) + 1
    assert stats.bucket_counts[LAG_BUCKETS.index(0.001)] == 1
    assert stats.bucket_counts[LAG_BUCKETS.index(0.005)] == 2
    assert stats.bucket_counts[LAG_BUCKETS.index(0.05)] == 1
    assert stats.bucket_counts[-1] == 1  # +Inf
    assert stats.stalls == 1


def test_a_negative_lag_counts_as_none() -> None:
    tracker = LoopLagTracker(threshold=0.05)
    assert tracker.sample(-0.001, now=0.0) is None
    assert tracker.stats.bucket_counts[0] == 1
    assert tracker.stats.max_lag == 0.0


def test_lag_at_the_threshold_is_not_a_stall() -> None:
    tracker = LoopLagTracker(threshold=0.05)
    assert tracker.sample(0.05, now=0.0) is None
    assert tracker.stats.stalls == 0


def test_stalls_are_reported_at_most_once_per_interval_with_the_suppressed_count() -> None:
    tracker = LoopLagTracker(threshold=0.05, log_interval=1.0)
    first = tracker.sample(0.2, now=10.0)
    assert first is not None and first.lag == 0.2 and first.suppressed == 0
    assert tracker.sample(0.3, now=10.2) is None
    assert tracker.sample(0.01, now=10.5) is None  # not a stall: neither logged nor counted
    assert tracker.sample(0.4, now=10.9) is None
    later = tracker.sample(0.06, now=11.1)
    assert later is not None and later.lag == 0.06 and later.suppressed == 2
    assert tracker.stats.stalls == 4
