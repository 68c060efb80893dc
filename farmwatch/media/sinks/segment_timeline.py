"""Where recorded segments start and end, and when each frame of them was recorded.

Owns the cutting rules of platform recording (DESIGN.md "Growing the house": the segment
recorder; field-notes §1 "Plans": cut on key frames with no gap, one fixed zone), over the PS
frames of a stream as received (`PsFrame`), for `segment_writer.py`. Pure: the wall clock is
given with each frame (`now`), nothing is read or written.

A segment starts on a whole key frame and ends where the next one starts: at the first key
frame at or after `segment_length`, at or after midnight in the zone (so a segment spans
midnight by less than a GOP), where the key frame's PSM or parameter sets change (another
codec or picture size: `keyframe_signature`), or where the recorded time has drifted from the
wall clock. The segment's codec and picture size come from demultiplexing its first key frame
(`probe_keyframe`, once a segment); a key frame that does not demultiplex starts none.

Time: each picture's RTP timestamp (unwrapped from 32 bits) goes through one `OutputClock`
for the whole recording, so a device's timestamp jump neither breaks a segment nor moves the
timeline; a frame's recorded time is its segment's start plus its ticks since the segment's
first frame (`PlacedFrame.time`, what the index keeps), and a segment starts exactly where
the one before it ended (gap 0). Frames where no picture starts (sound, private data, the
rest of a frame after a loss, a second part under the same timestamp) keep the time of the
picture before them and are flagged `NO_PICTURE`. Only the first segment's start is read
from the wall clock: from the first frame taken while nothing else was queued (the GOP a
stream hands a new sink at once was captured up to a GOP earlier), moved back by the media
time since the segment's first frame. After that the shell reports the wall clock with every
live frame; when the least offset over a GOP exceeds `resync_threshold` (a device clock
running fast or slow, a stall the timestamps did not show), the next segment starts at the
wall clock's time instead (`resyncs`), leaving a gap, or an overlap of the names, that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from typing import NamedTuple
from zoneinfo import ZoneInfo

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec
from farmwatch.media.nal import VideoSize
from farmwatch.media.output_clock import OutputClock
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.sinks.ps_scan import (
    FrameKind,
    KeyframeProbe,
    classify_frame,
    is_picture,
    keyframe_signature,
    probe_keyframe,
)
from farmwatch.media.sinks.segment_index import FrameFlag

__all__ = [
    "DEFAULT_RESYNC_THRESHOLD",
    "DEFAULT_SEGMENT_LENGTH",
    "PlacedFrame",
    "SegmentEnded",
    "SegmentStarted",
    "SegmentTimeline",
    "TimelineOutput",
]

DEFAULT_SEGMENT_LENGTH = timedelta(minutes=10)
DEFAULT_RESYNC_THRESHOLD = 2.0
"""Seconds the recorded time may drift from the wall clock before a segment re-syncs."""
_HELD_FRAMES = 256
"""Frames kept back while waiting for a live one to read the first start from."""
_RTP_MODULUS = 1 << 32
_KEYFRAME = int(FrameFlag.KEYFRAME)
_INCOMPLETE = int(FrameFlag.INCOMPLETE)
_AFTER_LOSS = int(FrameFlag.AFTER_LOSS)
_NO_PICTURE = int(FrameFlag.NO_PICTURE)


@dataclass(frozen=True, slots=True)
class SegmentStarted:
    """A segment starts with the next frame."""

    start: datetime
    codec: Codec
    size: VideoSize | None
    """From its first key frame (None: its SPS did not parse)."""


@dataclass(frozen=True, slots=True)
class SegmentEnded:
    """The open segment ends before the next frame."""

    end: datetime


class PlacedFrame(NamedTuple):
    """A frame of the open segment, when it was recorded and what the index says of it."""

    frame: PsFrame
    time: int
    """90 kHz ticks from the segment's first frame."""
    flags: int
    """`FrameFlag` bits."""

    @property
    def is_picture(self) -> bool:
        return not self.flags & _NO_PICTURE


