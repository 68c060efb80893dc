"""Playback and download of a channel's recordings: which recorded frame is due at `now`.

Owns the timing of a simulated Playback or Download session (gb28181.md §6.8, §6.9, §7): the
frame shown at recorded time T of a file that began at S is the test-pattern loop's frame at
(T − S) mod loop length, so frame k of a file is loop frame k mod N at S + k / fps. Playing
starts at the key frame at or before the `t=` start, or at the next file's start when the start
falls in a gap; at the end of a file it goes on with the next file's first frame at once (the
gap is skipped, not waited out), and it finishes before the first frame at or after the `t=`
end, or when no file is left. Recorded time advances `scale` times as fast as wall time
(Download: `a=downloadspeed`); each frame carries its recorded time in an SEI
(`recorded_time`) and is PS-muxed again, its PTS (= RTP timestamp) being recorded time in
90 kHz ticks since the first frame of the session: speed never changes timestamps, as with
real devices, and a seek or a gap makes them jump with the recorded time.

Controls as MANSRTSP asks them (§7): `pause` (stop, keep the position), `resume`, `seek(x)`
(the next frame is the key frame at or before `t=` start + x, or the next file's start in a
gap), `set_scale(s)` (from the current position). A negative scale plays backwards the way
NVRs do: only key frames, going back in recorded time at |s| × wall time, until before the
`t=` start. `stop` is TEARDOWN. A sender that fell more than `max_lag` behind carries on from
where it was (a recording is never skipped). Pure: the sender passes `now`.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig
from farmwatch.simulator.record_index import RecordFile
from farmwatch.simulator.recorded_time import insert_recorded_time, slice_start
from farmwatch.simulator.test_pattern import RTP_CLOCK_RATE, EncodedLoop

__all__ = ["MAX_SCALE", "MIN_SCALE", "PlayedFrame", "PlayerState", "RecordPlayer"]

MIN_SCALE = 1 / 16
MAX_SCALE = 64.0
"""|Scale| accepted; 2022 lists 0.25-4 as basic, cloud APIs go to 32."""
MAX_FRAMES_PER_CALL = 256
"""Bound on one `due` answer; the rest is due at once on the next call."""
_TIME_EPSILON = 1e-6


class PlayerState(enum.StrEnum):
    READY = "ready"
    """Waiting for `start` (the ACK)."""
    PLAYING = "playing"
    PAUSED = "paused"
    FINISHED = "finished"
    """Reached the `t=` end (or the start, backwards), or no recording is left."""
    STOPPED = "stopped"
    """TEARDOWN: nothing more is sent in this session."""


@dataclass(frozen=True, slots=True)
class PlayedFrame:
    """One frame to send: its PS packet, 90 kHz timestamp and recorded time."""

    ps: bytes
    pts: int
    recorded_ms: int
    is_keyframe: bool
    number: int
    """Counts frames sent in the session, from 0."""

    def ps_packet(self) -> bytes:
        return self.ps


@dataclass(frozen=True, slots=True)
class _Position:
    file: int
    """Index into the session's files."""
    frame: int
    """Frame number within the file (loop frame `frame mod N`)."""


