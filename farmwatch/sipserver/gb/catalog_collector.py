"""Collects a catalog answered over several MESSAGEs into one result (sans-I/O, virtual time).

Owns the multi-message rule of GB/T 28181-2016 Annex N (2022 Annex M; reference §4.4 and
pitfalls §10 item 6): every message repeats the query's SN and the total `SumNum`; messages
may arrive out of order, twice (UDP retransmits) or not at all, and `SumNum` may not match
what arrives. A collection is keyed by `QueryKey(device_id, CmdType.CATALOG, sn)`; items are
de-duplicated by item DeviceID (a later copy replaces an earlier one, order of first arrival
is kept); the target is the largest `SumNum` seen. It completes when the unique items reach
the target (at once for `SumNum` 0) and ends PARTIAL, keeping what arrived, when nothing
arrived for `inactivity_timeout` seconds or the `max_items` bound was hit.

Answers without a `start` (a device that volunteers its catalog, or a query sent before a
restart) are collected the same way. A collection whose `SumNum` never arrived (missing or
garbage) can only end by inactivity, as PARTIAL. Messages for a collection that already
finished are ignored for `inactivity_timeout` seconds afterwards, so late retransmits do not
start a second, bogus collection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.manscdp import CatalogResponse, CmdType


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


@dataclass(frozen=True, slots=True)
class CatalogResult:
    """A finished collection: the unique items in order of arrival."""

    key: QueryKey
    items: tuple[CatalogItem, ...]
    expected: int | None  # the largest SumNum seen; None if none was readable
    is_complete: bool


@dataclass(frozen=True, slots=True)
class CollectionProgress:
    """Where a collection stands; `result` is set by the call that finished it."""

    key: QueryKey
    received: int
    expected: int | None
    state: CollectionState
    result: CatalogResult | None = None


@dataclass(slots=True)
class _Collection:
    key: QueryKey
    last_activity: float
    expected: int | None = None
    items: dict[str, CatalogItem] = field(default_factory=dict)
    is_capped: bool = False

    def absorb(self, response: CatalogResponse, now: float, max_items: int) -> None:
        if response.sum_num is not None:
            self.expected = max(self.expected or 0, response.sum_num)
        for item in response.items:
            if item.device_id in self.items or len(self.items) < max_items:
                self.items[item.device_id] = item
            else:
                self.is_capped = True
        self.last_activity = now

    def finished_state(self, max_items: int) -> CollectionState | None:
        if self.expected is not None and len(self.items) >= self.expected:
            return CollectionState.COMPLETE
        if self.is_capped or len(self.items) >= max_items:
            return CollectionState.PARTIAL
        return None

    def progress(self, state: CollectionState) -> CollectionProgress:
        return CollectionProgress(self.key, len(self.items), self.expected, state)


@dataclass(frozen=True, slots=True)
class _Finished:
    progress: CollectionProgress
    forget_at: float


class CatalogCollector:
    """Pure catalog collector: driven by `start`, `add` and `tick`, each given `now`."""

    def __init__(self, settings: CollectorSettings | None = None) -> None:
        self._settings = settings or CollectorSettings()
        # Both kept in deadline order (given a `now` that never goes back): a collection
        # moves to the end when a message arrives, a finished one is added at the end. The
        # platform's timer asks `next_deadline` after every device event; scanning a
        # thousand entries each time cost more than the events at a registration burst.
        self._running: dict[QueryKey, _Collection] = {}
        self._finished: dict[QueryKey, _Finished] = {}

    def start(self, key: QueryKey, now: float) -> CollectionProgress:
        """Expect answers to the query `key`; starting a running collection changes nothing."""
        running = self._running.get(key)
        if running is not None:
            return running.progress(CollectionState.RUNNING)
        if len(self._running) >= self._settings.max_collections:
            return CollectionProgress(key, 0, None, CollectionState.REJECTED)
        self._finished.pop(key, None)
        collection = _Collection(key, last_activity=now)
        self._running[key] = collection
        return collection.progress(CollectionState.RUNNING)

    def add(self, response: CatalogResponse, now: float) -> CollectionProgress:
        """Take one catalog response message; the returned progress carries any result."""
        key = QueryKey.for_catalog(response)
        finished = self._finished.get(key)
        if finished is not None and key not in self._running:
            return finished.progress  # a late or retransmitted message: already reported
        collection = self._running.get(key)
        if collection is None:
            started = self.start(key, now)
            if started.state is CollectionState.REJECTED:
                return started
            collection = self._running[key]
        collection.absorb(response, now, self._settings.max_items)
        del self._running[key]
        self._running[key] = collection  # now the latest activity
        state = collection.finished_state(self._settings.max_items)
        if state is None:
            return collection.progress(CollectionState.RUNNING)
        return self._finish(collection, state, now)

    def tick(self, now: float) -> list[CatalogResult]:
        """End collections idle for `inactivity_timeout` as PARTIAL; forget old finished ones."""
        timeout = self._settings.inactivity_timeout
        idle: list[_Collection] = []
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

    def progress(self, key: QueryKey) -> CollectionProgress | None:
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
        self, collection: _Collection, state: CollectionState, now: float
    ) -> CollectionProgress:
        del self._running[collection.key]
        result = CatalogResult(
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
