"""How long a datagram now waits in a socket's receive queue, estimated from its fill.

A SIP front shares its UDP port with the platform and the other fronts (`SO_REUSEPORT`),
so the platform's probe (`transport/queue_probe.py`), a datagram sent to the port, may be
read by any of them. A front reads its own queue instead: `SO_MEMINFO` gives the bytes
queued (the kernel's accounting, `truesize`, some 1.3 KiB for a datagram of a few hundred
bytes on this path), and the front measures its own time per datagram; their product is
the wait of the datagram at the queue's tail. It feeds the same `OverloadGate` as the
probe does. Linux only (`SO_MEMINFO`, 4.6 and newer); elsewhere the queue reads as empty.
"""

from __future__ import annotations

import socket
import struct

_SO_MEMINFO = getattr(socket, "SO_MEMINFO", 55)
_MEMINFO = struct.Struct("=9I")  # SK_MEMINFO_RMEM_ALLOC is the first of the nine
TRUESIZE_PER_DATAGRAM = 1280
"""Kernel bytes a queued SIP datagram of a few hundred bytes is accounted at (loopback
and Ethernet alike: the payload's slab plus the sk_buff)."""


def queued_bytes(sock: socket.socket) -> int:
    """The receive queue's fill in the kernel's accounting; 0 where it cannot be read."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, _MEMINFO.size)
    except OSError:
        return 0
    if len(raw) < _MEMINFO.size:
        return 0
    return int(_MEMINFO.unpack(raw)[0])


class ServiceClock:
    """The mean time one datagram took to handle, over the last measuring interval (pure).

    `add` is called with each datagram's handling time; `take` closes the interval.
    """

    def __init__(self, initial: float = 100e-6) -> None:
        self._busy = 0.0
        self._count = 0
        self.mean = initial

    def add(self, seconds: float) -> None:
        self._busy += seconds
        self._count += 1

    def take(self) -> float:
        if self._count >= 16:  # too few to say more than the last interval did
            self.mean = self._busy / self._count
            self._busy, self._count = 0.0, 0
        return self.mean


def estimated_delay(queued: int, service_time: float) -> float:
    """Seconds the datagram at the tail of a queue of `queued` kernel bytes waits."""
    return (queued / TRUESIZE_PER_DATAGRAM) * service_time
