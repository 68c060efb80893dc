"""A stream's source that is the platform's own recording: segment files played in real time.

Owns the playback of platform recordings in the media layer (DESIGN.md "a playback stream is a
`Stream` like a live one, with a clock that can pause, seek and run at a scale"). A
`RecordingFeed` is a `Receiver` to the `MediaManager`, as an RTP receiver is, so the stream it
feeds has the same sinks, outputs, pause, scale, progress and close as a device's: frames are
read from the files with `RecordingReader` in a worker thread, a batch at a time (the first
frame of a reading position alone, so that it is held at once), and handed to the stream
when `RecordingPacer` says they are due, with one loop timer at the next due time (STYLE B4).

* Start: the key frame at or before the start time is handed over at once, with
  `MediaStarted`, so the stream is live (its GOP cache holds the picture) before anybody
  watches; the frames after it wait for the first sink (`set_watched`), as a device stream
  only demultiplexes while watched, so a viewer that attaches a second later still starts at
  the time asked.
* Timestamps: the source PTS/DTS of a frame is its recorded wall time since the first frame
  the stream played, in 90 kHz ticks (holes and seeks included: a seek back gives smaller,
  possibly negative, ones), so `stream_progress` reads recorded time exactly as for a device:
  position = anchor time + (latest PTS − anchor PTS) / 90 kHz.
* Scale: the frames are paced `scale` times faster (`set_scale`, through the stream, which
  also rescales the timestamps every sink gets). Reverse play is refused (`MediaError`): a
  file stream plays forward only; seek back instead.
* Pause and backpressure (`set_paused`, `hold`): no frame is due until they end; reading
  goes on up to one batch ahead.
* Seek: reading restarts from the key frame at or before the new time, handed over at once;
  the stream's `PlaybackClock` is told (`on_moved`), so outputs go on one frame later.
* End: when every file was read and every frame handed over, `RecordingEnded` closes the
  stream (`CloseReason.END_OF_RECORDING`), as a device's MediaStatus 121 ends its playback.
  A reading error closes it as `PeerClosed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from farmwatch.media.errors import MediaError
from farmwatch.media.events import MediaStarted, PeerClosed, ReceiverListener, RecordingEnded
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, EsFrame
from farmwatch.media.ingest import IngestStats
from farmwatch.media.nal import video_size
from farmwatch.media.recording_pacer import RecordingPacer

if TYPE_CHECKING:
    from farmwatch.media.recording_reader import RecordingPart, RecordingReader

__all__ = ["READ_BATCH", "RecordingFeed", "RecordingFile"]

log = logging.getLogger(__name__)

READ_BATCH = 100
"""Frames read in one worker-thread call (4 s of 25 fps video)."""
_REFILL_BELOW = READ_BATCH // 2
_MAX_FRAMES_PER_CALL = 64
"""Frames handed over in one loop callback at most (a burst after a stall yields the loop)."""
_CLOSE_TIMEOUT = 10.0

_A = TypeVar("_A")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class RecordingFile:
    """One segment file and the recorded wall time of its first frame (aware)."""

    path: Path
    start: datetime


ReaderFactory = Callable[[Sequence["RecordingPart"], datetime], "RecordingReader"]
"""Makes the reader of a reading position (called in a worker thread)."""


def _open_reader(parts: Sequence[RecordingPart], start: datetime) -> RecordingReader:
    # The reader (and PyAV, for legacy MP4 segments) loads with the first playback, in the
    # reading thread, not at start-up.
    from farmwatch.media.recording_reader import RecordingReader

    return RecordingReader(parts, start)


class RecordingFeed:
    """Plays `parts` from `start` into `listener` (the stream); see the module docstring."""

    def __init__(
        self,
        listener: ReceiverListener,
        parts: Sequence[RecordingPart],
        start: datetime,
        *,
        label: str,
        open_reader: ReaderFactory = _open_reader,
    ) -> None:
        if start.tzinfo is None:
            raise MediaError("a recording's start time needs its UTC offset")
        self._listener = listener
        self._parts = list(parts)
        self._start = start
        self._label = label
        self._open_reader = open_reader
        self._loop = asyncio.get_running_loop()
        self._pacer = RecordingPacer()
        self._buffer: deque[EsFrame] = deque()
        self._generation = 0
        """Bumped at each reading position: reads of an older one are dropped."""
        self._reader: RecordingReader | None = None
        self._shift = 0
        """Added to the reader's timestamps: its first frame's wall time since `_origin`."""
        self._origin: datetime | None = None
        self._reading: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._is_exhausted = False
        self._timer: asyncio.Handle | None = None
        self._is_watched = self._is_paused = self._is_held = False
        self._is_started = self._is_closed = False
        self._has_ended = False
        """The end (or a reading failure) was reported: nothing more is handed over."""
        self._is_pumping = False
        """Handing frames over: a change the stream makes meanwhile (a sink's backpressure)
        is seen by the running `_pump`, which asks the pacer before each frame."""
        self._frames = self._bytes = 0
        self.on_moved: Callable[[], None] | None = None
        """Told when a seek moved the reading position (the stream rebases its clock)."""

    # ---- Receiver ----

    @property
    def local_port(self) -> int:
        return 0

    async def open(self) -> int:
        """Read and hand over the key frame at or before the start; raises `MediaError`
        when the files hold no frame from there on."""
        await self._read_from(self._start)
        return 0

    def expect_ssrc(self, ssrc: int) -> None:
        """Files have no SSRC."""

    def allow_host(self, host: str) -> bool:
        return False

    def set_watched(self, watched: bool) -> None:
        self._is_watched = watched
        self._changed()

    def set_paused(self, paused: bool) -> None:
        self._is_paused = paused
        self._changed()

    def set_relayed(self, relayed: bool) -> None:
        """Files hold no PS: a relay of this stream muxes its frames (`Stream.has_ps_source`)."""

    def hold(self, held: bool) -> None:
        self._is_held = held
        self._changed()

    @property
    def stats(self) -> IngestStats:
        return IngestStats(packets=0, bytes=self._bytes, malformed=0, rtcp=0, rejected_ssrc=0,
                           rejected_source=0, lost=0, late=0, duplicates=0, frames=self._frames,
                           locked_ssrc=None, source=None)  # fmt: skip

    async def close(self) -> None:
        """Stop feeding; wait for the reads in flight (a batch each) to end. Idempotent."""
        self._is_closed = True
        self._generation += 1
        self._cancel_timer()
        self._buffer.clear()
        self._reader = None
        if self._tasks:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- playback control ----

    def set_scale(self, scale: float) -> None:
        """Pace at `scale`; raises `MediaError` for a reverse (negative) scale."""
        try:
            self._pacer.set_scale(scale)
        except ValueError as error:
            raise MediaError(str(error)) from error
        self._pump()

    async def seek(self, start: datetime) -> None:
        """Play from the key frame at or before `start` (aware), handed over at once. The
        stream ends (end of recording) if the files hold nothing from there on."""
        if start.tzinfo is None:
            raise MediaError("a recording's seek time needs its UTC offset")
        if self._is_closed or self._has_ended:
            raise MediaError(f"{self._label} has ended")
        try:
            await self._read_from(start)
        except MediaError as error:
            self._end(PeerClosed(str(error)))
            raise

    # ---- internals ----

    async def _read_from(self, start: datetime) -> None:
        self._generation += 1
        generation = self._generation
        self._cancel_timer()
        self._buffer.clear()
        self._is_exhausted = False
        self._pacer.restart()
        self._reader = self._reading = None  # an older read in flight is dropped when it ends
        reader, first = await self._in_thread(self._open_and_read, start)
        if generation != self._generation or self._has_ended:
            return  # closed, or sought again meanwhile
        self._reader = reader
        if not first:
            if not self._is_started:
                raise MediaError(f"no recorded frame at or after {start.isoformat()}")
            self._is_exhausted = True
            self._pump()
            return
        frame = first[0]
        wall = reader.wall_time(frame)
        if self._origin is None:
            self._origin = wall
        elapsed = round((wall - self._origin).total_seconds() * TIMESTAMP_CLOCK_RATE)
        self._shift = elapsed - frame.dts
        if self._is_started and self.on_moved is not None:
            self.on_moved()
        self._hand_over(frame, self._loop.time())
        self._pump()

    def _changed(self) -> None:
        running = self._is_watched and not self._is_paused and not self._is_held
        self._pacer.set_running(running)
        self._pump()

    def _pump(self) -> None:
        """Hand over every frame due now, then arm the timer for the next one."""
        if self._is_pumping:
            return
        self._cancel_timer()
        if self._is_closed or self._has_ended:
            return
        self._is_pumping = True
        try:
            self._hand_over_due()
        finally:
            self._is_pumping = False
        if self._is_closed or self._has_ended:
            return
        if not self._buffer and self._is_exhausted:
            log.info("%s: end of the recording after %d frames", self._label, self._frames)
            self._end(RecordingEnded(self._frames))
            return
        self._refill()

    def _hand_over_due(self) -> None:
        buffer, pacer = self._buffer, self._pacer
        for _ in range(_MAX_FRAMES_PER_CALL):
            if not buffer:
                break
            now = self._loop.time()
            due = pacer.due_at(buffer[0].dts, now)
            if due is None:
                break
            if due > now:
                self._timer = self._loop.call_at(due, self._pump)
                break
            self._hand_over(buffer.popleft(), due)
            if self._is_closed:
                return  # the stream closed meanwhile
        else:
            if buffer:  # a burst: let the loop breathe, then go on
                self._timer = self._loop.call_soon(self._pump)

    def _end(self, event: RecordingEnded | PeerClosed) -> None:
        """Report the end once; the stream closes, and the manager closes this feed."""
        if not self._has_ended and not self._is_closed:
            self._has_ended = True
            self._cancel_timer()
            self._listener.receiver_event(event)

    def _hand_over(self, frame: EsFrame, at: float) -> None:
        self._pacer.sent(frame.dts, at)
        shift = self._shift
        frame = EsFrame(frame.codec, frame.data, frame.pts + shift, frame.dts + shift,
                        frame.is_keyframe, frame.stream_id)  # fmt: skip
        self._frames += 1
        self._bytes += len(frame.data)
        if not self._is_started:
            self._is_started = True
            size = video_size(frame.codec, frame.data)
            self._listener.receiver_event(MediaStarted(frame.codec, size, 0, None))
        self._listener.receiver_frame(frame)

    def _refill(self) -> None:
        reader = self._reader
        if (
            reader is None
            or self._reading is not None
            or self._is_exhausted
            or len(self._buffer) >= _REFILL_BELOW
        ):
            return
        task = self._loop.create_task(self._read_batch(reader, self._generation))
        self._reading = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_batch(self, reader: RecordingReader, generation: int) -> None:
        try:
            frames = await self._in_thread(reader.read, READ_BATCH)
        except MediaError as error:
            if generation == self._generation:
                self._end(PeerClosed(str(error)))
            return
        if generation != self._generation:
            return
        self._reading = None
        if frames:
            self._buffer.extend(frames)
        else:
            self._is_exhausted = True
        self._pump()

    def _open_and_read(self, start: datetime) -> tuple[RecordingReader, list[EsFrame]]:
        """A reader from `start` and its first frame (blocking: in a worker thread)."""
        reader = self._open_reader(self._parts, start)
        return reader, reader.read(1)

    async def _in_thread(self, call: Callable[[_A], _R], argument: _A) -> _R:
        """`call(argument)` in a worker thread; an unexpected failure is a `MediaError`."""
        try:
            return await asyncio.to_thread(call, argument)
        except Exception as error:  # isolation boundary: one recording's files
            log.exception("%s: reading the recording failed", self._label)
            raise MediaError(f"the recording cannot be read: {error}") from error

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
