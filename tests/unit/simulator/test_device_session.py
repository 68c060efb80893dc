"""The simulated device's registration/keepalive state machine, in virtual time."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.simulator.session import (
    DeviceSession,
    KeepaliveOutcome,
    SendKeepalive,
    SendRegister,
    SessionState,
    SessionTimers,
)

TIMERS = SessionTimers(
    expires=100, keepalive_interval=10.0, keepalive_lost_count=3, retry_min=2.0, retry_max=16.0,
    jitter=0.0,
)  # fmt: skip


def registered(now: float = 0.0, timers: SessionTimers = TIMERS) -> DeviceSession:
    session = DeviceSession(timers, random.Random(1))
    assert session.start(now) == [SendRegister(timers.expires)]
    assert session.register_succeeded(timers.expires, now) == []
    return session


def test_registered_device_keeps_alive_every_interval_and_refreshes_at_80_percent() -> None:
    session = registered()
    assert session.state is SessionState.REGISTERED
    assert session.next_deadline() == 10.0
    assert session.tick(9.9) == []
    assert session.tick(10.0) == [SendKeepalive()]
    assert session.tick(10.5) == []  # one keepalive in flight at a time
    assert session.keepalive_answered(KeepaliveOutcome.ACCEPTED, 10.1) == []
    assert session.next_deadline() == 20.0
    for now in (20.0, 30.0, 40.0, 50.0, 60.0, 70.0):
        assert session.tick(now) == [SendKeepalive()]
        session.keepalive_answered(KeepaliveOutcome.ACCEPTED, now)
    assert session.next_deadline() == 80.0
    assert session.tick(80.0) == [SendRegister(100)]
    assert session.state is SessionState.REGISTERING


def test_rejected_keepalive_registers_again_at_once() -> None:
    session = registered()
    session.tick(10.0)
    assert session.keepalive_answered(KeepaliveOutcome.REJECTED, 10.0) == [SendRegister(100)]
    assert session.state is SessionState.REGISTERING


def test_three_lost_keepalives_register_again() -> None:
    session = registered()
    for now in (10.0, 20.0):
        assert session.tick(now) == [SendKeepalive()]
        assert session.keepalive_answered(KeepaliveOutcome.LOST, now) == []
    session.tick(30.0)
    assert session.keepalive_answered(KeepaliveOutcome.LOST, 30.0) == [SendRegister(100)]


def test_an_answered_keepalive_resets_the_lost_count() -> None:
    session = registered()
    outcomes = [KeepaliveOutcome.LOST, KeepaliveOutcome.LOST, KeepaliveOutcome.ACCEPTED]
    outcomes += [KeepaliveOutcome.LOST, KeepaliveOutcome.LOST]
    for index, outcome in enumerate(outcomes):
        now = 10.0 * (index + 1)
        session.tick(now)
        assert session.keepalive_answered(outcome, now) == []
    assert session.state is SessionState.REGISTERED


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    session = DeviceSession(TIMERS, random.Random(1))
    now = 0.0
    session.start(now)
    delays = []
    for _ in range(6):
        session.register_failed(now)
        assert session.state is SessionState.BACKOFF
        deadline = session.next_deadline()
        assert deadline is not None
        delays.append(deadline - now)
        now = deadline
        assert session.tick(now) == [SendRegister(100)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 16.0, 16.0]
    session.register_succeeded(100, now)
    assert session.failures == 0


@settings(max_examples=50)
@given(seed=st.integers(0, 2**32), failures=st.integers(0, 100))
def test_retry_delays_are_jittered_within_bounds(seed: int, failures: int) -> None:
    timers = SessionTimers(retry_min=1.0, retry_max=60.0, jitter=0.2)
    delay = DeviceSession(timers, random.Random(seed)).retry_delay(failures)
    base = min(60.0, 2.0**failures)
    assert 0.8 * base <= delay <= 1.2 * base


def test_silent_device_sends_nothing_and_refreshes_when_back_if_due() -> None:
    session = registered()
    assert session.set_silent(True, 5.0) == []
    assert session.next_deadline() is None
    assert session.tick(85.0) == []
    assert session.set_silent(False, 85.0) == [SendRegister(100)]  # refresh was due


def test_back_from_silence_sends_a_keepalive_at_once() -> None:
    session = registered()
    session.set_silent(True, 5.0)
    assert session.set_silent(False, 30.0) == [SendKeepalive()]


def test_start_with_a_delay_waits_then_registers() -> None:
    session = DeviceSession(TIMERS, random.Random(1))
    assert session.start(0.0, delay=3.0) == []
    assert session.state is SessionState.BACKOFF
    assert session.next_deadline() == 3.0
    assert session.tick(3.0) == [SendRegister(100)]


def test_stop_unregisters_a_registered_device_only() -> None:
    session = registered()
    assert session.stop(1.0) == [SendRegister(0)]
    assert session.state is SessionState.UNREGISTERING
    assert session.register_succeeded(0, 1.1) == []
    assert session.state is SessionState.STOPPED
    idle = DeviceSession(TIMERS, random.Random(1))
    idle.start(0.0, delay=5.0)
    assert idle.stop(1.0) == []
    assert idle.state is SessionState.STOPPED
    assert idle.tick(10.0) == []
