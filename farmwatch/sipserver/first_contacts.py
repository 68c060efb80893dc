"""Devices waiting for their first contact (DeviceInfo, Catalog, subscribe), worked off
a bounded number at a time.

When a farm region comes back after a power cut, thousands of devices register within
seconds. Asking each of them at once for its DeviceInfo and catalog puts thousands of
MESSAGE transactions, their retransmission timers and their answers (catalogs are the
largest messages a platform reads) in front of the registrations and keepalives that keep
devices online, and the registrar falls behind. So the questions wait in a queue, oldest
first, each device once, and at most `concurrency` devices are being asked at any time:
registration keeps its pace, and the catalogs follow as fast as the devices answer.
"""

from __future__ import annotations

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


class FirstContactQueue:
    """At most `concurrency` first contacts at a time; see the module docstring."""

    def __init__(
        self,
        contact: Callable[[str], Awaitable[None]],
        *,
        concurrency: int,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be positive, got {concurrency}")
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
        return FirstContactStats(len(self._queue), len(self._running), self._done)

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
        while self._queue and len(self._running) < self._concurrency:
            device_id = self._queue.popleft()
            self._waiting.discard(device_id)
            self._running.add(device_id)
            self._spawn(self._run(device_id))

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
