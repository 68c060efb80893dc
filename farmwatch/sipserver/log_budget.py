"""A budget for the log lines peers can make us write.

Malformed datagrams cost a peer nothing to send; one log line each lets anyone fill the
disk (2,000 datagrams once wrote 2.7 MB of tracebacks). A `LogBudget` allows `burst`
lines per `window` seconds and counts the rest, so the next line allowed can say how
many were left out. Pure: the caller passes `now`.
"""

from __future__ import annotations


class LogBudget:
    """At most `burst` lines per `window` seconds; the lines over it are only counted."""

    def __init__(self, burst: int = 10, window: float = 60.0) -> None:
        self._burst = burst
        self._window = window
        self._window_start: float | None = None
        self._used = 0
        self._left_out = 0

    @property
    def left_out(self) -> int:
        """Lines refused since the last one allowed."""
        return self._left_out

    def take(self, now: float) -> int | None:
        """None: do not log this one. Otherwise log it, and the number says how many lines
        were left out since the previous one logged."""
        if self._window_start is None or now - self._window_start >= self._window:
            self._window_start, self._used = now, 0
        if self._used >= self._burst:
            self._left_out += 1
            return None
        self._used += 1
        left_out, self._left_out = self._left_out, 0
        return left_out
