"""How far a stream's media has come, in the recording's own time: for playback and download.

Owns `StreamProgress`, what the platform reads of a playback or download stream to report
the position as recorded time, compute download progress from the media timestamps (media
time received ÷ the span asked for: devices answer `a=filesize` with 0 or -1, field-notes
§1.3 pitfalls 13 and 20) and detect the end of a playback that never sends MediaStatus 121
(silence plus timestamps reaching the end, §1.4), and `ProgressMeter`, which counts it.
Timestamps are the **source's** 90 kHz PTS of video frames, as the device stamped them
(before any rescaling for Scale), unwrapped from 33 bits (ISO/IEC 13818-1 §2.4.3.7) by the
meter's own `TimestampUnwrapper`: a frame's PTS is taken modulo 2^33, so the value stays
continuous across a wrap even where the demuxer that unwrapped it first was replaced (a
re-locked SSRC, a stream woken by its first viewer). Pure: `now` is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.media.access_unit import TimestampUnwrapper
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE

__all__ = ["ProgressMeter", "StreamProgress"]

_MODULUS_MASK = (1 << 33) - 1


@dataclass(frozen=True, slots=True)
class StreamProgress:
    """A stream's media so far (plain values: it crosses the media worker's boundary)."""

    video_frames: int
    """Video frames the stream received (demultiplexed, or relayed: while nobody watches or
    relays a stream, its frames are only kept, not counted)."""
    keyframes: int
    first_pts: int | None
    """Source PTS (90 kHz, unwrapped) of the first video frame; None before one came."""
    latest_pts: int | None
    """Source PTS of the most recent video frame (falls in reverse playback)."""
    latest_keyframe_pts: int | None
    seconds_since_last_frame: float | None
    """Seconds since the most recent video frame arrived (counted while paused too)."""
    is_paused: bool
    scale: float

    @property
    def media_seconds(self) -> float:
        """Recorded time between the first and the latest video frame (negative in reverse)."""
        if self.first_pts is None or self.latest_pts is None:
            return 0.0
        return (self.latest_pts - self.first_pts) / TIMESTAMP_CLOCK_RATE


class ProgressMeter:
    """Counts a stream's video frames and keeps their source timestamps (unwrapped)."""

    __slots__ = (
        "_first",
        "_frames",
        "_keyframe_pts",
        "_keyframes",
        "_last_at",
        "_latest",
        "_unwrapper",
    )

    def __init__(self) -> None:
        self._unwrapper = TimestampUnwrapper()
        self._frames = 0
        self._keyframes = 0
        self._first: int | None = None
        self._latest: int | None = None
        self._keyframe_pts: int | None = None
        self._last_at: float | None = None

    def video_frame(self, pts: int, is_keyframe: bool, now: float) -> None:
        """One video frame with source `pts` (any integer: read modulo 2^33) arrived."""
        unwrapped = self._unwrapper.extend(pts & _MODULUS_MASK)
        if self._first is None:
            self._first = unwrapped
        self._latest = unwrapped
        self._frames += 1
        if is_keyframe:
            self._keyframes += 1
            self._keyframe_pts = unwrapped
        self._last_at = now

    def progress(self, now: float, *, is_paused: bool, scale: float) -> StreamProgress:
        last_at = self._last_at
        return StreamProgress(
            video_frames=self._frames,
            keyframes=self._keyframes,
            first_pts=self._first,
            latest_pts=self._latest,
            latest_keyframe_pts=self._keyframe_pts,
            seconds_since_last_frame=None if last_at is None else max(0.0, now - last_at),
            is_paused=is_paused,
            scale=scale,
        )