TimelineOutput = SegmentStarted | SegmentEnded | PlacedFrame
"""What `SegmentTimeline` returns, in order: segment boundaries and the frames between."""


class _Stamped(NamedTuple):
    frame: PsFrame
    dts: int
    flags: int


@dataclass(frozen=True, slots=True)
class _Segment:
    start: float
    first_dts: int
    cut_at: float
    """POSIX time from which on a key frame ends the segment."""
    codec: Codec
    signature: bytes

    def wall_time(self, dts: int) -> float:
        return self.start + (dts - self.first_dts) / TIMESTAMP_CLOCK_RATE


class SegmentTimeline:
    """Segment boundaries and frame times of one recording; see the module docstring."""

    def __init__(
        self,
        zone: ZoneInfo,
        *,
        segment_length: timedelta = DEFAULT_SEGMENT_LENGTH,
        resync_threshold: float = DEFAULT_RESYNC_THRESHOLD,
    ) -> None:
        if segment_length <= timedelta(0) or resync_threshold <= 0:
            raise ValueError("segment_length and resync_threshold must be > 0")
        self._zone = zone
        self._length = segment_length.total_seconds()
        self._resync_threshold = resync_threshold
        self._clock = OutputClock()
        self._timestamp: int | None = None
        """RTP timestamp of the last picture."""
        self._unwrapped = 0
        self._dts = 0
        """Output DTS of the last picture."""
        self._segment: _Segment | None = None
        self._held: list[_Stamped] = []
        self._held_probe: KeyframeProbe | None = None
        self._offset: float | None = None
        """Least (wall clock − recorded time) of the live pictures since the last key frame."""
        self._latest: tuple[int, float] = (0, 0.0)
        self.frames_skipped = 0
        """Frames before a key frame a segment could start on."""
        self.resyncs = 0
        """Segments started at the wall clock's time because the recorded time drifted."""

    def feed(self, frame: PsFrame, now: float, *, is_live: bool = True) -> list[TimelineOutput]:
        """Place one frame (in the order received); `now` is the wall clock when it was
        taken and `is_live` whether nothing was queued behind it (so `now` is when it came)."""
        segment = self._segment
        if segment is not None and not frame.is_keyframe:
            # The usual frame, placed in the open segment: the general way below, shortened
            # (it runs for every frame of every recorded stream).
            flags = 0 if frame.is_complete else _INCOMPLETE
            if frame.after_loss:
                flags |= _AFTER_LOSS
            if frame.timestamp != self._timestamp and is_picture(frame.data):
                dts = self._dts = self._stamp(frame.timestamp)
                self._latest = (dts, now)
                if is_live:
                    offset = now - segment.wall_time(dts)
                    if self._offset is None or offset < self._offset:
                        self._offset = offset
            else:
                flags |= _NO_PICTURE
                dts = self._dts
            return [PlacedFrame(frame, dts - segment.first_dts, flags)]
        if self._segment is None and not self._held and not self._hold_first(frame):
            self.frames_skipped += 1
            return []
        flags = _flags(frame)
        if frame.is_keyframe or (
            classify_frame(frame.data) is FrameKind.PICTURE and frame.timestamp != self._timestamp
        ):
            self._dts = self._stamp(frame.timestamp)
            self._latest = (self._dts, now)
        else:
            flags |= _NO_PICTURE
            is_live = False
        dts = self._dts
        stamped = _Stamped(frame, dts, flags)
        outputs: list[TimelineOutput] = []
        if self._segment is None:
            if len(self._held) == 0 or not frame.is_keyframe:
                self._held.append(stamped)
                if is_live or len(self._held) >= _HELD_FRAMES:
                    return self._anchor(now, dts)
                return []
            outputs = self._anchor(now, dts)  # a second key frame came before a live frame
        if frame.is_keyframe:
            outputs += self._cut_if_due(stamped)
        segment = self._segment
        assert segment is not None
        if is_live:
            offset = now - segment.wall_time(dts)
            self._offset = offset if self._offset is None else min(self._offset, offset)
        outputs.append(PlacedFrame(frame, dts - segment.first_dts, flags))
        return outputs

    def finish(self) -> list[TimelineOutput]:
        """The recording stops: the open segment ends one frame interval after its last
        picture."""
        dts, now = self._latest
        outputs = self._anchor(now, dts) if self._held else []
        if self._segment is not None:
            end = self._segment.wall_time(dts) + self._clock.frame_interval / TIMESTAMP_CLOCK_RATE
            outputs.append(SegmentEnded(self._datetime(end)))
            self._segment = None
        self._offset = None
        return outputs

    def _hold_first(self, frame: PsFrame) -> bool:
        """Whether `frame` can start the first segment (a key frame that demultiplexes)."""
        if not frame.is_keyframe:
            return False
        self._held_probe = probe_keyframe(frame.data)
        return self._held_probe is not None

    def _stamp(self, timestamp: int) -> int:
        previous, self._timestamp = self._timestamp, timestamp
        if previous is None:
            self._unwrapped = timestamp
        else:
            half = _RTP_MODULUS // 2
            self._unwrapped += (timestamp - previous + half) % _RTP_MODULUS - half
        return self._clock.stamp(self._unwrapped, self._unwrapped)[1]

    def _anchor(self, now: float, dts: int) -> list[TimelineOutput]:
        """Start the first segment so that the frame stamped `dts` arrived at `now`."""
        held, self._held = self._held, []
        probe = self._held_probe
        assert probe is not None
        first = held[0]
        start = now - (dts - first.dts) / TIMESTAMP_CLOCK_RATE
        self._segment = self._open(start, first.dts, probe.codec, first.frame.data)
        return [
            SegmentStarted(self._datetime(start), probe.codec, probe.size),
            *(PlacedFrame(item.frame, item.dts - first.dts, item.flags) for item in held),
        ]

    def _cut_if_due(self, stamped: _Stamped) -> list[TimelineOutput]:
        segment = self._segment
        assert segment is not None
        offset, self._offset = self._offset, None
        frame = stamped.frame
        wall = segment.wall_time(stamped.dts)
        is_drifting = offset is not None and abs(offset) > self._resync_threshold
        is_changed = keyframe_signature(segment.codec, frame.data) != segment.signature
        if not (is_drifting or is_changed or wall >= segment.cut_at):
            return []
        probe = probe_keyframe(frame.data)
        if probe is None:
            return []  # no segment can start on it: the next key frame cuts
        start = wall
        if is_drifting and offset is not None:
            start += offset
            self.resyncs += 1
        self._segment = self._open(start, stamped.dts, probe.codec, frame.data)
        return [
            SegmentEnded(self._datetime(wall)),
            SegmentStarted(self._datetime(start), probe.codec, probe.size),
        ]

    def _open(self, start: float, first_dts: int, codec: Codec, keyframe: bytes) -> _Segment:
        day = self._datetime(start).date()
        cut_at = min(start + self._length, self._midnight_after(day))
        return _Segment(start, first_dts, cut_at, codec, keyframe_signature(codec, keyframe))

    def _midnight_after(self, day: date) -> float:
        following = datetime.combine(day + timedelta(days=1), time_of_day(), tzinfo=self._zone)
        return following.timestamp()

    def _datetime(self, posix: float) -> datetime:
        return datetime.fromtimestamp(posix, self._zone)


def _flags(frame: PsFrame) -> int:
    flags = _KEYFRAME if frame.is_keyframe else 0
    if not frame.is_complete:
        flags |= _INCOMPLETE
    if frame.after_loss:
        flags |= _AFTER_LOSS
    return flags
