"""The express path's retransmission cache (timer J) and the random token pool."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.response_cache import ResponseCache
from farmwatch.sipserver.sip.tokens import RandomPool


def test_a_response_is_kept_for_its_lifetime_and_no_longer() -> None:
    cache = ResponseCache(lifetime=32.0, max_entries=10)
    cache.put("a", b"200 a", now=100.0)
    assert cache.get("a", now=100.0) == b"200 a"
    assert cache.get("a", now=131.9) == b"200 a"
    assert cache.get("a", now=132.0) is None
    assert cache.get("b", now=100.0) is None


def test_expired_entries_are_dropped_as_new_ones_arrive() -> None:
    cache = ResponseCache(lifetime=1.5, max_entries=100)
    for index in range(10):
        cache.put(index, b"x", now=float(index))
    # At t=9 everything put before t=8 has expired (8 lives until 9.5).
    assert len(cache) == 2
    assert cache.get(8, now=9.0) == b"x"


def test_beyond_the_bound_the_oldest_goes_first() -> None:
    cache = ResponseCache(lifetime=32.0, max_entries=3)
    for key in "abcd":
        cache.put(key, key.encode(), now=0.0)
    assert len(cache) == 3
    assert cache.get("a", now=0.0) is None
    assert [cache.get(key, now=0.0) for key in "bcd"] == [b"b", b"c", b"d"]


def test_putting_a_key_again_renews_it() -> None:
    cache = ResponseCache(lifetime=10.0, max_entries=2)
    cache.put("a", b"1", now=0.0)
    cache.put("b", b"2", now=1.0)
    cache.put("a", b"3", now=2.0)  # now the newest: "b" is the oldest
    cache.put("c", b"4", now=3.0)
    assert cache.get("b", now=3.0) is None
    assert cache.get("a", now=11.0) == b"3"


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        ResponseCache(lifetime=-1, max_entries=1)
    with pytest.raises(ValueError):
        ResponseCache(lifetime=1, max_entries=0)


def test_the_pool_never_hands_out_the_same_bytes_twice() -> None:
    pool = RandomPool(block_size=64)
    taken = [pool.take(5) for _ in range(200)]  # crosses many block boundaries
    assert all(len(chunk) == 5 for chunk in taken)
    # 40 random bits each: a repeat among 200 would mean bytes were reused.
    assert len(set(taken)) == len(taken)
    assert len(pool.take(100)) == 100  # larger than a block: read directly


def test_a_discarded_pool_reads_fresh_bytes() -> None:
    pool = RandomPool(block_size=64)
    first = pool.take(8)
    pool.discard()
    assert pool.take(8) != first
