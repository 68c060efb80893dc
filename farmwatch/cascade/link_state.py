"""The life of one upper link, without I/O: register, refresh, keepalive, lose, retry.

`LinkCore` is driven by what happened (`registered`, `register_failed`, `keepalive_answered`)
and by `tick(now)`, and returns what to do (`Register`, `SendKeepalive`); the shell sends
and reports back. Liveness is judged on our own clock, never on a transaction's fate
(field-notes.md §2.3 item 11: over UDP a keepalive that meets only ICMP errors may never time
out): the upper is lost when no keepalive was answered for `interval × timeout_count`
seconds. A lost or refused link is registered to again after a backoff that doubles from
`retry_interval` up to ten times it, with ±20 % jitter so that many lower platforms do not
return to a restarted upper in step; the miss count restarts with every registration.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["LinkAction", "LinkCore", "LinkState", "Register", "SendKeepalive"]

REFRESH_AT = 0.8
"""Refresh a registration when this share of its granted expiry has passed."""
MAX_BACKOFF_FACTOR = 10
JITTER = 0.2


class LinkState(StrEnum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    RETRY_WAIT = "retry-wait"
    """Refused or lost: waiting to register again."""
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Register:
    """Send REGISTER (a first one, a refresh, or a retry)."""

    is_refresh: bool


@dataclass(frozen=True, slots=True)
class SendKeepalive:
    pass


LinkAction = Register | SendKeepalive


class LinkCore:
    def __init__(
        self,
        *,
        expires: int,
        keepalive_interval: float,
        keepalive_timeout_count: int,
        retry_interval: float,
        rng: random.Random | None = None,
    ) -> None:
        self.expires = expires
        self._interval = keepalive_interval
        self._timeout_count = keepalive_timeout_count
        self._retry_interval = retry_interval
        self._rng = rng if rng is not None else random.Random()
        self.state = LinkState.IDLE
        self.failures = 0
        """Failed registrations since the last success (the backoff's exponent)."""
        self.last_error: str | None = None
        self.registered_at: float | None = None
        self.last_keepalive_ok: float | None = None
        self.keepalive_misses = 0
        self._refresh_at: float | None = None
        self._keepalive_at: float | None = None
        self._retry_at: float | None = None
        self._keepalive_pending = False

    # -- events -------------------------------------------------------------------------

    def start(self, now: float) -> list[LinkAction]:
        if self.state is not LinkState.IDLE:
            return []
        self.state = LinkState.REGISTERING
        return [Register(is_refresh=False)]

    def registered(self, granted: int, now: float) -> list[LinkAction]:
        """The upper answered 200 with `granted` seconds; keepalives start at once (the
        upper learns we are alive before the first interval passes)."""
        if self.state is LinkState.STOPPED:
            return []
        was_registered = self.state is LinkState.REGISTERED
        self.state = LinkState.REGISTERED
        self.failures = 0
        self.last_error = None
        self.registered_at = now
        self._refresh_at = now + max(granted * REFRESH_AT, 1.0)
        self._retry_at = None
        if was_registered:
            return []
        self.keepalive_misses = 0
        self.last_keepalive_ok = now
        self._keepalive_at = now + self._interval
        self._keepalive_pending = True
        return [SendKeepalive()]

    def register_failed(self, reason: str, now: float) -> list[LinkAction]:
        if self.state is LinkState.STOPPED:
            return []
        self.last_error = reason
        self._wait_to_retry(now)
        return []

    def keepalive_sent(self, now: float) -> None:
        self._keepalive_pending = False

    def keepalive_answered(self, ok: bool, now: float) -> list[LinkAction]:
        """A keepalive's final answer: only a 200 counts; anything else is a miss on its
        own, but liveness is judged in `tick`."""
        if self.state is not LinkState.REGISTERED:
            return []
        if ok:
            self.last_keepalive_ok = now
            self.keepalive_misses = 0
        else:
            self.keepalive_misses += 1
        return []

    def stop(self) -> bool:
        """Stop the link; True when it was registered (an unregister is owed)."""
        was_registered = self.state is LinkState.REGISTERED
        self.state = LinkState.STOPPED
        self._refresh_at = self._keepalive_at = self._retry_at = None
        return was_registered

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: float) -> list[LinkAction]:
        actions: list[LinkAction] = []
        if self.state is LinkState.RETRY_WAIT and self._retry_at is not None:
            if now >= self._retry_at:
                self._retry_at = None
                self.state = LinkState.REGISTERING
                actions.append(Register(is_refresh=False))
            return actions
        if self.state is not LinkState.REGISTERED:
            return actions
        assert self.last_keepalive_ok is not None
        if now - self.last_keepalive_ok >= self._interval * self._timeout_count:
            self.last_error = (
                f"no keepalive answered for {now - self.last_keepalive_ok:.0f} s "
                f"({self._timeout_count} × {self._interval:g} s)"
            )
            self._wait_to_retry(now, immediately=self.failures == 0)
            return self.tick(now)
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            actions.append(Register(is_refresh=True))
        if self._keepalive_at is not None and now >= self._keepalive_at:
            if self._keepalive_pending:  # the last one was never sent (the shell was busy)
                self.keepalive_misses += 1
            self._keepalive_at = now + self._interval
            self._keepalive_pending = True
            actions.append(SendKeepalive())
        return actions

    def next_deadline(self) -> float | None:
        if self.state is LinkState.RETRY_WAIT:
            return self._retry_at
        if self.state is not LinkState.REGISTERED:
            return None
        assert self.last_keepalive_ok is not None
        lost_at = self.last_keepalive_ok + self._interval * self._timeout_count
        return min(t for t in (self._refresh_at, self._keepalive_at, lost_at) if t is not None)

    def _wait_to_retry(self, now: float, *, immediately: bool = False) -> None:
        """Registering again: at once the first time a working link is lost (the upper may
        only have restarted), after a growing, jittered delay otherwise."""
        self.state = LinkState.RETRY_WAIT
        self._refresh_at = self._keepalive_at = None
        if immediately:
            delay = 0.0
        else:
            factor = min(2.0**self.failures, MAX_BACKOFF_FACTOR)
            jitter = 1 + self._rng.uniform(-JITTER, JITTER)
            delay = self._retry_interval * factor * jitter
        self.failures += 1
        self._retry_at = now + delay
