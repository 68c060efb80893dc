"""Login throttling per account and per source address: sliding windows of failures.

`LoginThrottle.check(account, source, now)` answers how long a login must wait (None: go
ahead) once `per_account` failures for that username, or `per_source` failures from that
address, fall within the last `window` seconds. Usernames are counted whether an account
exists or not, so throttling tells nothing about which accounts exist. Each key keeps only
its last `limit` failure times and at most `max_keys` keys are kept (the least recently
failed are forgotten first), so memory stays bounded under a spray of names or addresses.
This is the quick in-memory brake; the lasting lockout of an account after repeated
failures is kept on the account itself (`LoginService`). Pure: `now` is passed in.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = ["LoginThrottle", "SlidingWindow", "ThrottleLimits"]


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    window: float = 300.0
    per_account: int = 10
    per_source: int = 30
    max_keys: int = 100_000


class SlidingWindow:
    """Failure times per key in the last `window` seconds; a key is over the limit once it
    holds `limit` of them."""

    def __init__(self, window: float, limit: int, max_keys: int) -> None:
        if window <= 0 or limit < 1 or max_keys < 1:
            raise ValueError("window, limit and max_keys must be positive")
        self._window = window
        self._limit = limit
        self._max_keys = max_keys
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._times)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def count(self, key: str, now: float) -> int:
        times = self._recent(key, now)
        return 0 if times is None else len(times)

    def add(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            times = self._times[key] = deque(maxlen=self._limit)
            while len(self._times) > self._max_keys:
                self._times.popitem(last=False)
        else:
            self._times.move_to_end(key)
        times.append(now)

    def clear(self, key: str) -> None:
        self._times.pop(key, None)

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until `key` is under the limit again (None: it is now)."""
        times = self._recent(key, now)
        if times is None or len(times) < self._limit:
            return None
        return times[0] + self._window - now


class LoginThrottle:
    def __init__(self, limits: ThrottleLimits) -> None:
        self._accounts = SlidingWindow(limits.window, limits.per_account, limits.max_keys)
        self._sources = SlidingWindow(limits.window, limits.per_source, limits.max_keys)

    def check(self, account: str, source: str | None, now: float) -> float | None:
        """Seconds the login must wait, or None when it may be tried now."""
        waits = [self._accounts.retry_after(_account_key(account), now)]
        if source:
            waits.append(self._sources.retry_after(source, now))
        pending = [wait for wait in waits if wait is not None]
        return max(pending) if pending else None

    def record_failure(self, account: str, source: str | None, now: float) -> None:
        self._accounts.add(_account_key(account), now)
        if source:
            self._sources.add(source, now)

    def record_success(self, account: str) -> None:
        """A right password clears the account's failures (not its address's)."""
        self._accounts.clear(_account_key(account))


def _account_key(account: str) -> str:
    return account.strip().casefold()
