"""RTP reception statistics for receiver reports (RFC 3550 §6.4.1, Appendix A.1, A.3, A.8).

Owns the per-source counters a receiver report block is built from: extended highest
sequence number (with wrap cycles), cumulative and interval loss, and interarrival jitter in
RTP timestamp units (90 kHz for PS). Pure: arrival times come in as `now` seconds.
"""

from __future__ import annotations

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE
from farmwatch.media.rtp import ReportBlock

__all__ = ["ReceptionStatistics"]


class ReceptionStatistics:
    """Counters of one RTP source; feed every accepted packet with `received`."""

    def __init__(self, clock_rate: int = TIMESTAMP_CLOCK_RATE) -> None:
        self._clock_rate = clock_rate
        self._base: int | None = None
        self._max = 0
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit: float | None = None
        self._jitter = 0.0

    def received(self, sequence: int, timestamp: int, now: float) -> None:
        if self._base is None:
            self._base = self._max = sequence
        elif 0 < (sequence - self._max) & 0xFFFF < 0x8000:
            if sequence < self._max:
                self._cycles += 1 << 16
            self._max = sequence
        self._received += 1
        transit = now * self._clock_rate - timestamp
        if self._transit is not None:
            self._jitter += (abs(transit - self._transit) - self._jitter) / 16
        self._transit = transit

    @property
    def extended_highest(self) -> int:
        return self._cycles | self._max

    @property
    def cumulative_lost(self) -> int:
        if self._base is None:
            return 0
        expected = self.extended_highest - self._base + 1
        return max(-(1 << 23), min(expected - self._received, (1 << 23) - 1))

    def report_block(self, ssrc: int, last_sr: tuple[int, float] | None, now: float) -> ReportBlock:
        """The block for the next receiver report; starts a new loss interval."""
        expected = 0 if self._base is None else self.extended_highest - self._base + 1
        expected_interval = expected - self._expected_prior
        lost_interval = expected_interval - (self._received - self._received_prior)
        self._expected_prior, self._received_prior = expected, self._received
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        lsr, delay = 0, 0
        if last_sr is not None:
            lsr, delay = last_sr[0], int((now - last_sr[1]) * 65536) & 0xFFFFFFFF
        return ReportBlock(
            ssrc=ssrc,
            fraction_lost=fraction,
            packets_lost=self.cumulative_lost,
            highest_sequence=self.extended_highest & 0xFFFFFFFF,
            jitter=int(self._jitter),
            last_sr=lsr,
            delay_since_last_sr=delay,
        )
