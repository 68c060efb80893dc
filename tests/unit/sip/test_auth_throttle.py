"""Throttling failed authentications per device ID and per host, in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.auth_throttle import (
    AuthThrottle,
    ThrottleScope,
    ThrottleSettings,
    ThrottleStats,
)
from farmwatch.sipserver.sip.errors import LocalProtocolError

DEVICE = "34020000001320000001"
GUESSER = "10.9.9.9"
HOME = "10.1.2.3"


def _throttle(**overrides: float) -> AuthThrottle:
    values: dict[str, float] = {
        "max_failures_per_device": 3,
        "max_failures_per_host": 5,
        "window": 60.0,
        "block": 10.0,
        "max_block": 80.0,
        "max_entries": 100,
    }
    values.update(overrides)
    return AuthThrottle(ThrottleSettings(**values))  # type: ignore[arg-type]


def test_failures_for_one_device_block_it_after_the_limit() -> None:
    throttle = _throttle()
    assert throttle.failed(DEVICE, GUESSER, 0.0) == []
    assert throttle.failed(DEVICE, GUESSER, 1.0) == []
    [block] = throttle.failed(DEVICE, GUESSER, 2.0)
    assert (block.scope, block.key, block.until, block.failures) == (
        ThrottleScope.DEVICE, DEVICE, 12.0, 3,
    )  # fmt: skip
    assert throttle.block_for(DEVICE, "10.7.7.7", 5.0) == block  # from any host
    assert throttle.block_for("34020000001320000002", GUESSER, 5.0) is None
    assert throttle.block_for(DEVICE, GUESSER, 12.0) is None  # the block is over


def test_failures_outside_the_window_do_not_add_up() -> None:
    throttle = _throttle()
    for now in (0.0, 30.0, 60.0, 90.0, 120.0, 150.0):
        assert throttle.failed(DEVICE, GUESSER, now) == []


def test_repeated_blocks_double_up_to_the_cap_and_are_forgotten_later() -> None:
    throttle = _throttle(max_failures_per_host=1000)
    now, durations = 0.0, []
    for _ in range(6):
        blocks = [b for _ in range(3) for b in throttle.failed(DEVICE, GUESSER, now)]
        assert len(blocks) == 1
        durations.append(blocks[0].duration)
        now = blocks[0].until
    assert durations == [10.0, 20.0, 40.0, 80.0, 80.0, 80.0]
    now += 80.0  # quiet for max_block: strikes forgotten
    [block] = [b for _ in range(3) for b in throttle.failed(DEVICE, GUESSER, now)]
    assert block.duration == 10.0


def test_one_host_guessing_many_ids_blocks_the_host() -> None:
    throttle = _throttle()
    blocks = [b for index in range(5) for b in throttle.failed(f"3402000000132000{index:04d}",
                                                               GUESSER, float(index))]  # fmt: skip
    assert [(b.scope, b.key) for b in blocks] == [(ThrottleScope.HOST, GUESSER)]
    block = throttle.block_for("34020000001320009999", GUESSER, 5.0)
    assert block is not None and block.scope is ThrottleScope.HOST
    assert throttle.block_for("34020000001320009999", HOME, 5.0) is None


def test_the_device_own_host_is_trusted() -> None:
    throttle = _throttle()
    assert not throttle.is_trusted(DEVICE, HOME, registered_host=None)
    assert throttle.is_trusted(DEVICE, HOME, registered_host=HOME)
    throttle.succeeded(DEVICE, HOME)
    assert throttle.is_trusted(DEVICE, HOME, registered_host=None)
    assert not throttle.is_trusted(DEVICE, GUESSER, registered_host=None)
    assert not throttle.is_trusted("34020000001320000002", HOME, registered_host=None)


def test_stats_count_failures_refusals_and_blocks() -> None:
    throttle = _throttle()
    for now in range(3):
        throttle.failed(DEVICE, GUESSER, float(now))
    throttle.refused()
    assert throttle.stats == ThrottleStats(failures=3, refused=1, blocks=1, tracked=2)
    throttle.failed("34020000001320000002", "10.5.5.5", 1000.0)
    assert throttle.stats.tracked == 2  # the old entries were forgotten


def test_tables_are_bounded() -> None:
    throttle = _throttle(max_entries=10)
    for index in range(100):
        throttle.failed(f"3402000000132000{index:04d}", f"10.0.0.{index}", 0.0)
        throttle.succeeded(f"3402000000132000{index:04d}", f"10.0.0.{index}")
    assert throttle.stats.tracked == 20
    assert len(throttle._trusted) == 10


def test_bad_settings_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        ThrottleSettings(max_failures_per_device=0)
    with pytest.raises(LocalProtocolError):
        ThrottleSettings(block=100.0, max_block=10.0)
