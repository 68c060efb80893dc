"""Devices waiting for their first contact (DeviceInfo, Catalog, subscribe), worked off
a bounded number at a time.

When a farm region comes back after a power cut, thousands of devices register within
seconds. Asking each of them at once for its DeviceInfo and catalog puts thousands of
MESSAGE transactions, their retransmission timers and their answers (catalogs are the
largest messages a platform reads) in front of the registrations and keepalives that keep
devices online, and the registrar falls behind. So the questions wait in a queue, oldest
first, each device once, and at most `concurrency` devices are being asked at any time:
registration keeps its pace, and the catalogs follow as fast as the devices answer.

The questions are also the one part of a storm that can wait: while `held` says the
platform is falling behind (its SIP receive queue is growing), no new first contact
starts (those under way finish), and the queue looks again every `recheck` seconds.
Registrations then get the whole core instead of being shed 503 to make room for
catalogs, and the catalogs follow once the storm has passed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

__all__ = ["FirstContactQueue", "FirstContactStats"]


@dataclass(frozen=True, slots=True)
class FirstContactStats:
    queued: int
    """Devices waiting for their turn."""
    running: int
    done: int
    """First contacts finished (whatever the device answered) since start."""
    held: int = 0
    """Times the queue stopped starting first contacts because the platform fell behind."""


class FirstContactQueue:
    """At most `concurrency` first contacts at a time; see the module docstring."""

    def __init__(
        self,
        contact: Callable[[str], Awaitable[None]],
        *,
        concurrency: int,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        held: Callable[[], bool] = lambda: False,
        recheck: float = 0.1,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be positive, got {concurrency}")
        if recheck <= 0:
            raise ValueError(f"recheck must be positive, got {recheck}")
        self._held = held
        self._recheck = recheck
        self._recheck_timer: asyncio.TimerHandle | None = None
        self._holds = 0
        self._holding = False
        self._contact = contact
        self._concurrency = concurrency
        self._spawn = spawn
        self._queue: deque[str] = deque()
        self._waiting: set[str] = set()
        self._running: set[str] = set()
        self._again: set[str] = set()  # came back while being asked: ask once more after
        self._done = 0

    @property
    def stats(self) -> FirstContactStats:
        return FirstContactStats(len(self._queue), len(self._running), self._done, self._holds)

    def close(self) -> None:
        """Stop looking again (the contacts under way are the owner's tasks to cancel)."""
        if self._recheck_timer is not None:
            self._recheck_timer.cancel()
            self._recheck_timer = None

    def request(self, device_id: str) -> None:
        """Ask `device_id` when its turn comes; a device already waiting is not queued
        twice, and one being asked now is asked once more when that is over (it came back
        meanwhile, and may have changed)."""
        if device_id in self._running:
            self._again.add(device_id)
            return
        if device_id in self._waiting:
            return
        self._waiting.add(device_id)
        self._queue.append(device_id)
        self._start_next()

    def _start_next(self) -> None:
        if not self._queue or len(self._running) >= self._concurrency:
            return
        if self._held():
            if not self._holding:
                self._holding = True
                self._holds += 1
            if self._recheck_timer is None:
                loop = asyncio.get_running_loop()
                self._recheck_timer = loop.call_later(self._recheck, self._look_again)
            return
        self._holding = False
        while self._queue and len(self._running) < self._concurrency:
            device_id = self._queue.popleft()
            self._waiting.discard(device_id)
            self._running.add(device_id)
            self._spawn(self._run(device_id))

    def _look_again(self) -> None:
        self._recheck_timer = None
        self._start_next()

    async def _run(self, device_id: str) -> None:
        try:
            await self._contact(device_id)
        finally:
            self._running.discard(device_id)
            self._done += 1
            if device_id in self._again:
                self._again.discard(device_id)
                self.request(device_id)
            else:
                self._start_next()
