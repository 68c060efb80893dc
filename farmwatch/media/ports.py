"""RTP port pool over `MediaSettings.port_range` (gb28181.md §6.2, §6.5, §10 item 3).

Owns which receive ports are in use: every stream takes an even RTP port and reserves the
odd port after it for RTCP (RFC 3550 §11), the same number for UDP and TCP. Released ports go
to the back of the free list, so a port is handed out again as late as possible: a device
whose BYE got lost and that keeps streaming to its old port then hits an idle port for as long
as the pool allows, not the next stream (the receivers' SSRC lock is the second guard). Pure.
"""

from __future__ import annotations

from collections import deque

from farmwatch.media.errors import MediaError

__all__ = ["PortPool", "PortsExhausted"]


class PortsExhausted(MediaError):
    """Every RTP port of the range is in use."""


class PortPool:
    """Even RTP ports of `[start, end]` whose odd neighbour is in the range too."""

    def __init__(self, start: int, end: int) -> None:
        first = start + (start % 2)
        if not 0 < start <= end < 65536 or first + 1 > end:
            raise ValueError(f"port range {start}-{end} holds no even/odd port pair")
        self._free: deque[int] = deque(range(first, end, 2))
        self._used: set[int] = set()
        self.capacity = len(self._free)

    def allocate(self) -> int:
        """The least recently used free even port; raises `PortsExhausted`."""
        if not self._free:
            raise PortsExhausted(f"all {self.capacity} RTP ports are in use")
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        """Give `port` back; releasing a port that is not in use does nothing."""
        if port in self._used:
            self._used.remove(port)
            self._free.append(port)

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
        return len(self._free)
