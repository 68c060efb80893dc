"""Stateless digest nonces and nonce-count replay tracking (RFC 7616 §3.3, §5.5).

`NonceIssuer` makes nonces that carry their issue time and a MAC (keyed BLAKE2s, a third
of HMAC-SHA256's cost, and as strong) under a per-process secret, as Asterisk and
Kamailio do, so checking one needs no table of issued nonces: a
nonce is VALID while younger than the lifetime, STALE after (answer 401 with
`stale=true`), and INVALID when forged, tampered with or issued by another process.
The MAC also covers a `binding` the caller chooses (the registrar: the request's source
and Call-ID), so a nonce answered from anywhere else is INVALID too: a captured answer
cannot be replayed from another address.

`NonceCountTracker` remembers, per nonce, the highest `nc` accepted, so a replayed
request (nc not above the last one) is refused; an answer without qop counts as nc=1,
so it is good once. Its table is bounded: entries
die with their nonce and the oldest are dropped beyond `max_entries`; after such an
eviction it fails closed, refusing first uses of nonces that expire no later than the
evicted one (the client is simply challenged again).

Pure: the time always comes in as `now` (seconds, any epoch the caller uses consistently).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from farmwatch.sipserver.sip.errors import LocalProtocolError

DEFAULT_NONCE_LIFETIME = 300.0
"""Seconds a nonce stays valid; field devices are slow to answer a challenge."""

# Layout (40 lower-case hex digits, which every device firmware accepts):
# 12 digits issue time in ms | 4 digits sequence | 24 digits of keyed BLAKE2s.
_TIME_DIGITS = 12
_SEQUENCE_DIGITS = 4
_MAC_DIGITS = 24
_PREFIX_DIGITS = _TIME_DIGITS + _SEQUENCE_DIGITS
_NONCE_LENGTH = _PREFIX_DIGITS + _MAC_DIGITS
_HEX_DIGITS = frozenset("0123456789abcdef")
_FUTURE_TOLERANCE = 1.0
"""A nonce issued more than this many seconds "after" `now` is not one of ours."""


class NonceState(Enum):
    """What `NonceIssuer.check` concluded about a nonce."""

    VALID = "valid"
    STALE = "stale"
    """Ours but expired: re-challenge with `stale=true`."""
    INVALID = "invalid"
    """Not issued by this process (forged, tampered, or from before a restart)."""


class NonceIssuer:
    """Issues and checks self-authenticating nonces (no per-nonce storage)."""

    def __init__(self, secret: bytes, *, lifetime: float = DEFAULT_NONCE_LIFETIME) -> None:
        if len(secret) < 16:
            raise LocalProtocolError("nonce secret must be at least 16 bytes")
        if lifetime <= 0:
            raise LocalProtocolError(f"nonce lifetime must be positive, got {lifetime}")
        # BLAKE2s takes keys up to 32 bytes: a longer secret is hashed down to one.
        self._key = secret if len(secret) <= 32 else hashlib.blake2s(secret).digest()
        self._sequence = 0
        self.lifetime = lifetime

    def issue(self, now: float, binding: str = "") -> str:
        """A fresh nonce, good only with the same `binding`; `now` must not be negative."""
        issued_ms = int(now * 1000)
        if not 0 <= issued_ms < 16**_TIME_DIGITS:
            raise LocalProtocolError(f"time out of range for a nonce: {now}")
        self._sequence = (self._sequence + 1) % 16**_SEQUENCE_DIGITS
        prefix = f"{issued_ms:0{_TIME_DIGITS}x}{self._sequence:0{_SEQUENCE_DIGITS}x}"
        return prefix + self._mac(prefix, binding)

    def check(self, nonce: str, now: float, binding: str = "") -> NonceState:
        return self.state(self.issued_at(nonce, binding), now)

    def state(self, issued_at: float | None, now: float) -> NonceState:
        """Classify a nonce from its `issued_at` (None: not authentic) at time `now`."""
        if issued_at is None or issued_at > now + _FUTURE_TOLERANCE:
            return NonceState.INVALID
        if now - issued_at > self.lifetime:
            return NonceState.STALE
        return NonceState.VALID

    def issued_at(self, nonce: str, binding: str = "") -> float | None:
        """The issue time of one of our nonces issued with `binding`, else None."""
        if len(nonce) != _NONCE_LENGTH or not _HEX_DIGITS.issuperset(nonce):
            return None
        prefix = nonce[:_PREFIX_DIGITS]
        if not hmac.compare_digest(nonce[_PREFIX_DIGITS:], self._mac(prefix, binding)):
            return None
        return int(prefix[:_TIME_DIGITS], 16) / 1000

    def _mac(self, prefix: str, binding: str) -> str:
        # The prefix has a fixed length, so prefix + binding is unambiguous.
        return hashlib.blake2s(
            (prefix + binding).encode(), key=self._key, digest_size=_MAC_DIGITS // 2
        ).hexdigest()


@dataclass(slots=True)
class _Tracked:
    expires_at: float
    last_count: int


class NonceCountTracker:
    """The last accepted `nc` of each nonce used, bounded in time and size."""

    def __init__(self, *, max_entries: int = 65536) -> None:
        if max_entries < 1:
            raise LocalProtocolError(f"max_entries must be positive, got {max_entries}")
        self._entries: OrderedDict[str, _Tracked] = OrderedDict()
        self._evicted_until = float("-inf")
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def accept(self, nonce: str, count: int, *, expires_at: float, now: float) -> bool:
        """Record `count` for `nonce` if it is fresh; False means a replay."""
        self._expire(now)
        entry = self._entries.get(nonce)
        if entry is not None:
            if count <= entry.last_count:
                return False
            entry.last_count = count
            return True
        if expires_at <= self._evicted_until:
            return False  # it may have been tracked and evicted: fail closed
        self._entries[nonce] = _Tracked(expires_at, count)
        while len(self._entries) > self.max_entries:
            _, evicted = self._entries.popitem(last=False)
            self._evicted_until = max(self._evicted_until, evicted.expires_at)
        return True

    def _expire(self, now: float) -> None:
        """Drop expired entries from the old end (insertion order ≈ expiry order)."""
        while self._entries:
            nonce, entry = next(iter(self._entries.items()))
            if entry.expires_at > now:
                return
            del self._entries[nonce]
