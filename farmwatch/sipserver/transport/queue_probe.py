"""How long SIP datagrams wait in the socket before the platform reads them, and overload.

Past capacity, a UDP registrar's receive queue grows; every answer then leaves later than
the device's T1 (500 ms), every device retransmits, and the retransmissions are more work
still: goodput collapses. The loop's own lag does not show it (the loop turns quickly, it
is the queue that is long), so the queue is measured directly: every `interval` a small
datagram stamped with the loop clock is sent from a private socket on this host to the SIP
socket, and when the transport reads it, the stamp says how long it waited behind what the
devices sent (`QueueDelayProbe`). `OverloadGate` turns that delay into the share of new
registrations to admit; the registrar answers the others `503` with a `Retry-After` and
keeps serving the ones already under way (GB/T 28181 devices retry later), so that goodput
stays near capacity.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FILL_LIMIT", "PROBE_MAGIC", "OverloadGate", "QueueDelayProbe", "QueueReading"]

log = logging.getLogger(__name__)

PROBE_MAGIC = b"\x00farmwatch-queue-probe\x00"
"""No SIP message and no keep-alive ping starts with a NUL byte."""
_STAMP = struct.Struct("!d")


class OverloadGate:
    """What share of new registrations to admit, from the measured queue delay (pure).

    Additive increase, multiplicative decrease (the rate control of RFC 7415, driven by
    the delay rather than by the peers' reports): each measurement above `target` cuts
    the admitted share by `decrease`, each one at or below it adds `increase` back, so
    the share settles where the platform's capacity meets the offered load and the queue
    stays near `target`. Shedding everything while overloaded would let the queue drain
    and then admit a flood again: goodput would swing between nothing and a collapse.
    """

    def __init__(
        self,
        *,
        target: float,
        decrease: float = 0.8,
        increase: float = 0.05,
        minimum: float = 0.02,
    ) -> None:
        if target <= 0 or not 0 < decrease < 1 or not 0 < increase <= 1 or not 0 < minimum < 1:
            raise ValueError("overload gate: target > 0, 0 < decrease < 1, 0 < increase <= 1")
        self._target = target
        self._decrease = decrease
        self._increase = increase
        self._minimum = minimum
        self.share = 1.0
        """Of new registrations, the share to admit now (1.0: all)."""
        self.transitions = 0
        self._decreased_at = float("-inf")

    @property
    def is_overloaded(self) -> bool:
        return self.share < 1.0

    @property
    def target(self) -> float:
        """The queue delay (seconds) above which the share is cut."""
        return self._target

    def update(self, delay: float, *, sent_at: float, now: float) -> bool:
        """Feed the delay of a probe sent at `sent_at`; True when the gate opened fully or
        began to close.

        A probe that waited in the queue tells of the load when it was sent: only one sent
        after the last cut can tell whether that cut was enough, so each queue's worth of
        probes cuts once, not once per probe (which would shed far more than needed).
        """
        if delay > self._target:
            return self.cut(sent_at=sent_at, now=now)
        was_overloaded = self.is_overloaded
        self.share = min(1.0, self.share + self._increase)
        return self._transition(was_overloaded)

    def cut(self, *, sent_at: float, now: float) -> bool:
        """Overload seen in what arrived from `sent_at` on (a delay over the target, or a
        queue filling its buffer): cut the share, once per queue's worth as `update` does;
        True when the gate began to close."""
        was_overloaded = self.is_overloaded
        if sent_at > self._decreased_at:
            self.share = max(self._minimum, self.share * self._decrease)
            self._decreased_at = now
        return self._transition(was_overloaded)

    def _transition(self, was_overloaded: bool) -> bool:
        if self.is_overloaded is was_overloaded:
            return False
        self.transitions += 1
        return True


@dataclass(frozen=True, slots=True)
class QueueReading:
    """The receive queue read directly (`queue_meter.py`): its estimated wait at the tail,
    and how full its buffer is (0 to 1)."""

    delay: float
    fill: float


FILL_LIMIT = 0.5
"""A queue past half its buffer is overload whatever its estimated wait: the kernel drops
what does not fit, and where `net.core.rmem_max` keeps the buffer small it fills before
the wait reaches the target (at 4 MB it holds about 0.45 s of a storm's datagrams; at the
kernel's default 208 KB, a few hundredths of a second)."""


class QueueDelayProbe:
    """Stamped datagrams from a private socket to the SIP socket; see the module docstring.

    `meter`, when given, reads the queue directly at every probe: a queue whose estimated
    wait is over the gate's target, or that fills `FILL_LIMIT` of its buffer, cuts the gate
    at once, without waiting for a probe to come through it. Only probes open the gate
    again: the estimate counts the handling of datagrams, not the rest of the loop's work,
    so it may read short, never long."""

    def __init__(
        self,
        target: tuple[str, int],
        gate: OverloadGate,
        *,
        interval: float = 0.1,
        clock: Callable[[], float],
        meter: Callable[[], QueueReading] | None = None,
    ) -> None:
        self._target = target
        self._gate = gate
        self._interval = interval
        self._clock = clock
        self._meter = meter
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
        now = self._clock()
        self._note(max(0.0, now - stamp), stamp, now)

    def _note(self, delay: float, sent_at: float, now: float) -> None:
        self.delay = delay
        self.max_delay = max(self.max_delay, delay)
        self._log_transition(self._gate.update(delay, sent_at=sent_at, now=now))

    def _log_transition(self, changed: bool) -> None:
        if not changed:
            return
        if self._gate.is_overloaded:
            log.warning(
                "SIP overloaded: requests wait %.0f ms in the receive queue; new "
                "registrations are answered 503 until it drains",
                self.delay * 1000,
            )
        else:
            log.warning("SIP overload over: requests wait %.0f ms", self.delay * 1000)

    def _read_meter(self, now: float) -> None:
        if self._meter is None:
            return
        reading = self._meter()
        if reading.delay <= self._gate.target and reading.fill < FILL_LIMIT:
            return
        # What waits now arrived over the estimated wait: a cut made since then is not in it.
        self.delay = max(self.delay, reading.delay)
        self.max_delay = max(self.max_delay, reading.delay)
        self._log_transition(self._gate.cut(sent_at=now - reading.delay, now=now))

    def _send(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._send)
        if self._socket is None:
            return
        now = self._clock()
        self._read_meter(now)
        # A full receive queue drops probes too: then the wait of the oldest one still out
        # is the delay, at least.
        if self._unanswered_since is None:
            self._unanswered_since = now
        elif now - self._unanswered_since > max(self.delay, self._interval * 2):
            self._note(now - self._unanswered_since, self._unanswered_since, now)
        try:
            self._socket.sendto(PROBE_MAGIC + _STAMP.pack(now), self._target)
        except OSError as error:  # the SIP socket's buffer is full: that is overload too
            log.debug("queue probe not sent: %s", error)
