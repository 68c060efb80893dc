"""How long SIP datagrams wait in the socket before the platform reads them, and overload.

Past capacity, a UDP registrar's receive queue grows; every answer then leaves later than
the device's T1 (500 ms), every device retransmits, and the retransmissions are more work
still: goodput collapses. The loop's own lag does not show it (the loop turns quickly, it
is the queue that is long), so the queue is measured directly: every `interval` a small
datagram stamped with the loop clock is sent from a private socket on this host to the SIP
socket, and when the transport reads it, the stamp says how long it waited behind what the
devices sent (`QueueDelayProbe`). `OverloadGate` turns that delay into a state with
hysteresis: overloaded above `high`, clear again below `low`. The registrar then answers new
registrations `503` with a `Retry-After` and keeps serving the ones already under way
(GB/T 28181 devices retry later), so that goodput stays near capacity.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable

__all__ = ["PROBE_MAGIC", "OverloadGate", "QueueDelayProbe"]

log = logging.getLogger(__name__)

PROBE_MAGIC = b"\x00farmwatch-queue-probe\x00"
"""No SIP message and no keep-alive ping starts with a NUL byte."""
_STAMP = struct.Struct("!d")


class OverloadGate:
    """Overloaded while the queue delay is above `high`, until it falls below `low` (pure)."""

    def __init__(self, *, high: float, low: float) -> None:
        if not 0 < low <= high:
            raise ValueError(f"expected 0 < low <= high, got {low}, {high}")
        self._high = high
        self._low = low
        self.is_overloaded = False
        self.transitions = 0

    def update(self, delay: float) -> bool:
        """Feed one measured delay; True when the state changed."""
        state = delay > self._high if not self.is_overloaded else delay >= self._low
        if state is self.is_overloaded:
            return False
        self.is_overloaded = state
        self.transitions += 1
        return True


class QueueDelayProbe:
    """Stamped datagrams from a private socket to the SIP socket; see the module docstring."""

    def __init__(
        self,
        target: tuple[str, int],
        gate: OverloadGate,
        *,
        interval: float = 0.1,
        clock: Callable[[], float],
    ) -> None:
        self._target = target
        self._gate = gate
        self._interval = interval
        self._clock = clock
        self._socket: socket.socket | None = None
        self._source: tuple[str, int] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._unanswered_since: float | None = None  # first probe sent since one came back
        self.delay = 0.0
        """The last delay measured, seconds."""
        self.max_delay = 0.0

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind((self._target[0], 0))
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self._source = (str(host), int(port))
        self._send()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def is_probe(self, data: bytes, source: tuple[str | int, ...]) -> bool:
        return data.startswith(PROBE_MAGIC) and tuple(source[:2]) == self._source

    def received(self, data: bytes) -> None:
        """A probe came out of the queue: note how long it waited."""
        if len(data) < len(PROBE_MAGIC) + _STAMP.size:
            return
        (stamp,) = _STAMP.unpack_from(data, len(PROBE_MAGIC))
        self._unanswered_since = None
        self._note(max(0.0, self._clock() - stamp))

    def _note(self, delay: float) -> None:
        self.delay = delay
        self.max_delay = max(self.max_delay, delay)
        if self._gate.update(delay):
            if self._gate.is_overloaded:
                log.warning(
                    "SIP overloaded: requests wait %.0f ms in the receive queue; new "
                    "registrations are answered 503 until it drains",
                    self.delay * 1000,
                )
            else:
                log.warning("SIP overload over: requests wait %.0f ms", self.delay * 1000)

    def _send(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._send)
        if self._socket is None:
            return
        now = self._clock()
        # A full receive queue drops probes too: then the wait of the oldest one still out
        # is the delay, at least.
        if self._unanswered_since is None:
            self._unanswered_since = now
        elif now - self._unanswered_since > max(self.delay, self._interval * 2):
            self._note(now - self._unanswered_since)
        try:
            self._socket.sendto(PROBE_MAGIC + _STAMP.pack(now), self._target)
        except OSError as error:  # the SIP socket's buffer is full: that is overload too
            log.debug("queue probe not sent: %s", error)
