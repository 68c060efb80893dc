"""The clock of a playback stream: output timestamps that follow MANSRTSP Scale.

Owns the mapping from the source's 90 kHz timestamps to the ones a stream hands its sinks
when a recorded video plays at a speed other than 1× (DESIGN.md "a playback stream is a
`Stream` like a live one, with a clock that can pause, seek and run at a scale"; GB/T
28181-2016 Annex B MANSRTSP `Scale`). A device asked for Scale N sends its frames N× faster
but leaves their timestamps alone — each still advances by one frame interval of the
recording — and players pace by timestamps, so a 4× playback would show at 1×
(field-notes §1.3 pitfall 1, §1.4 "rescale PTS and DTS by 1/scale"). Negative scales are
reverse playback: the device sends frames in reverse time order, their timestamps falling.

The rule: until the first `set_scale` the clock is not engaged and timestamps pass through
untouched. From then on, the first video frame after each change is placed one frame
interval (the last sane source step, divided by |scale|) after the previous output frame and
becomes the anchor; every later one is placed at the anchor's output plus the source distance
travelled since the anchor (steps read modulo 2^33, so a wrap goes on smoothly) divided by
`scale`. So the output neither steps back nor gaps at a change, advances by |step| / |scale|
between changes, and rises in reverse playback too (a falling source divided by a negative
scale). Scale 1 after a change keeps the offset the changes built up: steps pass through as
the source made them. A jump of the source between changes (the device seeking) is scaled
like any step and left to the sinks' `OutputClock`, which rebases over jumps; a source that
knows it moved (a recording fed from files seeks) says so (`rebase`), and the output goes on
one frame interval after the last one, at any scale. The
composition offset (PTS − DTS, B-frames) is kept, clamped at 0 and scaled. Audio is dropped
while the scale is not 1 — a device's sound at N× is not playable, and a player's audio
clock would hold the video at 1× (ZLM#691) — and follows the video's offset at 1. Pure: no
I/O, no clock.
"""

from __future__ import annotations

import math

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE

__all__ = ["MAX_SCALE", "MIN_SCALE", "PlaybackClock", "check_scale"]

MIN_SCALE = 1 / 64
"""The slowest |scale| taken (GB/T 28181 devices offer 1/8 … 1/2 at most)."""
MAX_SCALE = 64.0
"""The fastest |scale| taken (devices offer up to 8×, 16×, some 32×)."""
_DEFAULT_INTERVAL = TIMESTAMP_CLOCK_RATE // 25
"""The frame interval before the source showed its own (25 fps, the GB default)."""
_MAX_SANE_STEP = 2 * TIMESTAMP_CLOCK_RATE
"""A source step larger than this (2 s) is a jump, not a frame interval to remember."""
_MODULUS = 1 << 33
_HALF_MODULUS = 1 << 32


def check_scale(scale: float) -> float:
    """`scale` as a float when it is a playable speed: finite, non-zero, 1/64 ≤ |scale| ≤ 64
    (negative: reverse). Raises `ValueError` otherwise."""
    value = float(scale)
    if not math.isfinite(value) or not MIN_SCALE <= abs(value) <= MAX_SCALE:
        raise ValueError(
            f"scale must be finite with {MIN_SCALE:g} <= |scale| <= {MAX_SCALE:g}, got {scale!r}"
        )
    return value


class PlaybackClock:
    """Maps a stream's source timestamps to its output timestamps; see the module docstring."""

    __slots__ = (
        "_anchor_output",
        "_interval",
        "_is_engaged",
        "_last_output",
        "_last_source",
        "_rebase",
        "_scale",
        "_travelled",
    )

    def __init__(self) -> None:
        self._scale = 1.0
        self._is_engaged = False
        self._rebase = True
        """The next video frame becomes the anchor (first frame after a change)."""
        self._anchor_output = 0
        """Output DTS of the anchor: the first video frame at the current scale."""
        self._travelled = 0
        """Source ticks from the anchor to the last video frame (signed, unwrapped)."""
        self._last_source: int | None = None
        self._last_output: int | None = None
        self._interval = _DEFAULT_INTERVAL

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def is_engaged(self) -> bool:
        """False until the first `set_scale`: timestamps pass through unchanged."""
        return self._is_engaged

    @property
    def frame_interval(self) -> int:
        """The last sane source step (absolute, 90 kHz ticks): a frame of the recording."""
        return self._interval

    def set_scale(self, scale: float) -> None:
        """Play at `scale` from the next video frame on; raises `ValueError` (`check_scale`)."""
        value = check_scale(scale)
        if value == self._scale and self._is_engaged:
            return
        self._scale = value
        self._is_engaged = True
        self._rebase = True

    def rebase(self) -> None:
        """The source moved by itself (a recording seeks): the next video frame is placed one
        frame interval after the previous output, whatever its timestamps, and anchors the
        ones after it, as after a change of scale. Engages the clock: at 1× the steps then
        pass through as the source made them, with the offset this built up."""
        self._is_engaged = True
        self._rebase = True

    def stamp(self, pts: int, dts: int) -> tuple[int, int]:
        """(pts, dts) of the output for a video frame with source `pts`/`dts`; call with every
        video frame in arrival order, also while not engaged (the clock learns the frame
        interval; the timestamps come back unchanged). Source steps are read modulo 2^33, so
        raw and unwrapped timestamps both go on smoothly across a wrap."""
        last_source, self._last_source = self._last_source, dts
        step = 0 if last_source is None else _signed_distance(last_source, dts)
        rebase = self._is_engaged and self._rebase
        if not rebase and 0 < abs(step) <= _MAX_SANE_STEP:
            # Not the step into a change: the device may have moved its position with it.
            self._interval = abs(step)
        if not self._is_engaged:
            self._last_output = dts
            return pts, dts
        scale = self._scale
        if rebase or self._last_output is None:
            if self._last_output is None:
                output = dts  # the very first frame: keep the source's origin
            else:
                output = self._last_output + max(1, round(self._interval / abs(scale)))
            self._anchor_output, self._travelled = output, 0
            self._rebase = False
        else:
            self._travelled += step
            output = self._anchor_output + round(self._travelled / scale)
        self._last_output = output
        return output + round(max(_signed_distance(dts, pts), 0) / abs(scale)), output

    def place_audio(self, pts: int) -> int | None:
        """The output PTS of an audio frame, or None when it is to be dropped: while the scale
        is not 1, and at 1 until a video frame anchored it. Audio follows the video's mapping
        (the offset of the last video frame), so the two stay in sync."""
        if not self._is_engaged:
            return pts
        last_source, last_output = self._last_source, self._last_output
        if self._scale != 1.0 or self._rebase or last_source is None or last_output is None:
            return None
        return last_output + _signed_distance(last_source, pts)


def _signed_distance(start: int, end: int) -> int:
    """`end - start` read modulo 2^33, in [-2^32, 2^32)."""
    return (end - start + _HALF_MODULUS) % _MODULUS - _HALF_MODULUS
