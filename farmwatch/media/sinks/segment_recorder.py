"""Platform recording of one stream: its PS as received into segment files, never demultiplexed.

Owns the segment recorder of DESIGN.md "Growing the house" as a stream's `PsSink`
(`Stream.attach_ps`): it gets each frame's program-stream bytes as the camera sent them
(`PsFrame`), starting with the frames since the stream's last key frame, so recording a
stream costs no demultiplexing (a stream nobody watches stays undemultiplexed, issue 14).
Files, cuts and times are `SegmentWriter`'s (`segment_writer.py`, `segment_timeline.py`):
`{folder}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}.ps` with a `.idx` index beside it.

`offer_ps` appends the frame to a bounded queue (a minute of video). The recording task
wakes once a key frame is queued (or `MAX_BATCH` frames are, or the stream ended), places
everything queued on the timeline and builds its index records (`SegmentWriter.plan`, a few
microseconds a frame on the loop, no I/O), and hands the file operations to the writer
thread (`apply`: one `writev` of the frames' bytes, one write of their records) — one
wake-up and one thread hop per GOP, and next to no Python in the thread, which would
contend with the event loop for the GIL (pass one `executor` to all recorders: one writer
thread per node). Each frame is stamped with the wall clock as it is taken, and whether it
was the last one queued (live: the timeline reads the wall time from those). A queue overflow (the
writer stalled a whole minute) drops frames up to the next key frame: a fault, logged and
counted (`frames_lost`), never silent. Each closed segment goes to `on_segment`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.sinks.segment_timeline import (
    DEFAULT_RESYNC_THRESHOLD,
    DEFAULT_SEGMENT_LENGTH,
)
from farmwatch.media.sinks.segment_writer import (
    RecordedSegment,
    SegmentWriter,
    TakenFrame,
    segment_path,
)

__all__ = [
    "MAX_BATCH",
    "RECORDER_QUEUE_BYTES",
    "RECORDER_QUEUE_FRAMES",
    "RecordedSegment",
    "SegmentRecorder",
    "WallClock",
    "segment_path",
]

log = logging.getLogger(__name__)

RECORDER_QUEUE_FRAMES = 1500
"""A minute of 25 fps video: a writer thread stalled that long (a slow disk) loses nothing."""
RECORDER_QUEUE_BYTES = 64 * 1024 * 1024
MAX_BATCH = 250
"""Frames handed to the writer thread at once when no key frame comes (a very long GOP)."""
_CANCEL_TIMEOUT = 1.0

WallClock = Callable[[], float]
"""POSIX seconds now (`time.time` in production)."""

_R = TypeVar("_R")


class SegmentRecorder:
    """A stream recorded into segment files under `directory` (see the module docstring).

    `await start()` (the recording task is owned here), then attach it with `attach_ps`. It
    ends when the stream ends (`end`: what is queued is written and the open segment closed),
    or on `close()`, which does the same within `close_timeout` seconds and otherwise leaves
    the temporary files for recovery. A failure to write (disk full) is logged and ends the
    recorder (`is_closed`, `has_failed`); the owner decides whether to retry.
    """

    def __init__(
        self,
        directory: Path,
        *,
        zone: ZoneInfo,
        on_segment: Callable[[RecordedSegment], None],
        segment_length: timedelta = DEFAULT_SEGMENT_LENGTH,
        wall_clock: WallClock = time.time,
        resync_threshold: float = DEFAULT_RESYNC_THRESHOLD,
        close_timeout: float = 10.0,
        executor: Executor | None = None,
        max_frames: int = RECORDER_QUEUE_FRAMES,
        max_bytes: int = RECORDER_QUEUE_BYTES,
        name: str = "",
    ) -> None:
        self.name = name
        self.writer = SegmentWriter(
            directory, zone, segment_length=segment_length, resync_threshold=resync_threshold
        )
        self._on_segment = on_segment
        self._wall_clock = wall_clock
        self._close_timeout = close_timeout
        self._executor = executor
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._queue: deque[PsFrame] = deque()
        self._queued_bytes = 0
        self._ready = asyncio.Event()
        self._is_waiting = True  # for a key frame: at the start, and after an overflow
        self._has_started = False
        self._is_ended = self._is_closed = self._is_done = False
        self._task: asyncio.Task[None] | None = None
        self.has_failed = False
        self.frames_lost = 0
        """Frames dropped after recording started (the writer fell a whole queue behind)."""
        self.segments_recorded = 0

    async def start(self) -> None:
        """Start recording what the stream offers."""
        if self._task is None and not self.is_closed:
            self._task = asyncio.create_task(self._run(), name=f"recorder:{self.name}")

    # ---- PsSink ----

    def offer_ps(self, frame: PsFrame) -> None:
        """Queue one frame's PS bytes; never blocks, never raises."""
        if self._is_ended or self._is_closed:
            return
        if self._is_waiting:
            if not frame.is_keyframe:
                if self._has_started:
                    self.frames_lost += 1
                return
            self._is_waiting = False
        elif len(self._queue) >= self._max_frames or (
            self._queue and self._queued_bytes + len(frame.data) > self._max_bytes
        ):
            self._is_waiting = True
            self.frames_lost += 1
            log.error("recorder %s fell a whole queue behind: frames dropped up to the next "
                      "key frame (%d lost so far)", self.name, self.frames_lost)  # fmt: skip
            return
        self._has_started = True
        self._queue.append(frame)
        self._queued_bytes += len(frame.data)
        if frame.is_keyframe or len(self._queue) >= MAX_BATCH:
            self._ready.set()

    def end(self, reason: str) -> None:
        """The stream ended: what is queued is written and the open segment closed."""
        self._is_ended = True
        self._ready.set()

    @property
    def queued_frames(self) -> int:
        """Frames offered and not taken for writing yet."""
        return len(self._queue)

    @property
    def is_waiting_for_keyframe(self) -> bool:
        return self._is_waiting

    @property
    def is_closed(self) -> bool:
        """Closed, or the recording ended or failed: the stream then detaches the sink."""
        return self._is_closed or self._is_done

    async def close(self) -> None:
        """Stop recording: write what is queued and close the open segment, then release."""
        self.end("recording stopped")
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=self._close_timeout)
            if not task.done():
                log.error("recorder %s: not finished after %.0f s; the temporary files are "
                          "left for recovery", self.name, self._close_timeout)  # fmt: skip
                task.cancel()  # its files are closed once the writer thread is free again
                await asyncio.wait({task}, timeout=_CANCEL_TIMEOUT)
        self._is_closed = self._is_done = True
        self._queue.clear()
        self._queued_bytes = 0

    # ---- the recording task ----

    async def _next_batch(self) -> list[TakenFrame]:
        """Every frame queued once a key frame is (at most `MAX_BATCH`), stamped as taken;
        [] once the stream ended and the queue is drained."""
        if not self._is_ended:
            await self._ready.wait()
        self._ready.clear()
        queue, now = self._queue, self._wall_clock()  # all taken now
        batch: list[TakenFrame] = []
        while queue and len(batch) < MAX_BATCH:
            frame = queue.popleft()
            self._queued_bytes -= len(frame.data)
            batch.append((frame, now, not queue))
        if queue:
            self._ready.set()  # more than one batch was waiting
        return batch

    async def _run(self) -> None:
        is_finished = False
        try:
            writer = self.writer
            while batch := await self._next_batch():
                plan = writer.plan(batch)  # on the loop: the thread only writes
                self._report(await self._in_writer_thread(partial(writer.apply, plan)))
            plan = writer.plan_finish()
            self._report(await self._in_writer_thread(partial(writer.apply, plan)))
            is_finished = True
        except Exception:
            log.exception("recorder %s: recording into %s failed", self.name, self.writer.directory)
            self.has_failed = True
        finally:
            if not is_finished:
                await asyncio.shield(self._in_writer_thread(self.writer.abort))
            self._is_done = True

    async def _in_writer_thread(self, call: Callable[[], _R]) -> _R:
        """Run blocking `call` in the writer executor (asyncio's default one if none)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _report(self, segments: list[RecordedSegment]) -> None:
        for segment in segments:
            self.segments_recorded += 1
            try:
                self._on_segment(segment)
            except Exception:  # the listener's bug must not stop the recording
                log.exception("recorder %s: on_segment failed for %s", self.name, segment.path)
