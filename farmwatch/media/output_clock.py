"""Output timestamps of one track: increasing and paced whatever the device's clock does.

Owns the mapping from a source's 90 kHz PTS/DTS (ISO/IEC 13818-1 §2.4.3.7, as `EsFrame`
carries them) to the timestamps an output writes: fMP4 decode times and with them HLS
segment durations, WebRTC's RTP timestamps. Devices break the one-timeline rule of
gb28181.md §8.1: one looping a recorded file restarts at 0 each pass, another resets its
clock or wraps it early, another repeats a timestamp. The mp4 muxer needs strictly increasing
decode times, and a player paces by them, so a jump must neither freeze the output (every
later frame collapsed onto one tick) nor open an hour-long hole in it.

The rule: the first frame maps to 0; after that the output moves by the source's DTS step
when that step is sane — forward by at most `max_step` (jitter, a changed frame rate, a short
loss); a step outside it is a jump and the output goes on one nominal frame interval after
the previous output (the median of recent sane steps), which re-bases every later frame
too. A backward step within `reorder_window` is not a jump but the decode order of frames
whose DTS the device left out (B-frames stamped with their PTS): it is placed one tick after
the previous output without re-basing, so the output does not run ahead of the source.
Steps are read modulo 2^33, so raw 33-bit timestamps that wrap also go on smoothly. PTS keeps
its composition offset from DTS, clamped to [0, `max_step`]. Pure: no I/O, no clock.
"""

from __future__ import annotations

import statistics
from collections import deque

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE

__all__ = [
    "DEFAULT_FRAME_INTERVAL",
    "DEFAULT_MAX_STEP",
    "DEFAULT_REORDER_WINDOW",
    "OutputClock",
]

DEFAULT_MAX_STEP = 2 * TIMESTAMP_CLOCK_RATE
"""A forward DTS step above this (2 s) is a jump, not a gap to reproduce."""
DEFAULT_REORDER_WINDOW = TIMESTAMP_CLOCK_RATE // 2
"""A backward DTS step up to this (0.5 s) is frame reordering, not a jump."""
DEFAULT_FRAME_INTERVAL = TIMESTAMP_CLOCK_RATE // 25
"""The nominal frame interval before the source showed its own (25 fps, the GB default)."""
_MODULUS = 1 << 33
_RECENT_STEPS = 16


class OutputClock:
    """Maps one track's source timestamps to output timestamps; see the module docstring."""

    def __init__(
        self,
        *,
        max_step: int = DEFAULT_MAX_STEP,
        reorder_window: int = DEFAULT_REORDER_WINDOW,
        default_interval: int = DEFAULT_FRAME_INTERVAL,
    ) -> None:
        if max_step < 1 or reorder_window < 0 or default_interval < 1:
            raise ValueError("max_step and default_interval must be >= 1, reorder_window >= 0")
        self._max_step = max_step
        self._reorder_window = reorder_window
        self._default_interval = default_interval
        self._anchor: tuple[int, int] | None = None
        """(source DTS, output DTS) of the last frame not placed as reordered."""
        self._last_output = 0
        self._steps: deque[int] = deque(maxlen=_RECENT_STEPS)
        self.jumps = 0
        """Source timestamp jumps the output was re-based over."""
        self.reordered = 0
        """Frames whose DTS went back a little (placed one tick on)."""

    @property
    def frame_interval(self) -> int:
        """The nominal frame interval: the median of recent sane steps, in 90 kHz ticks."""
        if not self._steps:
            return self._default_interval
        return max(1, int(statistics.median_low(self._steps)))

    def stamp(self, pts: int, dts: int) -> tuple[int, int]:
        """(pts, dts) of the output for a frame with source `pts`/`dts`; call in decode order."""
        if self._anchor is None:
            output = 0
            self._anchor = (dts, output)
        else:
            source, anchored = self._anchor
            step = (dts - source + _MODULUS // 2) % _MODULUS - _MODULUS // 2
            if 0 < step <= self._max_step:
                self._steps.append(step)
                output = max(anchored + step, self._last_output + 1)
                self._anchor = (dts, output)
            elif -self._reorder_window <= step <= 0:
                # Measured from the anchor, not from these frames, so that the next forward
                # step does not count the ticks they were given twice.
                self.reordered += 1
                output = self._last_output + 1
            else:
                self.jumps += 1
                output = self._last_output + self.frame_interval
                self._anchor = (dts, output)
        self._last_output = output
        offset = min(max(pts - dts, 0), self._max_step)
        return output + offset, output
