"""Pacing of one simulated stream over a cached loop: which frames are due at `now`.

Owns the timing rule of a replayed `EncodedLoop`: frame n of the endless stream (n counts across
passes of the loop) is due `pts(n) / 90 kHz` seconds after the stream started, and `pts(n)`
keeps growing across passes (pass p adds p × loop duration), as GB/T 28181 receivers expect one
monotonic 90 kHz timeline per SSRC (gb28181.md §8.1). Pure: the asyncio sender passes `now`,
sends what `due(now)` returns, then waits until `next_deadline`. A sender that fell more than
`max_lag` behind (a stalled loop, a suspended host) jumps to the latest due key frame instead of
bursting a backlog; the skipped frames are counted. `key_frame_next()` is a camera answering
`IFameCmd`: the next frame sent is the loop's next key frame, on the same timeline.
`restart_every` (90 kHz ticks) misbehaves like a device looping a recorded file: the
timestamps start again at `first_pts` every that long, while frames stay paced in real time.
`switch_loop(other)` changes what the camera shows (another `PictureMode` of the same spec,
so the same frame timing): the next frame sent is a key frame of the other loop, on the same
timeline.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from farmwatch.simulator.test_pattern import RTP_CLOCK_RATE, EncodedFrame, EncodedLoop

__all__ = ["DueFrame", "FrameScheduler"]

_TIME_EPSILON = 1e-6  # seconds; absorbs float rounding when `now` equals a deadline


@dataclass(frozen=True, slots=True)
class DueFrame:
    """One frame to send now: `pts` is the stream's continuous 90 kHz timestamp."""

    frame: EncodedFrame
    pts: int
    number: int

    def ps_packet(self) -> bytes:
        """The frame's PS packet re-stamped to `pts` (SCR, PTS and DTS)."""
        return self.frame.ps.shifted(self.pts - self.frame.pts)


class FrameScheduler:
    """Tells which frames of `loop` are due for a stream that started at `start`."""

    def __init__(
        self,
        loop: EncodedLoop,
        start: float,
        first_pts: int = 0,
        max_lag: float = 1.0,
        restart_every: int | None = None,
    ) -> None:
        if max_lag <= 0:
            raise ValueError(f"max_lag: expected > 0, got {max_lag}")
        if restart_every is not None and restart_every <= 0:
            raise ValueError(f"restart_every: expected > 0, got {restart_every}")
        self._loop = loop
        self._restart_every = restart_every
        self._start = start
        self._first_pts = first_pts
        self._max_lag = max_lag
        self._frame_pts = [frame.pts for frame in loop.frames]
        self._next = 0
        self._skipped = 0
        # Frames of the loop jumped over to answer key frame requests: frame n of the stream
        # shows picture (n + offset) of the loop.
        self._content_offset = 0

    @property
    def next_number(self) -> int:
        """Number of the next frame to send (0 is the first frame of the stream)."""
        return self._next

    @property
    def skipped_frames(self) -> int:
        return self._skipped

    @property
    def is_finished(self) -> bool:
        """A live loop never ends."""
        return False

    @property
    def next_deadline(self) -> float:
        """Time at which the next frame becomes due."""
        return self._start + self._relative_pts(self._next) / RTP_CLOCK_RATE

    def due(self, now: float) -> list[DueFrame]:
        """The frames due at `now`, in order; each frame is returned once."""
        ticks = int((now - self._start + _TIME_EPSILON) * RTP_CLOCK_RATE)
        end = self._count_due(ticks)
        if ticks - self._relative_pts(self._next) > self._max_lag * RTP_CLOCK_RATE:
            self._skip_to_key_frame(end)
        frames = self._loop.frames
        count = len(frames)
        due = [
            DueFrame(
                frame=frames[(number + self._content_offset) % count],
                pts=self._stamp(number),
                number=number,
            )
            for number in range(self._next, end)
        ]
        self._next = max(self._next, end)
        return due

    def switch_loop(self, loop: EncodedLoop) -> None:
        """Show `loop` from the next key frame on (sent next); its frames must be timed like
        the current loop's (the same spec but for the picture)."""
        if [frame.pts for frame in loop.frames] != self._frame_pts or (
            [f.is_keyframe for f in loop.frames] != [f.is_keyframe for f in self._loop.frames]
        ):
            raise ValueError("switch_loop: the other loop is timed differently")
        self.key_frame_next()
        self._loop = loop

    def key_frame_next(self) -> None:
        """Make the next frame sent a key frame (the loop's next one), keeping the timeline."""
        frames = self._loop.frames
        count = len(frames)
        current = self._next + self._content_offset
        for step in range(count):
            if frames[(current + step) % count].is_keyframe:
                self._content_offset += step
                return

    def _stamp(self, number: int) -> int:
        """The 90 kHz timestamp frame `number` is sent with."""
        relative = self._relative_pts(number)
        if self._restart_every is not None:
            relative %= self._restart_every
        return self._first_pts + relative

    def _relative_pts(self, number: int) -> int:
        passes, index = divmod(number, len(self._frame_pts))
        return passes * self._loop.duration + self._frame_pts[index]

    def _count_due(self, ticks: int) -> int:
        """How many frames of the stream have a pts ≤ `ticks`."""
        if ticks < 0:
            return 0
        passes, within = divmod(ticks, self._loop.duration)
        return passes * len(self._frame_pts) + bisect.bisect_right(self._frame_pts, within)

    def _skip_to_key_frame(self, end: int) -> None:
        frames = self._loop.frames
        for number in range(end - 1, max(self._next, end - len(frames)) - 1, -1):
            if frames[(number + self._content_offset) % len(frames)].is_keyframe:
                self._skipped += number - self._next
                self._next = number
                return
