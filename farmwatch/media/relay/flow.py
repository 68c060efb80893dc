"""When a relay sends a frame: from a key frame on, and down to the next one when it lags.

Owns the relay's answer to an upper that cannot keep up (STYLE B7: a slow upper never slows
the stream or the others, and nothing is buffered without bound): a frame is sent only when
the relay's unsent bytes (`backlog`: a TCP connection's user-space buffer) are within
`max_backlog`; past it, or when the socket refused part of a frame (`send_failed`: a full
UDP send buffer, an unreachable upper), frames are dropped and counted up to the next key
frame that finds the backlog drained to half. The first frame sent is a key frame (a relay
starts on one: those before it are waited out, not counted as drops). Pure.
"""

from __future__ import annotations

__all__ = ["RelayFlow"]


class RelayFlow:
    """Drop-to-key-frame policy of one relay; see the module docstring."""

    __slots__ = ("_has_started", "_is_dropping", "_max_backlog", "_resume_below", "frames_dropped")

    def __init__(self, *, max_backlog: int) -> None:
        self._max_backlog = max_backlog
        self._resume_below = max_backlog // 2
        self._has_started = False
        self._is_dropping = False
        self.frames_dropped = 0

    @property
    def has_started(self) -> bool:
        """A key frame was sent."""
        return self._has_started

    @property
    def is_dropping(self) -> bool:
        """Fell behind: frames are dropped up to the next key frame."""
        return self._is_dropping

    def admit(self, is_keyframe: bool, backlog: int) -> bool:
        """Whether to send the next frame, with `backlog` bytes still unsent."""
        if self._is_dropping:
            if is_keyframe and backlog <= self._resume_below:
                self._is_dropping = False
                return True
            self.frames_dropped += 1
            return False
        if not self._has_started:
            self._has_started = is_keyframe
            return is_keyframe
        if backlog > self._max_backlog:
            self._is_dropping = True
            self.frames_dropped += 1
            return False
        return True

    def send_failed(self) -> None:
        """The socket took only part of the frame just admitted: drop to the next key frame
        (the frame counts as dropped)."""
        if not self._is_dropping:
            self._is_dropping = True
            self.frames_dropped += 1
