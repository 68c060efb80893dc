"""Login throttling in virtual time: sliding windows per username and per address."""

from __future__ import annotations

import pytest

from farmwatch.platform.access.throttle import LoginThrottle, SlidingWindow, ThrottleLimits

LIMITS = ThrottleLimits(window=60.0, per_account=3, per_source=5, max_keys=100)


def test_an_account_waits_once_it_has_failed_too_often_in_the_window() -> None:
    throttle = LoginThrottle(LIMITS)
    for now in (0.0, 10.0, 20.0):
        assert throttle.check("alice", "192.0.2.1", now) is None
        throttle.record_failure("alice", "192.0.2.1", now)
    assert throttle.check("alice", "192.0.2.2", 30.0) == pytest.approx(30.0)  # until 0 + 60
    assert throttle.check("ALICE ", None, 30.0) == pytest.approx(30.0)  # same account
    assert throttle.check("bob", "192.0.2.2", 30.0) is None
    # The window slides: at 60 the failure at 0 has left it, at 70 the one at 10.
    assert throttle.check("alice", None, 60.0) is None
    throttle.record_failure("alice", None, 60.0)
    assert throttle.check("alice", None, 65.0) == pytest.approx(5.0)


def test_an_address_waits_whatever_names_it_tries() -> None:
    throttle = LoginThrottle(LIMITS)
    for index in range(5):
        throttle.record_failure(f"user{index}", "198.51.100.9", float(index))
    assert throttle.check("someone", "198.51.100.9", 5.0) == pytest.approx(55.0)
    assert throttle.check("someone", "198.51.100.10", 5.0) is None


def test_a_success_clears_the_accounts_failures_not_the_addresss() -> None:
    throttle = LoginThrottle(ThrottleLimits(window=60.0, per_account=2, per_source=2))
    throttle.record_failure("alice", "192.0.2.1", 0.0)
    throttle.record_success("alice")
    throttle.record_failure("alice", "192.0.2.7", 1.0)
    assert throttle.check("alice", None, 2.0) is None
    assert throttle.check("carol", "192.0.2.1", 2.0) is None
    throttle.record_failure("carol", "192.0.2.1", 2.0)
    assert throttle.check("dave", "192.0.2.1", 3.0) == pytest.approx(57.0)  # 0 + 60 - 3


def test_windows_stay_bounded_under_a_spray_of_keys() -> None:
    window = SlidingWindow(60.0, 3, max_keys=10)
    for index in range(1000):
        for _ in range(5):
            window.add(f"key{index}", float(index) / 100)
    assert len(window) == 10
    assert window.count("key999", 10.0) == 3  # only the last `limit` times are kept
    assert window.count("key0", 10.0) == 0  # the least recently failed were forgotten
    assert window.count("key999", 100.0) == 0 and len(window) == 9


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        SlidingWindow(0.0, 1, 1)
