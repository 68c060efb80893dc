"""The `s=Download` output: a stream written into one MP4 file, losing nothing.

Owns the download sink of DESIGN.md "Growing the house" (GB/T 28181-2016 §9.9, up to 4×
speed, `a=downloadspeed`), over `mp4_file.Mp4FileWriter`:

* `LosslessFileSink`, a `QueuedSink` that queues only video, with a large bound: once it
  has started, a frame the overflow policy drops is a fault (`_frames_lost`), never a
  silent loss. Its consumer takes a GOP at a time (`next_fragment`) and hands it to a
  writer thread: one wake-up and one thread hop per GOP, not per frame. An `executor`
  shared by the file sinks (one thread) costs less than asyncio's default pool, whose
  several threads contend for the GIL.
* `Mp4FileSink`: every frame into one MP4 file, progress as media time received
  (`received_seconds`, through an `OutputClock` so a jump of the device's timestamps does
  not count as time), and a finished file after `end()` or `finish()`. A queue overflow
  fails the download (`MediaError`) instead of leaving a hole in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from pathlib import Path
from typing import TypeVar

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, EsFrame, MediaKind
from farmwatch.media.output_clock import OutputClock
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.sinks.mp4_file import Mp4FileInfo, Mp4FileWriter

__all__ = [
    "DOWNLOAD_QUEUE_BYTES",
    "DOWNLOAD_QUEUE_FRAMES",
    "LosslessFileSink",
    "Mp4FileSink",
]

log = logging.getLogger(__name__)

DOWNLOAD_QUEUE_FRAMES = 3000
"""30 s of a 25 fps source sent at 4×: the writer thread may stall that long without loss."""
DOWNLOAD_QUEUE_BYTES = 128 * 1024 * 1024
MAX_FRAGMENT_FRAMES = 250
"""Frames handed to a writer thread at once when no key frame comes (a very long GOP)."""

_T = TypeVar("_T")
_R = TypeVar("_R")


class LosslessFileSink(QueuedSink):
    """A `QueuedSink` for file writers: video only, a GOP at a time, a dropped frame a fault.

    Before the first key frame, frames are skipped as in every sink (a file starts on a key
    frame). After it, a frame the overflow policy drops (the writer fell behind by a whole
    queue) is counted in `frames_lost` and reported once per overflow to `_frames_lost`.
    The consumer calls `next_fragment`, which wakes once a key frame is queued (or
    `MAX_FRAGMENT_FRAMES` are, or the sink ended) and takes everything queued: one wake-up
    of the consumer and one writer-thread call per GOP, not per frame (a wake-up or a thread
    hop costs tens of microseconds of CPU: per frame, more than writing the frame).
    """

    def __init__(
        self, *, max_frames: int, max_bytes: int, executor: Executor | None = None, name: str = ""
    ) -> None:
        super().__init__(max_frames=max_frames, max_bytes=max_bytes, name=name)
        self._executor = executor
        self._has_started = False
        self._fragment_ready = asyncio.Event()
        self.frames_lost = 0
        """Frames dropped after the first one was queued (the writer fell behind)."""

    def offer(self, frame: EsFrame) -> None:
        """Queue a video frame (audio is not written); never blocks, never raises."""
        if frame.kind is not MediaKind.VIDEO:
            return
        was_waiting, dropped = self.is_waiting_for_keyframe, self.frames_dropped
        super().offer(frame)
        lost = self.frames_dropped - dropped
        if not lost:
            if self.end_reason is None:
                self._has_started = True
                self._frame_queued(frame)
                if frame.is_keyframe or self.queued_frames >= MAX_FRAGMENT_FRAMES:
                    self._fragment_ready.set()
        elif self._has_started:
            self.frames_lost += lost
            if not was_waiting:
                self._frames_lost(lost)

    def end(self, reason: str) -> None:
        super().end(reason)
        self._fragment_ready.set()

    async def close(self) -> None:
        self._fragment_ready.set()
        await super().close()

    async def next_fragment(self, take: Callable[[EsFrame], _T]) -> list[_T]:
        """`take(frame)` of every frame queued once a key frame is (at most
        `MAX_FRAGMENT_FRAMES`); fewer once the sink ended, and [] when it is drained.

        The key frame makes the muxer write the GOP before it, so one writer-thread call per
        batch writes one fragment. `take` runs as each frame is taken (it may read a clock:
        the last frame of a batch is the one that just arrived, the others waited in the
        queue).
        """
        if self.end_reason is None:
            await self._fragment_ready.wait()
        self._fragment_ready.clear()
        batch: list[_T] = []
        while self.queued_frames and len(batch) < MAX_FRAGMENT_FRAMES:
            frame = await self.next_frame()  # returns at once: the queue is not empty
            if frame is None:
                break
            batch.append(take(frame))
        if self.queued_frames:
            self._fragment_ready.set()  # more than one batch was waiting
        return batch

    async def _in_writer_thread(self, call: Callable[[], _R]) -> _R:
        """Run blocking `call` in the writer executor (asyncio's default one if none)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _frame_queued(self, frame: EsFrame) -> None:
        """Hook: `frame` was queued."""

    def _frames_lost(self, count: int) -> None:
        """Hook: the queue overflowed and `count` frames were dropped (more may follow
        until the next key frame, counted in `frames_lost`)."""


class Mp4FileSink(LosslessFileSink):
    """The `s=Download` output: a stream written into one MP4 file at `path`.

    `await start()` (the writing task is owned here), attach it to the stream, read
    `received_seconds` for progress, then `await wait_finished()` once the stream ended
    (the device sent MediaStatus 121, the stream called `end`), or `await finish()` to end
    it here; bound either with `asyncio.timeout`. Both return the file's `Mp4FileInfo`, or
    raise `MediaError` when the download failed (queue overflow, a write error); a failed
    download leaves no file. `close()` abandons the download (and removes the file).
    """

    def __init__(
        self,
        path: Path,
        *,
        max_frames: int = DOWNLOAD_QUEUE_FRAMES,
        max_bytes: int = DOWNLOAD_QUEUE_BYTES,
        executor: Executor | None = None,
        name: str = "",
    ) -> None:
        super().__init__(max_frames=max_frames, max_bytes=max_bytes, executor=executor, name=name)
        self._writer = Mp4FileWriter(path)
        self._clock = OutputClock()
        """Stamps frames as they are received, for the progress."""
        self._output_clock = OutputClock()
        """Stamps them as they are written (in the writer thread)."""
        self._latest_ticks: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._is_started = False
        self._done = asyncio.Event()
        self._info: Mp4FileInfo | None = None
        self._failure: MediaError | None = None

    async def start(self) -> None:
        """Start writing what the stream offers."""
        if not self._is_started and not self.is_closed:
            self._is_started = True
            self._task = asyncio.create_task(self._run(), name=f"mp4-file:{self.name}")

    @property
    def received_seconds(self) -> float:
        """Media time from the first frame to the latest one received (jumps not counted)."""
        return 0.0 if self._latest_ticks is None else self._latest_ticks / TIMESTAMP_CLOCK_RATE

    @property
    def failure(self) -> MediaError | None:
        """Why the download failed, None while it runs or once it succeeded."""
        return self._failure

    @property
    def is_closed(self) -> bool:
        """Closed, or the file is finished (or failed): the stream then detaches the sink."""
        return super().is_closed or self._done.is_set()

    async def finish(self) -> Mp4FileInfo:
        """End the download here (what is queued is still written) and wait for the file."""
        self.end("download finished")
        return await self.wait_finished()

    async def wait_finished(self) -> Mp4FileInfo:
        """The finished file once the stream ended; raises `MediaError` if it failed."""
        if not self._is_started:
            raise MediaError(f"download {self.name!r} was not started")
        await self._done.wait()
        if self._failure is not None:
            raise self._failure
        if self._info is None:
            raise MediaError(f"download {self.name!r} received no video")
        return self._info

    def _frame_queued(self, frame: EsFrame) -> None:
        self._latest_ticks = self._clock.stamp(frame.pts, frame.dts)[1]

    def _frames_lost(self, count: int) -> None:
        self._fail(MediaError(f"download {self.name!r}: queue overflow, {count} frames lost"))
        self.end("download queue overflow")

    def _fail(self, failure: MediaError) -> None:
        if self._failure is None:
            self._failure = failure

    async def _run(self) -> None:
        try:
            while batch := await self.next_fragment(_same):
                await self._in_writer_thread(
                    partial(_write_all, self._writer, self._output_clock, batch)
                )
            if self._failure is None:
                self._info = await self._in_writer_thread(self._writer.close)
        except MediaError as error:  # the stream changed its parameter sets
            log.warning("download %s failed: %s", self.name, error)
            self._fail(error)
        except Exception as error:
            log.exception("download %s: writing %s failed", self.name, self._writer.path)
            self._fail(MediaError(f"download {self.name!r}: writing failed: {error}"))
        finally:
            if self._info is None:
                await self._in_writer_thread(partial(_discard, self._writer))
            self._done.set()

    async def _on_close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            self._fail(MediaError(f"download {self.name!r} was closed before it finished"))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._done.set()  # a task cancelled before it ran never got to set it


def _same(frame: EsFrame) -> EsFrame:
    return frame


def _write_all(writer: Mp4FileWriter, clock: OutputClock, frames: list[EsFrame]) -> None:
    for frame in frames:
        writer.write(frame, clock.stamp(frame.pts, frame.dts))


def _discard(writer: Mp4FileWriter) -> None:
    writer.abort()
    writer.path.unlink(missing_ok=True)
