"""RTP port pool over `MediaSettings.port_range` (gb28181.md §6.2, §6.5, §10 item 3).

Owns which receive ports are in use: every stream takes an even RTP port and reserves the
odd port after it for RTCP (RFC 3550 §11), the same number for UDP and TCP. A port is drawn
at random among the free ones (`random.SystemRandom`), so the next stream's port cannot be
guessed from the last one's: with the SSRC, it was all a stranger needed to have their RTP
taken for the camera's (issue 13 item 5). The last quarter of the pool released stays out
of the draw (and is reused least recently released first when nothing else is free): a
device whose BYE got lost and that keeps streaming to its old port then hits an idle port,
not the next stream (the receivers' source and SSRC checks are the second guard). Pure;
randomness from an injectable `random.Random`.
"""

from __future__ import annotations

import random
from collections import deque

from farmwatch.media.errors import MediaError

__all__ = ["PortPool", "PortsExhausted"]


class PortsExhausted(MediaError):
    """Every RTP port of the range is in use."""


class PortPool:
    """Even RTP ports of `[start, end]` whose odd neighbour is in the range too."""

    def __init__(self, start: int, end: int, *, rng: random.Random | None = None) -> None:
        first = start + (start % 2)
        if not 0 < start <= end < 65536 or first + 1 > end:
            raise ValueError(f"port range {start}-{end} holds no even/odd port pair")
        self._rng = rng if rng is not None else random.SystemRandom()
        self._free = list(range(first, end, 2))  # drawn at random: swap with the last, pop
        self._released: deque[int] = deque()  # oldest first, kept out of the draw
        self._used: set[int] = set()
        self.capacity = len(self._free)
        self._quarantine = self.capacity // 4

    def allocate(self) -> int:
        """A random free even port (the least recently released when only those are left);
        raises `PortsExhausted`."""
        if self._free:
            index = self._rng.randrange(len(self._free))
            port = self._free[index]
            self._free[index] = self._free[-1]
            self._free.pop()
        elif self._released:
            port = self._released.popleft()
        else:
            raise PortsExhausted(f"all {self.capacity} RTP ports are in use")
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        """Give `port` back; releasing a port that is not in use does nothing."""
        if port in self._used:
            self._used.remove(port)
            self._released.append(port)
            if len(self._released) > self._quarantine:
                self._free.append(self._released.popleft())

    def set_aside(self, port: int) -> None:
        """Keep an allocated port out of the pool for good (another program holds it)."""
        self._used.discard(port)

    def is_in_use(self, port: int) -> bool:
        return port in self._used

    @property
    def in_use(self) -> int:
        return len(self._used)

    @property
    def available(self) -> int:
        return len(self._free) + len(self._released)
