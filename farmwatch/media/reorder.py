"""Bounded reorder buffer for RTP over UDP (gb28181.md §8.1 "a reorder buffer of a few packets").

Owns putting UDP-delivered RTP packets back in sequence-number order (RFC 3550 §A.1 16-bit
sequence arithmetic with wrap-around). Packets are released in order as soon as they are
next; an out-of-order packet waits until the gap before it fills, the buffer holds
`capacity` packets, or the oldest waiting packet is `max_delay` seconds old. Then the gap is
skipped and reported as a `PacketsLost` item in the output, which the caller turns into
`PsDemuxer.mark_loss()`. Late and duplicate packets are dropped and counted. Sans-I/O:
`push(packet, now)`, `tick(now)`, `next_deadline()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.media.rtp import RtpPacket

__all__ = ["PacketsLost", "ReorderBuffer", "ReorderOutput"]

_HALF = 0x8000


@dataclass(frozen=True, slots=True)
class PacketsLost:
    """`count` packets starting at `first_sequence` never arrived in time and were skipped."""

    first_sequence: int
    count: int


ReorderOutput = RtpPacket | PacketsLost


def _distance(sequence: int, expected: int) -> int:
    """Signed distance from `expected` to `sequence` in 16-bit sequence space."""
    delta = (sequence - expected) & 0xFFFF
    return delta - 0x10000 if delta >= _HALF else delta


class ReorderBuffer:
    """Reorders one RTP stream (one SSRC). Outputs packets and `PacketsLost` gaps in order."""

    def __init__(self, *, capacity: int = 64, max_delay: float = 0.1) -> None:
        if capacity < 1 or max_delay < 0:
            raise ValueError("capacity must be >= 1 and max_delay >= 0")
        self._capacity = capacity
        self._max_delay = max_delay
        self._expected: int | None = None
        self._waiting: dict[int, tuple[RtpPacket, float]] = {}
        self._late_run = 0
        self.lost = 0
        """Packets skipped as lost so far."""
        self.late = 0
        """Packets dropped because their turn had passed."""
        self.duplicates = 0
        """Packets dropped because the same sequence number was waiting already."""

    def push(self, packet: RtpPacket, now: float) -> list[ReorderOutput]:
        """Take one received packet; return what can be released in order."""
        sequence = packet.sequence_number
        if self._expected is None:
            self._expected = sequence
        distance = _distance(sequence, self._expected)
        if distance < 0:
            return self._on_late(packet, now)
        self._late_run = 0
        if sequence in self._waiting:
            self.duplicates += 1
            return []
        self._waiting[sequence] = (packet, now)
        out = self._release_run()
        while len(self._waiting) > self._capacity:
            self._skip_gap(out)
        return out

    @property
    def next_in_order(self) -> int | None:
        """The sequence number due next when nothing waits, else None: the packets that
        the caller may take without this buffer (`skipped_to`) until one is out of order."""
        return self._expected if not self._waiting else None

    def skipped_to(self, sequence: int) -> None:
        """The caller took the in-order packets up to `sequence` (excluded) itself."""
        assert not self._waiting, "packets wait: the caller must not take any itself"
        self._expected = sequence
        self._late_run = 0

    def tick(self, now: float) -> list[ReorderOutput]:
        """Skip the gaps whose waiting packets reached `max_delay`."""
        out: list[ReorderOutput] = []
        while self._waiting and now >= self._oldest_arrival() + self._max_delay:
            self._skip_gap(out)
        return out

    def next_deadline(self) -> float | None:
        """When `tick` has work to do, or None when nothing waits."""
        if not self._waiting:
            return None
        return self._oldest_arrival() + self._max_delay

    def flush(self) -> list[ReorderOutput]:
        """Release everything that waits, gaps included (end of stream)."""
        out: list[ReorderOutput] = []
        while self._waiting:
            self._skip_gap(out)
        return out

    def _on_late(self, packet: RtpPacket, now: float) -> list[ReorderOutput]:
        self._late_run += 1
        if self._late_run <= self._capacity:
            self.late += 1
            return []
        # A long run of "late" packets is a restarted sender: follow its new numbering.
        self._late_run = 0
        out = self.flush()
        self._expected = packet.sequence_number
        out.extend(self.push(packet, now))
        return out

    def _oldest_arrival(self) -> float:
        return min(arrival for _, arrival in self._waiting.values())

    def _release_run(self) -> list[ReorderOutput]:
        out: list[ReorderOutput] = []
        expected = self._expected
        assert expected is not None
        waiting = self._waiting
        while expected in waiting:
            out.append(waiting.pop(expected)[0])
            expected = (expected + 1) & 0xFFFF
        self._expected = expected
        return out

    def _skip_gap(self, out: list[ReorderOutput]) -> None:
        expected = self._expected
        assert expected is not None
        first = min(self._waiting, key=lambda sequence: (sequence - expected) & 0xFFFF)
        gap = (first - expected) & 0xFFFF
        if gap:
            self.lost += gap
            out.append(PacketsLost(expected, gap))
        self._expected = first
        out.extend(self._release_run())
