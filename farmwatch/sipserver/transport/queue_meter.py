"""How long a datagram now waits in a socket's receive queue, estimated from its fill.

A SIP front shares its UDP port with the platform and the other fronts (`SO_REUSEPORT`),
so the platform's probe (`transport/queue_probe.py`), a datagram sent to the port, may be
read by any of them. A front reads its own queue instead, and the platform reads its own
beside the probe (a probe tells only once it has waited its turn; the fill is there at
once, when a storm begins). `SO_MEMINFO` gives the bytes queued in the kernel's
accounting (`truesize`: the payload's allocation, a power of two with room for headers,
plus the buffer's bookkeeping: 1,280 bytes for a keepalive, 2,304 for a REGISTER with its
digest), which `truesize` estimates from each datagram's length so that the queue's
length in datagrams is known; times the reader's own time per datagram, that is the wait
of the datagram at the queue's tail. It feeds the same `OverloadGate` as the probe does.
Linux only (`SO_MEMINFO`, 4.6 and newer); elsewhere the queue reads as empty.
"""

from __future__ import annotations

import socket
import struct

_SO_MEMINFO = getattr(socket, "SO_MEMINFO", 55)
_MEMINFO = struct.Struct("=9I")  # SK_MEMINFO_RMEM_ALLOC is the first of the nine
_OVERHEAD = 384
"""Bytes the kernel allocates beside a datagram's payload in the same buffer (headers'
room and the shared info), measured on Linux 6 over loopback: payloads of 100, 500, 640,
700, 1,400, 1,700 and 3,500 bytes are accounted 832, 1,280, 1,280, 2,304, 2,304, 4,352
and 4,352 bytes."""


def truesize(length: int) -> int:
    """The kernel's accounting of a queued datagram of `length` bytes (see `_OVERHEAD`)."""
    return 256 + max(576, 1 << (length + _OVERHEAD - 1).bit_length())


def queued_bytes(sock: socket.socket) -> int:
    """The receive queue's fill in the kernel's accounting; 0 where it cannot be read."""
    return queue_fill(sock)[0]


def queue_fill(sock: socket.socket) -> tuple[int, int]:
    """(bytes queued, the receive buffer's size) in the kernel's accounting, the size being
    the most it holds before it drops; (0, 0) where it cannot be read."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, _MEMINFO.size)
    except OSError:
        return 0, 0
    if len(raw) < _MEMINFO.size:
        return 0, 0
    allocated, size = _MEMINFO.unpack(raw)[:2]  # SK_MEMINFO_RMEM_ALLOC, SK_MEMINFO_RCVBUF
    return int(allocated), int(size)


class ServiceClock:
    """The mean time one datagram took to handle and its mean `truesize`, over the last
    measuring interval (pure).

    `add` is called with each datagram's handling time and length; `delay` closes the
    interval and estimates the wait at the tail of a queue of `queued` kernel bytes.
    """

    def __init__(self, initial: float = 100e-6) -> None:
        self._busy = 0.0
        self._bytes = 0
        self._count = 0
        self.mean = initial
        self.mean_truesize = float(truesize(500))

    def add(self, seconds: float, length: int) -> None:
        self._busy += seconds
        self._bytes += truesize(length)
        self._count += 1

    def delay(self, queued: int) -> float:
        if self._count >= 16:  # too few to say more than the last interval did
            self.mean = self._busy / self._count
            self.mean_truesize = self._bytes / self._count
            self._busy, self._bytes, self._count = 0.0, 0, 0
        return queued / self.mean_truesize * self.mean
