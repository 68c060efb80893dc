"""Which of a repeated event to log: the first of a burst, then summaries (pure).

A device that loops on 403, or an attacker, repeats the same refused request many times
a second; one log line each would drown the log (gb28181.md §3.1: "rate-limit logging").
`BurstLog.record(key, now)` returns a `BurstReport` to log for the first event of a burst
and, while the burst goes on, once per `report_interval` (with the count since the last
report), else None. A burst ends after `quiet_after` seconds without an event of its key;
`ended(now)` returns the summaries of the bursts that ended (those with events not yet
reported), and `next_deadline()` says when to call it next. The table is bounded: past
`max_keys`, a new key's events are filed under its `overflow` key (e.g. one burst for
"other addresses" of a refusal, so an attack from ten thousand addresses writes one line,
not ten thousand) or, without one, the burst heard from least recently ends early.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from farmwatch.sipserver.sip.errors import LocalProtocolError

K = TypeVar("K", bound=Hashable)


class BurstStage(Enum):
    STARTED = "started"
    """The first event of a burst."""
    ONGOING = "ongoing"
    """The burst goes on; `count` events since the last report."""
    ENDED = "ended"
    """The burst is over; `count` events since the last report."""


@dataclass(frozen=True, slots=True)
class BurstReport(Generic[K]):
    key: K
    stage: BurstStage
    count: int
    """Events since the previous report of this burst (1 when it started)."""
    since: float
    """When the previous report was made (the burst's start for the first one)."""
    total: int
    """Events in the whole burst so far."""


@dataclass(slots=True)
class _Burst:
    started: float
    last_event: float
    last_report: float
    unreported: int
    total: int


class BurstLog(Generic[K]):
    """Bursts of events per key, bounded in number; no clock, no I/O."""

    def __init__(
        self,
        *,
        quiet_after: float = 60.0,
        report_interval: float = 300.0,
        max_keys: int = 4096,
        overflow: Callable[[K], K] | None = None,
    ) -> None:
        if quiet_after <= 0 or report_interval <= 0 or max_keys < 1:
            raise LocalProtocolError("burst log: intervals and max_keys must be positive")
        self._overflow = overflow
        self._quiet_after = quiet_after
        self._report_interval = report_interval
        self._max_keys = max_keys
        # Least recently heard from first, so the bursts that end first are at the front.
        self._bursts: OrderedDict[K, _Burst] = OrderedDict()
        # Reports of bursts ended inside `record` (evicted, or found quiet), kept for `ended`.
        self._pending: list[BurstReport[K]] = []
        self._pending_since: float | None = None

    def __len__(self) -> int:
        return len(self._bursts)

    def record(self, key: K, now: float) -> BurstReport[K] | None:
        """One event of `key`: the report to log now, or None."""
        burst = self._bursts.get(key)
        if burst is None and self._overflow is not None and len(self._bursts) >= self._max_keys:
            key = self._overflow(key)
            burst = self._bursts.get(key)
        if burst is not None and now - burst.last_event >= self._quiet_after:
            self._end(key, burst, now)
            burst = None
        if burst is None:
            self._bursts[key] = _Burst(now, now, now, 0, 1)
            while len(self._bursts) > self._max_keys:
                old_key, old = self._bursts.popitem(last=False)
                self._end(old_key, old, now, popped=True)
            return BurstReport(key, BurstStage.STARTED, 1, now, 1)
        self._bursts.move_to_end(key)
        burst.last_event = now
        burst.unreported += 1
        burst.total += 1
        if now - burst.last_report < self._report_interval:
            return None
        report = BurstReport(key, BurstStage.ONGOING, burst.unreported, burst.last_report,
                             burst.total)  # fmt: skip
        burst.last_report, burst.unreported = now, 0
        return report

    def ended(self, now: float) -> list[BurstReport[K]]:
        """Summaries of the bursts quiet for `quiet_after` by `now` (those with news)."""
        while self._bursts:
            key, burst = next(iter(self._bursts.items()))
            if now - burst.last_event < self._quiet_after:
                break
            self._end(key, burst, now)
        reports, self._pending, self._pending_since = self._pending, [], None
        return reports

    def next_deadline(self) -> float | None:
        deadline = self._pending_since
        for burst in self._bursts.values():
            quiet_at = burst.last_event + self._quiet_after
            return quiet_at if deadline is None else min(deadline, quiet_at)
        return deadline

    def _end(self, key: K, burst: _Burst, now: float, *, popped: bool = False) -> None:
        if not popped:
            del self._bursts[key]
        if burst.unreported:
            self._pending.append(
                BurstReport(
                    key, BurstStage.ENDED, burst.unreported, burst.last_report, burst.total
                )  # fmt: skip
            )
            if self._pending_since is None:
                self._pending_since = now
