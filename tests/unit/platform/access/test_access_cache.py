"""The access cache: kept for its TTL, forgotten at every write, never keeping what a write
raced, bounded."""

from __future__ import annotations

import asyncio

import pytest

from farmwatch.platform.access.access_cache import AccessCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loads:
    """A loader that counts its calls and answers the current `value`."""

    def __init__(self, value: object = "first") -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        return self.value


async def test_a_read_is_kept_for_the_ttl_and_then_read_again() -> None:
    clock, loads = Clock(), Loads()
    cache = AccessCache(ttl=2.0, clock=clock)
    assert await cache.get("k", loads) == "first"
    loads.value = "second"
    clock.now += 1.9
    assert await cache.get("k", loads) == "first"
    clock.now += 0.2
    assert await cache.get("k", loads) == "second"
    assert loads.calls == 2 and (cache.hits, cache.misses) == (1, 2)


async def test_a_write_forgets_everything_and_drop_forgets_one() -> None:
    cache, a, b = AccessCache(clock=Clock()), Loads("a"), Loads("b")
    await cache.get("a", a)
    await cache.get("b", b)
    async with cache.writing():
        pass
    await cache.get("a", a)
    await cache.get("b", b)
    assert (a.calls, b.calls) == (2, 2)
    async with cache.writing("a"):
        pass
    await cache.get("a", a)
    await cache.get("b", b)
    assert (a.calls, b.calls) == (3, 2)


async def test_a_failed_write_forgets_too() -> None:
    cache, loads = AccessCache(clock=Clock()), Loads()
    await cache.get("k", loads)
    with pytest.raises(RuntimeError):
        async with cache.writing():
            raise RuntimeError("the transaction failed after a partial write")
    await cache.get("k", loads)
    assert loads.calls == 2


async def test_a_read_that_raced_a_write_is_not_kept() -> None:
    cache = AccessCache(clock=Clock())
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> str:
        started.set()
        await finish.wait()
        return "what the write replaced"

    reading = asyncio.create_task(cache.get("k", slow_old_read))
    await started.wait()
    async with cache.writing():
        pass  # committed while the read was in flight
    finish.set()
    assert await reading == "what the write replaced"  # its caller may see it, once
    fresh = Loads("after the write")
    assert await cache.get("k", fresh) == "after the write" and fresh.calls == 1


async def test_update_changes_a_kept_entry_only() -> None:
    cache, loads = AccessCache(clock=Clock()), Loads(1)
    cache.update("k", lambda value: value + 1)  # not kept: nothing to change, nothing loaded
    assert loads.calls == 0
    await cache.get("k", loads)
    cache.update("k", lambda value: value + 1)
    assert await cache.get("k", loads) == 2 and loads.calls == 1


async def test_entries_are_bounded_oldest_out_first() -> None:
    cache = AccessCache(max_entries=3, clock=Clock())
    loads = {key: Loads(key) for key in "abcd"}
    for key in "abcd":  # a stranger's random cookies cannot grow it past the bound
        await cache.get(key, loads[key])
    for key in "bcd":
        await cache.get(key, loads[key])
    await cache.get("a", loads["a"])
    assert {key: load.calls for key, load in loads.items()} == {"a": 2, "b": 1, "c": 1, "d": 1}


async def test_disabled_reads_every_time() -> None:
    cache, loads = AccessCache.disabled(), Loads()
    await cache.get("k", loads)
    await cache.get("k", loads)
    assert loads.calls == 2
