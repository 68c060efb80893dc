"""Throttling of failed authentications per device ID and per source host (pure).

A password guesser tries many answers, for one device ID from many hosts or for many
IDs from one host. `AuthThrottle` counts failures (wrong password, unknown device,
another realm: whatever the registrar refuses with 403 after a challenge) in a fixed
window per device ID and per source host. A key that reaches its limit is blocked for
`block` seconds, doubling with each block that follows within `max_block` of the last
failure, up to `max_block`; while it is blocked, attempts are refused before any
digest is computed (`block_for`). Unknown and stale nonces are not failures: they are
how every device starts and how a device behind a restarted platform or a moved NAT
mapping comes back, many at once behind one NAT host.

The real device is not locked out by an attack on its ID: a source host the device is
registered from, or last authenticated from (`trusted_host`), is exempt for that ID
(the registrar asks `is_trusted` before refusing). The price is that a guesser on the
same host as the device is not throttled for that device's ID.

Both tables are bounded (`max_entries` each, least recently failing dropped first,
which lifts its block early) and entries die `max_block` after their last failure or
block. No clock, no I/O: `now` comes in.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from farmwatch.sipserver.sip.errors import LocalProtocolError


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    max_failures_per_device: int = 5
    """Failures for one device ID within `window` that block the ID."""
    max_failures_per_host: int = 20
    """Failures from one source host within `window` that block the host."""
    window: float = 60.0
    block: float = 60.0
    """The first block; each further one doubles, up to `max_block`."""
    max_block: float = 900.0
    max_entries: int = 10_000
    """Per table (device IDs, hosts, trusted hosts)."""

    def __post_init__(self) -> None:
        if min(self.max_failures_per_device, self.max_failures_per_host, self.max_entries) < 1:
            raise LocalProtocolError("auth throttle: limits must be at least 1")
        if not (self.window > 0 and 0 < self.block <= self.max_block):
            raise LocalProtocolError("auth throttle: expected 0 < window, 0 < block <= max_block")


class ThrottleScope(StrEnum):
    DEVICE = "device"
    HOST = "host"


@dataclass(frozen=True, slots=True)
class Block:
    """A device ID or source host whose attempts are refused until `until`."""

    scope: ThrottleScope
    key: str
    until: float
    duration: float
    failures: int
    """Failures within the window that started it."""


@dataclass(frozen=True, slots=True)
class ThrottleStats:
    failures: int
    """Failed authentications counted."""
    refused: int
    """Attempts refused because their device ID or host was blocked."""
    blocks: int
    """Blocks started."""
    tracked: int
    """Device IDs and hosts with failures remembered now."""


@dataclass(slots=True)
class _Counter:
    window_start: float
    failures: int
    last_failure: float
    blocked_until: float = float("-inf")
    strikes: int = 0


class _Counters:
    """Failures per key in one bounded table, least recently failing first."""

    def __init__(self, scope: ThrottleScope, limit: int, settings: ThrottleSettings) -> None:
        self._scope = scope
        self._limit = limit
        self._settings = settings
        self._entries: OrderedDict[str, _Counter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def block_for(self, key: str, now: float) -> Block | None:
        counter = self._entries.get(key)
        if counter is None or counter.blocked_until <= now:
            return None
        duration = self._duration(counter.strikes - 1)
        return Block(self._scope, key, counter.blocked_until, duration, self._limit)

    def failed(self, key: str, now: float) -> Block | None:
        """Count one failure; the block it starts, if any."""
        self._forget(now)
        settings = self._settings
        counter = self._entries.get(key)
        if counter is None or now >= self._forget_at(counter):
            counter = _Counter(window_start=now, failures=0, last_failure=now)
            self._entries[key] = counter
            while len(self._entries) > settings.max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        if now - counter.window_start >= settings.window:
            counter.window_start, counter.failures = now, 0
        counter.failures += 1
        counter.last_failure = now
        if counter.failures < self._limit or counter.blocked_until > now:
            return None
        duration = self._duration(counter.strikes)
        counter.strikes += 1
        counter.blocked_until = now + duration
        failures, counter.window_start, counter.failures = counter.failures, now, 0
        return Block(self._scope, key, counter.blocked_until, duration, failures)

    def _duration(self, strikes: int) -> float:
        settings = self._settings
        doubled: float = settings.block * 2.0 ** min(strikes, 32)
        return min(doubled, settings.max_block)

    def _forget_at(self, counter: _Counter) -> float:
        return max(counter.blocked_until, counter.last_failure) + self._settings.max_block

    def _forget(self, now: float) -> None:
        while self._entries:
            key, counter = next(iter(self._entries.items()))
            if now < self._forget_at(counter):
                return
            del self._entries[key]


class AuthThrottle:
    """Failed authentications per device ID and per source host; see the module doc."""

    def __init__(self, settings: ThrottleSettings | None = None) -> None:
        self.settings = settings = settings or ThrottleSettings()
        self._devices = _Counters(ThrottleScope.DEVICE, settings.max_failures_per_device, settings)
        self._hosts = _Counters(ThrottleScope.HOST, settings.max_failures_per_host, settings)
        self._trusted: OrderedDict[str, str] = OrderedDict()
        self._failures = 0
        self._refused = 0
        self._blocks = 0

    @property
    def stats(self) -> ThrottleStats:
        tracked = len(self._devices) + len(self._hosts)
        return ThrottleStats(self._failures, self._refused, self._blocks, tracked)

    def block_for(self, device_id: str, host: str, now: float) -> Block | None:
        """The block that applies to an attempt for `device_id` from `host`, if any.

        Pure lookup; the caller exempts trusted hosts (`is_trusted`) and then calls
        `refused` to count the refusal."""
        return self._hosts.block_for(host, now) or self._devices.block_for(device_id, now)

    def is_trusted(self, device_id: str, host: str, registered_host: str | None) -> bool:
        """True when `host` is where the device is registered or last authenticated from."""
        return host == registered_host or self._trusted.get(device_id) == host

    def refused(self) -> None:
        self._refused += 1

    def failed(self, device_id: str, host: str, now: float) -> list[Block]:
        """Count a failed authentication; the blocks it starts (to log)."""
        self._failures += 1
        blocks = [
            block
            for block in (self._devices.failed(device_id, now), self._hosts.failed(host, now))
            if block is not None
        ]
        self._blocks += len(blocks)
        return blocks

    def succeeded(self, device_id: str, host: str) -> None:
        """The device authenticated from `host`: trusted for it from now on."""
        trusted = self._trusted
        if trusted.get(device_id) != host:
            trusted[device_id] = host
        trusted.move_to_end(device_id)
        while len(trusted) > self.settings.max_entries:
            trusted.popitem(last=False)
