"""A pure priority queue of deadlines with lazy deletion (the shell's one timer source).

Each item (for the transaction layer, a transaction's key) has at most one deadline.
`schedule` replaces an item's deadline in O(log n) by pushing a new heap entry and
leaving the old one to be skipped when it surfaces ("lazy deletion"); the heap is
rebuilt when stale entries outnumber live ones, so memory stays proportional to the
number of scheduled items. No clock is read: deadlines are plain floats.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT", bound=Hashable)

_COMPACT_SLACK = 64


class DeadlineQueue(Generic[ItemT]):
    """Items keyed by deadline: earliest first, re-scheduling and cancelling in O(log n)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, ItemT]] = []
        self._live: dict[ItemT, tuple[float, int]] = {}
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: object) -> bool:
        return item in self._live

    @property
    def entry_count(self) -> int:
        """Heap entries, stale ones included (bounded by 2 * len(self) + a constant)."""
        return len(self._heap)

    def deadline_of(self, item: ItemT) -> float | None:
        entry = self._live.get(item)
        return entry[0] if entry is not None else None

    def schedule(self, item: ItemT, deadline: float | None) -> None:
        """Set (or replace) `item`'s deadline; None cancels it."""
        if deadline is None:
            self.cancel(item)
            return
        current = self._live.get(item)
        if current is not None and current[0] == deadline:
            return
        self._sequence += 1
        self._live[item] = (deadline, self._sequence)
        heapq.heappush(self._heap, (deadline, self._sequence, item))
        self._compact_if_needed()

    def cancel(self, item: ItemT) -> None:
        """Forget `item`'s deadline (its heap entry becomes stale)."""
        if self._live.pop(item, None) is not None:
            self._compact_if_needed()

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None when nothing is scheduled."""
        self._drop_stale_top()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[ItemT]:
        """Remove and return every item whose deadline is at or before `now`, earliest first."""
        due: list[ItemT] = []
        while True:
            self._drop_stale_top()
            if not self._heap or self._heap[0][0] > now:
                return due
            _, _, item = heapq.heappop(self._heap)
            del self._live[item]
            due.append(item)

    def _is_live(self, entry: tuple[float, int, ItemT]) -> bool:
        deadline, sequence, item = entry
        return self._live.get(item) == (deadline, sequence)

    def _drop_stale_top(self) -> None:
        while self._heap and not self._is_live(self._heap[0]):
            heapq.heappop(self._heap)

    def _compact_if_needed(self) -> None:
        if len(self._heap) > 2 * len(self._live) + _COMPACT_SLACK:
            self._heap = [entry for entry in self._heap if self._is_live(entry)]
            heapq.heapify(self._heap)
