"""Collects an answer spread over several MESSAGEs into one result (sans-I/O, virtual time).

Catalogs and record searches (RecordInfo, gb28181.md §4.7) are answered alike:
`MultiMessageCollector` is the rule, `CatalogCollector` and `RecordCollector` its two uses.
Owns the multi-message rule of GB/T 28181-2016 Annex N (2022 Annex M; reference §4.4 and
pitfalls §10 item 6): every message repeats the query's SN and the total `SumNum`; messages
may arrive out of order, twice (UDP retransmits) or not at all, and `SumNum` may not match
what arrives. A collection is keyed by `QueryKey(device_id, CmdType, sn)`; items are
de-duplicated by their identity (a catalog item's DeviceID, a record's every field; a later
copy replaces an earlier one, order of first arrival is kept); the target is the largest
`SumNum` seen. It completes when the unique items reach the target (at once for `SumNum` 0)
and ends PARTIAL, keeping what arrived, when nothing arrived for `inactivity_timeout`
seconds or the `max_items` bound was hit.

Answers without a `start` (a device that volunteers its catalog, or a query sent before a
restart) are collected the same way. A collection whose `SumNum` never arrived (missing or
garbage) can only end by inactivity, as PARTIAL. Messages for a collection that already
finished are ignored for `inactivity_timeout` seconds afterwards, so late retransmits do not
start a second, bogus collection.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.manscdp import (
    CatalogResponse,
    CmdType,
    RecordInfoResponse,
    RecordItem,
)

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class QueryKey:
    """Correlates a query with its answers: the queried ID, the CmdType and the SN."""

    device_id: str
    cmd_type: CmdType
    sn: int

    @classmethod
    def for_catalog(cls, response: CatalogResponse) -> QueryKey:
        return cls(response.device_id, CmdType.CATALOG, response.sn)


class CollectionState(enum.Enum):
    RUNNING = "running"
    COMPLETE = "complete"  # unique items reached SumNum
    PARTIAL = "partial"  # inactivity timeout or item bound: what arrived is kept
    REJECTED = "rejected"  # `max_collections` collections already running; nothing kept


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    """Bounds of the collector. `inactivity_timeout` in seconds since the last message."""

    inactivity_timeout: float = 10.0
    max_items: int = 100_000
    max_collections: int = 1024


# Not slotted: calling an alias such as `CatalogResult(...)` sets `__orig_class__`, which a
# frozen slotted dataclass refuses with a TypeError (Python 3.11).
@dataclass(frozen=True)
class CollectionResult(Generic[ItemT]):
    """A finished collection: the unique items in order of arrival."""

    key: QueryKey
    items: tuple[ItemT, ...]
    expected: int | None  # the largest SumNum seen; None if none was readable
    is_complete: bool


CatalogResult = CollectionResult[CatalogItem]
RecordResult = CollectionResult[RecordItem]


@dataclass(frozen=True)
class CollectionProgress(Generic[ItemT]):
    """Where a collection stands; `result` is set by the call that finished it."""

    key: QueryKey
    received: int
    expected: int | None
    state: CollectionState
    result: CollectionResult[ItemT] | None = None


@dataclass(slots=True)
class _Collection(Generic[ItemT]):
    key: QueryKey
    last_activity: float
    expected: int | None = None
    items: dict[Hashable, ItemT] = field(default_factory=dict)
    is_capped: bool = False

    def absorb(
        self,
        sum_num: int | None,
        items: Sequence[ItemT],
        identity: Callable[[ItemT], Hashable],
        now: float,
        max_items: int,
    ) -> None:
        if sum_num is not None:
            self.expected = max(self.expected or 0, sum_num)
        for item in items:
            item_key = identity(item)
            if item_key in self.items or len(self.items) < max_items:
                self.items[item_key] = item
            else:
                self.is_capped = True
        self.last_activity = now

    def finished_state(self, max_items: int) -> CollectionState | None:
        if self.expected is not None and len(self.items) >= self.expected:
            return CollectionState.COMPLETE
        if self.is_capped or len(self.items) >= max_items:
            return CollectionState.PARTIAL
        return None

    def progress(self, state: CollectionState) -> CollectionProgress[ItemT]:
        return CollectionProgress(self.key, len(self.items), self.expected, state)


@dataclass(frozen=True, slots=True)
class _Finished(Generic[ItemT]):
    progress: CollectionProgress[ItemT]
    forget_at: float


class MultiMessageCollector(Generic[ItemT]):
    """Pure collector: driven by `start`, `add_items` and `tick`, each given `now`.

    `identity` says when two items are the same one (a retransmitted message repeats them).
    """

    def __init__(
        self, identity: Callable[[ItemT], Hashable], settings: CollectorSettings | None = None
    ) -> None:
        self._identity = identity
        self._settings = settings or CollectorSettings()
        # Both kept in deadline order (given a `now` that never goes back): a collection
        # moves to the end when a message arrives, a finished one is added at the end. The
        # platform's timer asks `next_deadline` after every device event; scanning a
        # thousand entries each time cost more than the events at a registration burst.
        self._running: dict[QueryKey, _Collection[ItemT]] = {}
        self._finished: dict[QueryKey, _Finished[ItemT]] = {}

    def start(self, key: QueryKey, now: float) -> CollectionProgress[ItemT]:
        """Expect answers to the query `key`; starting a running collection changes nothing."""
        running = self._running.get(key)
        if running is not None:
            return running.progress(CollectionState.RUNNING)
        if len(self._running) >= self._settings.max_collections:
            return CollectionProgress(key, 0, None, CollectionState.REJECTED)
        self._finished.pop(key, None)
        collection: _Collection[ItemT] = _Collection(key, last_activity=now)
        self._running[key] = collection
        return collection.progress(CollectionState.RUNNING)

    def add_items(
        self, key: QueryKey, sum_num: int | None, items: Sequence[ItemT], now: float
    ) -> CollectionProgress[ItemT]:
        """Take one response message; the returned progress carries any result."""
        finished = self._finished.get(key)
        if finished is not None and key not in self._running:
            return finished.progress  # a late or retransmitted message: already reported
        collection = self._running.get(key)
        if collection is None:
            started = self.start(key, now)
            if started.state is CollectionState.REJECTED:
                return started
            collection = self._running[key]
        collection.absorb(sum_num, items, self._identity, now, self._settings.max_items)
        del self._running[key]
        self._running[key] = collection  # now the latest activity
        state = collection.finished_state(self._settings.max_items)
        if state is None:
            return collection.progress(CollectionState.RUNNING)
        return self._finish(collection, state, now)

    def tick(self, now: float) -> list[CollectionResult[ItemT]]:
        """End collections idle for `inactivity_timeout` as PARTIAL; forget old finished ones."""
        timeout = self._settings.inactivity_timeout
        idle: list[_Collection[ItemT]] = []
        for collection in self._running.values():
            if collection.last_activity + timeout > now:
                break
            idle.append(collection)
        results = [self._finish(c, CollectionState.PARTIAL, now).result for c in idle]
        while self._finished:
            key, finished = next(iter(self._finished.items()))
            if finished.forget_at > now:
                break
            del self._finished[key]
        return [result for result in results if result is not None]

    def next_deadline(self) -> float | None:
        """When `tick` next has something to do; None when idle."""
        deadline = None
        for collection in self._running.values():
            deadline = collection.last_activity + self._settings.inactivity_timeout
            break
        for finished in self._finished.values():
            return finished.forget_at if deadline is None else min(deadline, finished.forget_at)
        return deadline

    def progress(self, key: QueryKey) -> CollectionProgress[ItemT] | None:
        """The state of a running or recently finished collection; None if unknown."""
        running = self._running.get(key)
        if running is not None:
            return running.progress(CollectionState.RUNNING)
        finished = self._finished.get(key)
        return None if finished is None else finished.progress

    @property
    def running_count(self) -> int:
        return len(self._running)

    def _finish(
        self, collection: _Collection[ItemT], state: CollectionState, now: float
    ) -> CollectionProgress[ItemT]:
        del self._running[collection.key]
        result = CollectionResult(
            collection.key,
            tuple(collection.items.values()),
            collection.expected,
            is_complete=state is CollectionState.COMPLETE,
        )
        progress = collection.progress(state)
        if len(self._finished) >= self._settings.max_collections:
            del self._finished[next(iter(self._finished))]
        forget_at = now + self._settings.inactivity_timeout
        self._finished.pop(collection.key, None)
        self._finished[collection.key] = _Finished(progress, forget_at)
        return CollectionProgress(progress.key, progress.received, progress.expected, state, result)


class CatalogCollector(MultiMessageCollector[CatalogItem]):
    """Catalog items are the same item when their DeviceID is (a later copy replaces it)."""

    def __init__(self, settings: CollectorSettings | None = None) -> None:
        super().__init__(_catalog_identity, settings)

    def add(self, response: CatalogResponse, now: float) -> CollectionProgress[CatalogItem]:
        return self.add_items(QueryKey.for_catalog(response), response.sum_num,
                              response.items, now)  # fmt: skip


class RecordCollector(MultiMessageCollector[RecordItem]):
    """RecordInfo answers, keyed by the device that sent them and the SN (the DeviceID in the
    body is the queried channel, which NVRs fill in differently); records are the same
    record when every field is (a retransmitted message)."""

    def __init__(self, settings: CollectorSettings | None = None) -> None:
        super().__init__(_record_identity, settings)

    def add(
        self, sender_id: str, response: RecordInfoResponse, now: float
    ) -> CollectionProgress[RecordItem]:
        key = QueryKey(sender_id, CmdType.RECORD_INFO, response.sn)
        return self.add_items(key, response.sum_num, response.items, now)


def _catalog_identity(item: CatalogItem) -> Hashable:
    return item.device_id


def _record_identity(item: RecordItem) -> Hashable:
    return item
