"""SIP transaction timers (RFC 3261 §17 and Table 4 of Appendix A, RFC 6026 §8.4).

`TimerTable` holds the three base values T1, T2 and T4 and derives every lettered
timer from them, so a test can build `TimerTable(t1=0.5)` (or anything else) and step
`now` by hand. Timers whose value depends on the transport (D, I, J, K) are given for
an unreliable transport; over TCP they are zero (the transaction applies that).
`TimedMachine` is the base of the four transaction state machines: it keeps their
armed timers as deadlines keyed by the RFC-named input (`TIMER_A`, ...), fires every
due one on `tick(now)` and reports the earliest as `next_deadline()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar


@dataclass(frozen=True, slots=True)
class TimerTable:
    """RFC 3261 base timer values in seconds; lettered timers are derived."""

    t1: float = 0.5
    """RTT estimate; the initial retransmission interval."""
    t2: float = 4.0
    """Maximum retransmission interval for non-INVITE requests and INVITE responses."""
    t4: float = 5.0
    """Maximum time a message stays in the network."""
    d_unreliable: float = 32.0
    """Timer D over UDP: wait for retransmitted final responses (RFC: at least 32 s)."""
    trying_delay: float = 0.2
    """INVITE server: send 100 Trying if the TU has not answered by then (§17.2.1)."""

    @property
    def a(self) -> float:
        """INVITE request retransmit interval, initially T1 (UDP only)."""
        return self.t1

    @property
    def b(self) -> float:
        """INVITE transaction timeout: 64*T1."""
        return 64 * self.t1

    @property
    def d(self) -> float:
        """Wait time for response retransmissions (UDP; 0 over TCP)."""
        return self.d_unreliable

    @property
    def e(self) -> float:
        """Non-INVITE request retransmit interval, initially T1 (UDP only)."""
        return self.t1

    @property
    def f(self) -> float:
        """Non-INVITE transaction timeout: 64*T1."""
        return 64 * self.t1

    @property
    def g(self) -> float:
        """INVITE final response retransmit interval, initially T1 (UDP only)."""
        return self.t1

    @property
    def h(self) -> float:
        """Wait time for ACK receipt: 64*T1."""
        return 64 * self.t1

    @property
    def i(self) -> float:
        """Wait time for ACK retransmissions: T4 (UDP; 0 over TCP)."""
        return self.t4

    @property
    def j(self) -> float:
        """Wait time for non-INVITE request retransmissions: 64*T1 (UDP; 0 over TCP)."""
        return 64 * self.t1

    @property
    def k(self) -> float:
        """Wait time for non-INVITE response retransmissions: T4 (UDP; 0 over TCP)."""
        return self.t4

    @property
    def l(self) -> float:  # noqa: E743 - the RFC 6026 name
        """INVITE server Accepted state: wait for ACKs and INVITE retransmissions, 64*T1."""
        return 64 * self.t1

    @property
    def m(self) -> float:
        """INVITE client Accepted state: wait for 2xx retransmissions, 64*T1."""
        return 64 * self.t1

    def next_interval(self, interval: float) -> float:
        """Doubling capped at T2: the schedule of timers E and G and 2xx retransmission."""
        return min(2 * interval, self.t2)


RFC3261_TIMERS = TimerTable()
"""The RFC 3261 defaults: T1 = 500 ms, T2 = 4 s, T4 = 5 s."""

InputT = TypeVar("InputT", bound=IntEnum)
OutputT = TypeVar("OutputT")


class TimedMachine(ABC, Generic[InputT, OutputT]):
    """A state machine whose timers are deadlines; expiry is just another input.

    Subclasses arm a timer with `_arm(TIMER_X, now + value)` and handle its expiry in
    `_fire`. Before `_fire` runs, the timer is disarmed, so re-arming is explicit. When
    two timers are due at the same moment, the lower input value fires first (the input
    enums list timeouts before retransmissions, so nothing is resent on expiry).
    """

    def __init__(self) -> None:
        self._deadlines: dict[InputT, float] = {}

    def _arm(self, timer: InputT, deadline: float) -> None:
        self._deadlines[timer] = deadline

    def _disarm(self, *timers: InputT) -> None:
        for timer in timers:
            self._deadlines.pop(timer, None)

    def _disarm_all(self) -> None:
        self._deadlines.clear()

    def is_armed(self, timer: InputT) -> bool:
        return timer in self._deadlines

    @abstractmethod
    def _fire(self, timer: InputT, now: float) -> list[OutputT]:
        """Handle the expiry of `timer` (already disarmed)."""

    def tick(self, now: float) -> list[OutputT]:
        """Fire every timer due at `now`, earliest first, and return what they produced."""
        outputs: list[OutputT] = []
        while self._deadlines:
            timer, deadline = min(self._deadlines.items(), key=lambda item: (item[1], item[0]))
            if deadline > now:
                break
            del self._deadlines[timer]
            outputs.extend(self._fire(timer, now))
        return outputs

    def next_deadline(self) -> float | None:
        """The earliest armed deadline, or None when no timer is running."""
        return min(self._deadlines.values()) if self._deadlines else None
