"""Whether a relay's upper is still there, sans I/O: its connection, ICMP errors and RTCP.

Owns the relay's decisions to end by itself (field-notes §2.4: stop sending when RTCP goes
silent, no stray streams; §2.3 item 11: an upper that answers only with ICMP port
unreachable must not be sent to forever):

* TCP, we listen: the upper must connect within `connect_timeout` of `expect_connection`
  (the relay's start) → `CONNECT_TIMEOUT`.
* UDP: ICMP port unreachable (a refused send or receive) seen again and again for
  `unreachable_timeout` → `PEER_UNREACHABLE`. Refusals further apart than `refusal_gap`
  start the count anew, and so does any RTCP from the upper.
* UDP: once the upper sent RTCP, `rtcp_timeout` without any more → `RTCP_TIMEOUT`. An upper
  that never sends RTCP is never timed out on it (RTCP is optional in GB/T 28181-2022).

The shell calls the inputs with `now` and keeps one timer at `next_deadline()`. Pure.
"""

from __future__ import annotations

from farmwatch.media.relay.spec import RelayEndReason

__all__ = ["RelayLiveness"]


class RelayLiveness:
    """See the module docstring."""

    __slots__ = (
        "_connect_deadline",
        "_last_refused",
        "_last_rtcp",
        "_refusal_gap",
        "_refused_since",
        "_rtcp_timeout",
        "_unreachable_timeout",
    )

    def __init__(
        self, *, rtcp_timeout: float, unreachable_timeout: float, refusal_gap: float = 3.0
    ) -> None:
        self._rtcp_timeout = rtcp_timeout
        self._unreachable_timeout = unreachable_timeout
        self._refusal_gap = refusal_gap
        self._connect_deadline: float | None = None
        self._last_rtcp: float | None = None
        self._refused_since: float | None = None
        self._last_refused: float | None = None

    def expect_connection(self, now: float, timeout: float) -> None:
        """The upper must connect within `timeout` from `now`."""
        self._connect_deadline = now + timeout

    def connected(self) -> None:
        self._connect_deadline = None

    def rtcp_received(self, now: float) -> None:
        self._last_rtcp = now
        self._refused_since = self._last_refused = None

    def refused(self, now: float) -> RelayEndReason | None:
        """ICMP port unreachable came back; `PEER_UNREACHABLE` once it has for long enough."""
        last = self._last_refused
        if self._refused_since is None or last is None or now - last > self._refusal_gap:
            self._refused_since = now
        self._last_refused = now
        if now - self._refused_since >= self._unreachable_timeout:
            return RelayEndReason.PEER_UNREACHABLE
        return None

    def tick(self, now: float) -> RelayEndReason | None:
        if self._connect_deadline is not None and now >= self._connect_deadline:
            self._connect_deadline = None
            return RelayEndReason.CONNECT_TIMEOUT
        rtcp_deadline = self._rtcp_deadline()
        if rtcp_deadline is not None and now >= rtcp_deadline:
            self._last_rtcp = None
            return RelayEndReason.RTCP_TIMEOUT
        return None

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self._connect_deadline, self._rtcp_deadline()) if d is not None]
        return min(deadlines) if deadlines else None

    def _rtcp_deadline(self) -> float | None:
        return None if self._last_rtcp is None else self._last_rtcp + self._rtcp_timeout
