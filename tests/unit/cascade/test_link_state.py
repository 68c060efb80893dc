"""LinkCore: registration, refresh, keepalive liveness on our own clock, jittered backoff."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from farmwatch.cascade.link_state import LinkCore, LinkState, Register, SendKeepalive


def _core(seed: int = 1) -> LinkCore:
    return LinkCore(
        expires=3600,
        keepalive_interval=60,
        keepalive_timeout_count=3,
        retry_interval=60,
        rng=random.Random(seed),
    )


def _registered(now: float = 0.0) -> LinkCore:
    core = _core()
    assert core.start(now) == [Register(is_refresh=False)]
    assert core.registered(3600, now) == [SendKeepalive()]
    core.keepalive_sent(now)
    return core


def test_a_registration_sends_a_keepalive_at_once_then_every_interval() -> None:
    core = _registered()
    assert core.state is LinkState.REGISTERED
    assert core.tick(59.9) == []
    assert core.next_deadline() == 60
    assert core.tick(60) == [SendKeepalive()]


def test_the_registration_is_refreshed_before_it_expires() -> None:
    core = _registered()
    actions: list[object] = []
    for second in range(0, 2900, 10):
        actions += core.tick(float(second))
        core.keepalive_answered(True, float(second))
    assert Register(is_refresh=True) in actions
    assert core.registered(3600, 2880.0) == []  # a refresh sends no extra keepalive


def test_keepalives_unanswered_for_interval_times_count_lose_the_link() -> None:
    """Judged on our clock: no transaction outcome is needed (an upper answering only with
    ICMP errors never times a transaction out)."""
    core = _registered()
    for now in (60.0, 120.0):
        assert core.tick(now) == [SendKeepalive()]
        core.keepalive_sent(now)
    actions = core.tick(180.0)
    assert actions == [Register(is_refresh=False)]  # the first loss retries at once
    assert core.state is LinkState.REGISTERING
    assert core.last_error is not None and "no keepalive answered" in core.last_error


def test_an_answered_keepalive_keeps_the_link_and_resets_the_misses() -> None:
    core = _registered()
    core.tick(60.0)
    core.keepalive_answered(False, 61.0)
    assert core.keepalive_misses == 1
    core.keepalive_answered(True, 62.0)
    assert core.keepalive_misses == 0
    assert core.tick(200.0) == [SendKeepalive()]  # 62 + 180 not reached
    assert core.state is LinkState.REGISTERED


def test_failures_back_off_doubling_with_jitter_up_to_ten_times_the_interval() -> None:
    core = _core()
    core.start(0.0)
    now = 0.0
    delays = []
    for _ in range(8):
        core.register_failed("refused: 403", now)
        assert core.state is LinkState.RETRY_WAIT
        deadline = core.next_deadline()
        assert deadline is not None
        delays.append(deadline - now)
        assert core.tick(deadline - 0.001) == []
        assert core.tick(deadline) == [Register(is_refresh=False)]
        now = deadline
    bases = [60 * min(2**n, 10) for n in range(8)]
    for delay, base in zip(delays, bases, strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    assert core.registered(3600, now) == [SendKeepalive()]
    assert core.failures == 0 and core.last_error is None


@given(st.integers(min_value=0, max_value=2**32))
def test_jitter_spreads_lower_platforms_returning_to_an_upper(seed: int) -> None:
    core = _core(seed)
    core.start(0.0)
    core.register_failed("timeout", 0.0)
    deadline = core.next_deadline()
    assert deadline is not None and 48.0 <= deadline <= 72.0


def test_a_new_registration_after_a_loss_restarts_the_miss_count() -> None:
    core = _registered()
    for now in (60.0, 120.0):
        core.tick(now)
        core.keepalive_answered(False, now + 1)
    core.tick(180.0)  # lost, re-registering
    assert core.registered(3600, 181.0) == [SendKeepalive()]
    assert core.keepalive_misses == 0
    assert core.tick(300.0) == [SendKeepalive()]
    assert core.state is LinkState.REGISTERED


def test_stop_owes_an_unregister_only_when_registered() -> None:
    assert _registered().stop() is True
    core = _core()
    core.start(0.0)
    assert core.stop() is False
    assert core.tick(1e6) == [] and core.next_deadline() is None
