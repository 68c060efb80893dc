"""A simulated device's registration and keepalive life (GB/T 28181-2016 §9.1, §9.6; ref. §3, §4.3).

`DeviceSession` is the pure state machine behind one simulated device, driven like every
core here by calls that carry `now`: `start`, the outcome of each REGISTER exchange
(`register_succeeded` / `register_failed`), of each keepalive (`keepalive_answered`),
`tick(now)` when `next_deadline()` comes, and `stop`. It answers with commands for the
shell (`SendRegister(expires)`, `SendKeepalive()`); it never sends anything itself.

    IDLE ─start→ REGISTERING ─200→ REGISTERED ─refresh at 80 %→ REGISTERING
                     │ fail                  │ keepalive 403/404, or N keepalives lost
                     ▼                        ▼
                  BACKOFF ─retry due→ REGISTERING      stop → UNREGISTERING → STOPPED

Retries back off exponentially from `retry_min` to `retry_max`, with jitter from an
injected `random.Random`. While silent (`set_silent(True)`) the device sends nothing at
all; once back it refreshes at once if the refresh came due meanwhile, else keepalives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum, StrEnum


class SessionState(StrEnum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    BACKOFF = "backoff"
    """Waiting before the first registration (ramp-up) or a retry."""
    UNREGISTERING = "unregistering"
    STOPPED = "stopped"


class KeepaliveOutcome(Enum):
    ACCEPTED = "accepted"  # 2xx
    REJECTED = "rejected"  # 403/404: the platform forgot us, register again at once
    LOST = "lost"  # timeout or any other answer: counts as a missed keepalive


@dataclass(frozen=True, slots=True)
class SessionTimers:
    """Times in seconds."""

    expires: int = 3600
    refresh_fraction: float = 0.8
    keepalive_interval: float = 60.0
    keepalive_lost_count: int = 3
    """Consecutive keepalives without a 200 after which the device registers again."""
    retry_min: float = 2.0
    retry_max: float = 60.0
    jitter: float = 0.2
    """Each retry delay is scaled by a random factor in [1 - jitter, 1 + jitter]."""


@dataclass(frozen=True, slots=True)
class SendRegister:
    expires: int
    """0 unregisters."""


@dataclass(frozen=True, slots=True)
class SendKeepalive:
    pass


Command = SendRegister | SendKeepalive


class DeviceSession:
    """Registration state, refresh, keepalive schedule and retry backoff of one device."""

    def __init__(self, timers: SessionTimers, rng: random.Random) -> None:
        self._timers = timers
        self._rng = rng
        self._state = SessionState.IDLE
        self._silent = False
        self._failures = 0
        self._lost_keepalives = 0
        self._keepalive_in_flight = False
        self._retry_at: float | None = None
        self._refresh_at: float | None = None
        self._keepalive_at: float | None = None
        self.granted: int | None = None

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def is_silent(self) -> bool:
        return self._silent

    @property
    def failures(self) -> int:
        """Consecutive failed registrations (0 once registered)."""
        return self._failures

    # -- inputs -----------------------------------------------------------------------

    def start(self, now: float, *, delay: float = 0.0) -> list[Command]:
        if self._state is not SessionState.IDLE:
            return []
        if delay > 0:
            self._state = SessionState.BACKOFF
            self._retry_at = now + delay
            return []
        return self._register()

    def register_succeeded(self, granted: int, now: float) -> list[Command]:
        if self._state is SessionState.UNREGISTERING:
            self._state = SessionState.STOPPED
            return []
        if self._state is not SessionState.REGISTERING:
            return []
        self._state = SessionState.REGISTERED
        self._failures = 0
        self._lost_keepalives = 0
        self.granted = granted
        self._refresh_at = now + max(granted * self._timers.refresh_fraction, 1.0)
        self._keepalive_at = now + self._timers.keepalive_interval
        return []

    def register_failed(self, now: float) -> list[Command]:
        if self._state is SessionState.UNREGISTERING:
            self._state = SessionState.STOPPED
            return []
        if self._state is not SessionState.REGISTERING:
            return []
        self._state = SessionState.BACKOFF
        self._retry_at = now + self.retry_delay(self._failures)
        self._failures += 1
        return []

    def keepalive_answered(self, outcome: KeepaliveOutcome, now: float) -> list[Command]:
        self._keepalive_in_flight = False
        if self._state is not SessionState.REGISTERED or self._silent:
            return []
        if outcome is KeepaliveOutcome.ACCEPTED:
            self._lost_keepalives = 0
            return []
        if outcome is KeepaliveOutcome.REJECTED:
            return self._register()
        self._lost_keepalives += 1
        if self._lost_keepalives >= self._timers.keepalive_lost_count:
            return self._register()
        return []

    def set_silent(self, silent: bool, now: float) -> list[Command]:
        self._silent = silent
        if silent or self._state is not SessionState.REGISTERED:
            return []
        self._keepalive_at = now  # back: tell the platform at once
        return self.tick(now)

    def tick(self, now: float) -> list[Command]:
        if self._silent:
            return []
        if self._state is SessionState.BACKOFF and self._due(self._retry_at, now):
            return self._register()
        if self._state is not SessionState.REGISTERED:
            return []
        if self._due(self._refresh_at, now):
            return self._register()
        if self._due(self._keepalive_at, now) and not self._keepalive_in_flight:
            self._keepalive_in_flight = True
            self._keepalive_at = now + self._timers.keepalive_interval
            return [SendKeepalive()]
        return []

    def reboot(self, now: float, delay: float) -> list[Command]:
        """TeleBoot: drop the registration and register afresh after `delay` (boot time)."""
        if self._state in (SessionState.IDLE, SessionState.UNREGISTERING, SessionState.STOPPED):
            return []
        self._state = SessionState.BACKOFF
        self._retry_at = now + delay
        self._refresh_at = self._keepalive_at = None
        self._keepalive_in_flight = False
        self._failures = 0
        return []

    def stop(self, now: float) -> list[Command]:
        """Unregister when a registration may be live; otherwise stop at once."""
        if self._state in (SessionState.REGISTERED, SessionState.REGISTERING):
            self._state = SessionState.UNREGISTERING
            return [SendRegister(0)]
        self._state = SessionState.STOPPED
        return []

    def unregister_finished(self) -> None:
        self._state = SessionState.STOPPED

    # -- timer --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self._silent:
            return None
        if self._state is SessionState.BACKOFF:
            return self._retry_at
        if self._state is not SessionState.REGISTERED:
            return None
        deadlines = [self._refresh_at]
        if not self._keepalive_in_flight:
            deadlines.append(self._keepalive_at)
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def retry_delay(self, failures: int) -> float:
        base = min(self._timers.retry_max, self._timers.retry_min * 2.0 ** min(failures, 30))
        jitter = self._timers.jitter
        factor: float = self._rng.uniform(1 - jitter, 1 + jitter)
        return base * factor

    # -- internals ----------------------------------------------------------------------

    def _register(self) -> list[Command]:
        self._state = SessionState.REGISTERING
        self._retry_at = None
        self._refresh_at = None
        self._keepalive_in_flight = False
        return [SendRegister(self._timers.expires)]

    @staticmethod
    def _due(deadline: float | None, now: float) -> bool:
        return deadline is not None and deadline <= now
