"""Event-loop lag: how late the loop runs what is due, and who held it when it stalled.

Everything farmwatch does for thousands of devices and hundreds of streams runs on one
event loop, so one callback that holds it (a quadratic parser fed a crafted input, a big
synchronous decode) delays every keepalive, packet and HTTP request at once. This module
makes that visible (issue: "the event loop never stalls"):

* `LoopLagTracker` (pure) turns samples of lateness into statistics — a histogram, the
  largest lag, the count of stalls over the threshold — and decides when a stall is worth a
  log line (each stall, but at most one line per `log_interval`, the suppressed ones counted
  into the next line).
* `LoopLagMonitor` (the shell) schedules a callback every `interval` with `loop.call_at` and
  feeds the tracker how late it ran. A watchdog thread beside it notices a loop that has not
  ticked for `threshold` and records the stack the loop thread is executing at that moment,
  so that the log line names the code that held the loop, not only how long it was held.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass

__all__ = ["LAG_BUCKETS", "LoopLagMonitor", "LoopLagStats", "LoopLagTracker", "StallReport"]

log = logging.getLogger(__name__)

LAG_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Upper bounds (seconds) of the lag histogram's buckets; the last bucket is +Inf."""

_STACK_FRAMES = 6


@dataclass(frozen=True, slots=True)
class LoopLagStats:
    """Lag samples since the monitor started."""

    samples: int
    lag_sum: float
    max_lag: float
    stalls: int
    """Samples whose lag exceeded the threshold."""
    bucket_counts: tuple[int, ...]
    """Samples per bucket of `LAG_BUCKETS` (not cumulative), plus one for +Inf."""
    threshold: float


@dataclass(frozen=True, slots=True)
class StallReport:
    """What to log about a stall: its lag, and stalls left unlogged since the last line."""

    lag: float
    suppressed: int


class LoopLagTracker:
    """Lag statistics and the log-rate decision; pure (`now` comes in)."""

    def __init__(self, *, threshold: float, log_interval: float = 1.0) -> None:
        self.threshold = threshold
        self._log_interval = log_interval
        self._samples = 0
        self._sum = 0.0
        self._max = 0.0
        self._stalls = 0
        self._buckets = [0] * (len(LAG_BUCKETS) + 1)
        self._last_log_at: float | None = None
        self._suppressed = 0

    def sample(self, lag: float, now: float) -> StallReport | None:
        """Record one lag; a `StallReport` when it is a stall that should be logged now."""
        lag = max(lag, 0.0)
        self._samples += 1
        self._sum += lag
        self._max = max(self._max, lag)
        self._buckets[_bucket_of(lag)] += 1
        if lag <= self.threshold:
            return None
        self._stalls += 1
        last = self._last_log_at
        if last is not None and now - last < self._log_interval:
            self._suppressed += 1
            return None
        report = StallReport(lag, self._suppressed)
        self._last_log_at, self._suppressed = now, 0
        return report

    @property
    def stats(self) -> LoopLagStats:
        return LoopLagStats(
            samples=self._samples,
            lag_sum=self._sum,
            max_lag=self._max,
            stalls=self._stalls,
            bucket_counts=tuple(self._buckets),
            threshold=self.threshold,
        )


def _bucket_of(lag: float) -> int:
    for index, bound in enumerate(LAG_BUCKETS):
        if lag <= bound:
            return index
    return len(LAG_BUCKETS)


class LoopLagMonitor:
    """Samples the running loop's lag every `interval`; logs stalls over `threshold`."""

    def __init__(self, *, interval: float = 0.02, threshold: float = 0.05) -> None:
        if not 0 < interval < threshold:
            raise ValueError(f"expected 0 < interval < threshold, got {interval}, {threshold}")
        self._interval = interval
        self.tracker = LoopLagTracker(threshold=threshold)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due: float = 0.0
        # Written by the loop thread (beat) and the watchdog (stack); plain attribute
        # stores are atomic under the GIL, and a stale read only delays a report.
        self._beat = 0.0
        self._stack: str | None = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    @property
    def stats(self) -> LoopLagStats:
        return self.tracker.stats

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._beat = time.monotonic()
        self._schedule(loop.time())
        self._watchdog = threading.Thread(
            target=self._watch,
            args=(threading.get_ident(),),
            name="loop-lag-watchdog",
            daemon=True,
        )
        self._watchdog.start()

    async def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._stop.set()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            await asyncio.to_thread(watchdog.join, 1.0)

    def _schedule(self, now: float) -> None:
        assert self._loop is not None
        self._due = now + self._interval
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self._beat = time.monotonic()
        report = self.tracker.sample(now - self._due, now)
        stack, self._stack = self._stack, None
        if report is not None:
            log.warning(
                "event loop held for %.0f ms (threshold %.0f ms; %d more stalls since the "
                "last report); it was running: %s",
                report.lag * 1000,
                self.tracker.threshold * 1000,
                report.suppressed,
                stack or "(not caught in the act)",
                extra={"loop_lag_ms": round(report.lag * 1000, 1)},
            )
        self._schedule(now)

    def _watch(self, loop_thread: int) -> None:
        """Watchdog thread: catch the loop thread's stack while it holds the loop."""
        threshold = self.tracker.threshold
        reported_beat = -1.0
        while not self._stop.wait(self._interval):
            beat = self._beat
            if beat == reported_beat or time.monotonic() - beat < threshold:
                continue
            frame = sys._current_frames().get(loop_thread)
            if frame is None:
                continue
            summary = traceback.extract_stack(frame)[-_STACK_FRAMES:]
            self._stack = " <- ".join(
                f"{entry.name} ({'/'.join(entry.filename.rsplit('/', 2)[-2:])}:{entry.lineno})"
                for entry in reversed(summary)
            )
            reported_beat = beat