class RecordPlayer:
    """Plays `files` over [start, end) (Unix seconds) from a cached loop."""

    def __init__(
        self,
        loop: EncodedLoop,
        files: Sequence[RecordFile],
        start: int,
        end: int,
        *,
        scale: float = 1.0,
        max_lag: float = 1.0,
    ) -> None:
        if not start < end:
            raise ValueError(f"playback range must satisfy start < end: {start}, {end}")
        _check_scale(scale)
        self._loop = loop
        self._codec = loop.spec.codec
        self._files = tuple(sorted(f for f in files if f.overlaps(start, end - 1)))
        self._start = start * RTP_CLOCK_RATE
        self._end = end * RTP_CLOCK_RATE
        self._max_lag = max_lag
        self._muxer = PsMuxer(PsMuxerConfig(video=self._codec.stream_type))
        frames = loop.frames
        self._frame_pts = [frame.pts for frame in frames]
        self._slice_starts = [slice_start(frame.data, self._codec) for frame in frames]
        key = 0
        self._key_at_or_before: list[int] = []
        for index, frame in enumerate(frames):
            key = index if frame.is_keyframe else key
            self._key_at_or_before.append(key)
        self._gop_ticks = max(1, loop.duration // max(1, sum(f.is_keyframe for f in frames)))
        self._scale = scale
        self._state = PlayerState.READY
        self._next = self._locate(self._start)
        self._last: _Position | None = None
        self._origin = self._recorded(self._next) if self._next is not None else self._start
        self._anchor_wall = 0.0
        self._anchor_ticks = 0
        self._frames_sent = 0
        self._last_recorded_ms: int | None = None

    # -- observable state ---------------------------------------------------------------

    @property
    def state(self) -> PlayerState:
        return self._state

    @property
    def is_finished(self) -> bool:
        """Nothing more will be sent unless a control asks for it (FINISHED or STOPPED)."""
        return self._state in (PlayerState.FINISHED, PlayerState.STOPPED)

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def frames_sent(self) -> int:
        return self._frames_sent

    @property
    def last_recorded_ms(self) -> int | None:
        """Recorded time of the last frame sent (Unix ms)."""
        return self._last_recorded_ms

    @property
    def position_ms(self) -> int | None:
        """Recorded time of the next frame to send (Unix ms); None at the end."""
        return None if self._next is None else self._recorded(self._next) // 90

    @property
    def next_pts(self) -> int | None:
        """90 kHz timestamp of the next frame to send (for an RTP-Info `rtptime`)."""
        return None if self._next is None else self._recorded(self._next) - self._origin

    @property
    def next_deadline(self) -> float | None:
        """When the next frame is due; None while nothing will be sent until a control."""
        if self._state is not PlayerState.PLAYING or self._next is None:
            return None
        return self._due(self._next)

    # -- controls -----------------------------------------------------------------------

    def start(self, now: float) -> RecordPlayer:
        """Begin sending (the ACK); a session paused before it stays paused."""
        if self._state is PlayerState.READY:
            self._play(now)
        return self

    def pause(self, now: float) -> None:
        if self._state in (PlayerState.READY, PlayerState.PLAYING):
            self._state = PlayerState.PAUSED

    def resume(self, now: float) -> None:
        """`Range: npt=now-`, or a PLAY without Range: go on from the position."""
        if self._state is PlayerState.PAUSED:
            self._play(now)

    def seek(self, offset: float, now: float) -> None:
        """`Range: npt=<offset>-`: play from `t=` start + `offset` seconds."""
        if self._state is PlayerState.STOPPED:
            return
        target = self._start + round(offset * RTP_CLOCK_RATE)
        self._next = self._locate(target) if target < self._end else None
        self._last = None
        if self._state is not PlayerState.READY:
            self._play(now)

    def set_scale(self, scale: float, now: float) -> None:
        """`Scale: <s>` from the current position; a sign change turns around at a key frame."""
        _check_scale(scale)
        if self._state is PlayerState.STOPPED:
            return
        turning = (scale < 0) != (self._scale < 0)
        self._scale = scale
        if turning:
            self._next = self._turn_around()
            self._last = None
            if self._state in (PlayerState.PLAYING, PlayerState.FINISHED):
                self._play(now)
        elif self._state is PlayerState.PLAYING:
            self._anchor(now)

    def stop(self) -> None:
        """TEARDOWN."""
        self._state = PlayerState.STOPPED
        self._next = None

    def key_frame_next(self) -> None:
        """`IFameCmd` has no meaning for a recording (a session starts at a key frame)."""

    # -- pacing -------------------------------------------------------------------------

    def due(self, now: float) -> list[PlayedFrame]:
        """The frames due at `now`, in order (at most `MAX_FRAMES_PER_CALL`)."""
        if self._state is not PlayerState.PLAYING or self._next is None:
            return []
        if now - self._due(self._next) > self._max_lag:
            self._anchor(now)  # fell behind: go on from here, slower, skipping nothing
        out: list[PlayedFrame] = []
        while (
            self._next is not None
            and len(out) < MAX_FRAMES_PER_CALL
            and self._due(self._next) <= now + _TIME_EPSILON
        ):
            out.append(self._frame_at(self._next))
            self._advance(self._next)
        return out

    def _play(self, now: float) -> None:
        if self._next is None or not self._in_range(self._next):
            self._next = None
            self._state = PlayerState.FINISHED
            return
        self._state = PlayerState.PLAYING
        self._anchor(now)

    def _anchor(self, now: float) -> None:
        if self._next is not None:
            self._anchor_wall, self._anchor_ticks = now, self._recorded(self._next)

    def _due(self, position: _Position) -> float:
        ticks = self._recorded(position) - self._anchor_ticks
        return self._anchor_wall + ticks / (RTP_CLOCK_RATE * self._scale)

    def _advance(self, sent: _Position) -> None:
        """Move past the frame just sent; a jump to another file is not waited out."""
        sent_due = self._due(sent)
        self._last = sent
        following = self._following(sent) if self._scale > 0 else self._previous_key(sent)
        if following is None or not self._in_range(following):
            self._next = None
            self._state = PlayerState.FINISHED
            return
        self._next = following
        if following.file != sent.file:
            step = self._loop.frames[sent.frame % len(self._frame_pts)].duration
            if self._scale < 0:
                step = self._gop_ticks
            self._anchor_wall = sent_due + step / (RTP_CLOCK_RATE * abs(self._scale))
            self._anchor_ticks = self._recorded(following)

    def _frame_at(self, position: _Position) -> PlayedFrame:
        index = position.frame % len(self._frame_pts)
        frame = self._loop.frames[index]
        recorded = self._recorded(position)
        recorded_ms = recorded // (RTP_CLOCK_RATE // 1000)
        unit = insert_recorded_time(
            frame.data, recorded_ms, self._codec, offset=self._slice_starts[index]
        )
        pts = recorded - self._origin
        ps = self._muxer.mux_video(unit, pts, is_keyframe=frame.is_keyframe).data
        played = PlayedFrame(ps, pts, recorded_ms, frame.is_keyframe, self._frames_sent)
        self._frames_sent += 1
        self._last_recorded_ms = recorded_ms
        return played

    # -- the files' frames ------------------------------------------------------------------

    def _recorded(self, position: _Position) -> int:
        """Recorded time of a frame in 90 kHz ticks since the Unix epoch."""
        passes, index = divmod(position.frame, len(self._frame_pts))
        file_start = self._files[position.file].start * RTP_CLOCK_RATE
        return file_start + passes * self._loop.duration + self._frame_pts[index]

    def _frames_before(self, file: RecordFile, ticks: int) -> int:
        """How many frames of `file` lie before `ticks` after its start."""
        passes, within = divmod(ticks, self._loop.duration)
        return passes * len(self._frame_pts) + bisect.bisect_left(self._frame_pts, within)

    def _key_before(self, frame: int) -> int:
        """The file's frame number of the key frame at or before `frame`."""
        index = frame % len(self._frame_pts)
        return frame - (index - self._key_at_or_before[index])

    def _locate(self, ticks: int) -> _Position | None:
        """The key frame at or before `ticks`, or the next file's first frame in a gap."""
        for number, file in enumerate(self._files):
            if file.end * RTP_CLOCK_RATE <= ticks:
                continue
            relative = ticks - file.start * RTP_CLOCK_RATE
            if relative <= 0:
                return _Position(number, 0)
            last = self._frames_before(file, relative + 1) - 1
            return _Position(number, self._key_before(last))
        return None

    def _following(self, position: _Position) -> _Position | None:
        file = self._files[position.file]
        if position.frame + 1 < self._frames_before(file, file.duration * RTP_CLOCK_RATE):
            return _Position(position.file, position.frame + 1)
        if position.file + 1 < len(self._files):
            return _Position(position.file + 1, 0)
        return None

    def _previous_key(self, position: _Position) -> _Position | None:
        if position.frame > 0:
            return _Position(position.file, self._key_before(position.frame - 1))
        if position.file == 0:
            return None
        file = self._files[position.file - 1]
        last = self._frames_before(file, file.duration * RTP_CLOCK_RATE) - 1
        return _Position(position.file - 1, self._key_before(last))

    def _turn_around(self) -> _Position | None:
        """Where a change of direction goes on: the key frame at or before the last sent."""
        here = self._last if self._last is not None else self._next
        if here is None:  # nothing sent and nothing left: from the range's far end
            return self._locate(self._end - 1 if self._scale < 0 else self._start)
        return _Position(here.file, self._key_before(here.frame))

    def _in_range(self, position: _Position) -> bool:
        recorded = self._recorded(position)
        if self._scale > 0:
            return recorded < self._end
        return recorded >= self._start


def _check_scale(scale: float) -> None:
    if not math.isfinite(scale) or not MIN_SCALE <= abs(scale) <= MAX_SCALE:
        raise ValueError(f"scale: expected {MIN_SCALE} <= |scale| <= {MAX_SCALE}, got {scale}")
