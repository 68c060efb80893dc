"""The express path's server transactions: final responses kept for retransmissions.

A non-INVITE server transaction over UDP answers a retransmitted request with the same
final response until timer J (64·T1) runs out (RFC 3261 §17.2.2). For requests answered
at once with a final response, that state is exactly the response bytes, so the express
path keeps only those, in arrival order: every entry lives equally long, so the oldest
is always first and expiry pops from the front. An `OrderedDict`, because a plain dict
popped from the front keeps its deleted slots and `next(iter(...))` walks over them
(8 µs a call in a storm, measured).

The dict is bounded: in a storm beyond `max_entries` the oldest responses are dropped
early. A retransmission arriving after that is handled again as a new request, which is
harmless for what the express path handles (a REGISTER is re-checked and re-bound with
the same result, a keepalive is counted again).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class ResponseCache:
    """Final responses by transaction key, each kept for `lifetime` seconds."""

    def __init__(self, lifetime: float, max_entries: int) -> None:
        if lifetime < 0 or max_entries < 1:
            raise ValueError("lifetime must be >= 0 and max_entries >= 1")
        self._lifetime = lifetime
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: float) -> bytes | None:
        """The response sent for `key`, if its transaction still lives at `now`."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def put(self, key: Hashable, response: bytes, now: float) -> None:
        """Remember `response` for `key` until `now + lifetime`; drop what has expired."""
        entries = self._entries
        self.expire(now)
        if key in entries:
            del entries[key]  # re-inserted below, at the end: the dict stays in expiry order
        elif len(entries) >= self._max_entries:
            entries.popitem(last=False)
        entries[key] = (now + self._lifetime, response)

    def expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            key = next(iter(entries))
            if entries[key][0] > now:
                return
            entries.popitem(last=False)
