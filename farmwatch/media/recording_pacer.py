"""When each frame of a recording played from files is due: real time by its DTS, at a scale.

Owns the pacing of a stream fed from the platform's own segment files (`recording_feed.py`;
DESIGN.md "a playback stream is a `Stream` like a live one, with a clock that can pause, seek
and run at a scale"). A device paces its playback itself; files have to be paced here, so
that a viewer gets frames as a camera would send them: frame n is due at the anchor's time
plus (DTS(n) − DTS(anchor)) / 90 kHz / scale.

The rule: the anchor is the first frame placed after any change — the start, a seek
(`restart`), a change of scale, a pause or a hold ending (`set_running`) — and it is due one
source step (divided by the scale) after the previous frame went out, or now if that moment
has passed. A step that is no frame interval (a hole between segments, where the recording's
timestamps step forward by the hole's length; a step back) is played as one frame interval:
playback skips holes as device playback does. A frame that would be more than
`max_lateness` seconds late (the reading thread stalled, the loop was busy) becomes the
anchor at `now` instead of starting a burst. While not running (paused, held by a lossless
sink, nobody watching) nothing is due.

Reverse play is not paced here: scales are positive (`set_scale` refuses the rest). Pure: the
time is given (`now`, loop seconds), nothing is read or sent.
"""

from __future__ import annotations

import math

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE

__all__ = ["DEFAULT_MAX_LATENESS", "RecordingPacer"]

DEFAULT_MAX_LATENESS = 0.5
"""Seconds a frame may be late before the pacer re-anchors instead of catching up."""
_MAX_STEP = 2 * TIMESTAMP_CLOCK_RATE
"""A forward DTS step above this (2 s) is a hole between segments, not a frame interval."""
_DEFAULT_INTERVAL = TIMESTAMP_CLOCK_RATE // 25


class RecordingPacer:
    """Due times of a recording's frames; see the module docstring."""

    __slots__ = (
        "_anchor",
        "_head",
        "_interval",
        "_is_running",
        "_last",
        "_max_lateness",
        "_scale",
        "catch_ups",
        "holes_skipped",
    )

    def __init__(self, *, max_lateness: float = DEFAULT_MAX_LATENESS) -> None:
        if max_lateness < 0:
            raise ValueError("max_lateness must be >= 0")
        self._max_lateness = max_lateness
        self._scale = 1.0
        self._is_running = False
        self._anchor: tuple[int, float] | None = None
        """(DTS, due time) of the frame the ones after it are paced from."""
        self._last: tuple[int, float] | None = None
        """(DTS, due time) of the frame that went out last."""
        self._head: tuple[int, float] | None = None
        """(DTS, due time) of the frame placed but not sent yet."""
        self._interval = _DEFAULT_INTERVAL
        self.catch_ups = 0
        """Frames that were due too long ago and were re-anchored at the time asked."""
        self.holes_skipped = 0
        """Steps that were no frame interval, played as one."""

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def is_running(self) -> bool:
        return self._is_running

    def set_scale(self, scale: float) -> None:
        """Pace at `scale` (> 0) from the next frame on; raises `ValueError` otherwise."""
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"a recording is paced forward only: scale must be > 0, got {scale}")
        if scale != self._scale:
            self._scale = scale
            self._reanchor()

    def set_running(self, running: bool) -> None:
        """Frames are due (True) or held back (False: paused, held, nobody watching)."""
        if running != self._is_running:
            self._is_running = running
            self._reanchor()

    def restart(self) -> None:
        """Reading starts over elsewhere (a seek): the next frame is due at once."""
        self._anchor = self._last = self._head = None

    def due_at(self, dts: int, now: float) -> float | None:
        """When the frame with `dts` (the next to go out) is due; None while not running.
        Asking again for the same frame gives the same answer until something changes."""
        if not self._is_running:
            return None
        head = self._head
        if head is not None and head[0] == dts:
            return head[1]
        due = self._place(dts, now)
        self._head = (dts, due)
        return due

    def sent(self, dts: int, at: float) -> None:
        """The frame with `dts` went out at `at` (its due time, or now for a frame sent
        without asking: the first of a reading position)."""
        last = self._last
        if last is not None and 0 < dts - last[0] <= _MAX_STEP:
            self._interval = dts - last[0]
        self._last = (dts, at)
        self._head = None
        if self._anchor is None:
            self._anchor = (dts, at)

    def _reanchor(self) -> None:
        self._anchor = self._head = None

    def _place(self, dts: int, now: float) -> float:
        last, anchor = self._last, self._anchor
        if last is None:
            self._anchor = (dts, now)
            return now
        step = dts - last[0]
        is_frame_step = 0 <= step <= _MAX_STEP
        if anchor is not None and is_frame_step:
            due = anchor[1] + (dts - anchor[0]) / TIMESTAMP_CLOCK_RATE / self._scale
            if now - due <= self._max_lateness:
                return due
            self.catch_ups += 1
            self._anchor = (dts, now)
            return now
        if not is_frame_step:
            self.holes_skipped += 1
            step = self._interval
        due = max(last[1] + step / TIMESTAMP_CLOCK_RATE / self._scale, now)
        self._anchor = (dts, due)
        return due
