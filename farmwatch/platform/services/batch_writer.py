"""Items a device sends (alarms, positions) handed over without waiting and written to the
database in batches by one background task, so that a SIP answer never waits on a write.

The queue is bounded: past `max_queued` items, what arrives is dropped and counted (a
database that stalls must not grow the platform's memory without end). `close` writes
what is still queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["BatchWriter"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatchWriter(Generic[T]):
    def __init__(
        self, write: Callable[[list[T]], Awaitable[None]], *, max_queued: int, what: str
    ) -> None:
        self._write_batch = write
        self._max_queued = max_queued
        self._what = what
        self._queue: deque[T] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def offer(self, items: Sequence[T]) -> int:
        """Queue what fits; returns how many were dropped (and counted) for want of room."""
        room = max(self._max_queued - len(self._queue), 0)
        dropped = max(len(items) - room, 0)
        self.dropped += dropped
        if room and items:
            self._queue.extend(items[:room])
            self._wakeup.set()
        return dropped

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is None:
            return
        if self._queue:
            await self._write()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._write()
            except Exception:
                # Isolation boundary: one batch (the database failing); the next goes on.
                log.exception("%s not stored", self._what)

    async def _write(self) -> None:
        batch = list(self._queue)
        self._queue.clear()
        if batch:
            await self._write_batch(batch)
