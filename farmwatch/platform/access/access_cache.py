"""The access data every request is checked against, read once and kept for a moment.

Each request is authorised against the same few rows: its session or token, its user, its
grants, the organisation tree, where its camera is. Read from the database every time they
cost a round trip each, 4–9 ms a request. They change seldom, and in this process only
through `DirectoryRepository` and `SessionRepository`, which call `changed()` on every
write: from then on every entry is read again. What can change elsewhere is bounded by
`ttl`: writes by another process on the same database (`farmwatch create-admin`), and the
devices' catalogs, which add and remove cameras.

Entries read while a write happened are not kept (a read that raced the write could hold
what the write replaced). The number of entries is bounded, oldest out first, so random
session cookies from a stranger fill nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

__all__ = ["DEFAULT_TTL", "AccessCache"]

T = TypeVar("T")

DEFAULT_TTL = 2.0
"""Seconds an entry is used at most (see the module docstring for why it may be stale)."""


class AccessCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        *,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: expected >= 1, got {max_entries}")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._generation = 0
        self.hits = 0
        self.misses = 0

    @classmethod
    def disabled(cls) -> AccessCache:
        """Every read goes to the database (a repository built without a shared cache)."""
        return cls(ttl=0.0, max_entries=1)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The value kept for `key`, or `load()`'s (kept unless a write came meanwhile)."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now < entry[0]:
            self.hits += 1
            value: T = entry[1]
            return value
        self.misses += 1
        generation = self._generation
        value = await load()
        if self._ttl > 0 and generation == self._generation:
            self._keep(key, value, now + self._ttl)
        return value

    @asynccontextmanager
    async def writing(self, only: Hashable | None = None) -> AsyncIterator[None]:
        """Around a write (outside its transaction): when it is over, committed or not,
        everything is forgotten (`only`: that one entry). Reads that started before and end
        after are not kept either (see `get`)."""
        try:
            yield
        finally:
            if only is None:
                self.changed()
            else:
                self.drop(only)

    def update(self, key: Hashable, change: Callable[[Any], Any]) -> None:
        """A kept entry now holds `change(value)` (a column only this process writes, like
        a session's last-seen time); nothing when the key is not kept."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], change(entry[1]))

    def drop(self, key: Hashable) -> None:
        """Forget one entry (a write that changes only that row)."""
        self._entries.pop(key, None)
        self._generation += 1

    def changed(self) -> None:
        """Access data was written: forget everything."""
        self._entries.clear()
        self._generation += 1

    def _keep(self, key: Hashable, value: object, until: float) -> None:
        self._entries.pop(key, None)
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (until, value)
