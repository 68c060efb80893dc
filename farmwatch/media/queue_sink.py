"""A reusable bounded-queue sink: the base every output (fMP4, HLS, WebRTC, relay) builds on.

Owns the slow-consumer policy of STYLE B7: `Stream` pushes frames with `offer` (never blocks,
never raises); an async consumer pulls them at its own pace with `await sink.next_frame()` (or
`async for frame in sink`). The queue is bounded in frames and bytes. When it is full:

* a video frame is dropped and the sink starts **waiting for a keyframe**: every later video
  frame is dropped until the next video keyframe, which is then queued, after discarding what
  is still queued if there is no room for it (the consumer jumps forward to the keyframe, so
  what it decodes never references a missing frame);
* an audio frame is simply dropped (each audio frame decodes on its own).

A new sink also starts in the waiting state, so its first video frame is a keyframe. Every
dropped frame is counted (`frames_dropped`); `is_waiting_for_keyframe` lets the stream ask the
device for a keyframe (GB/T 28181 `IFameCmd`) instead of letting the viewer wait a whole GOP.

Backpressure, for a consumer that must lose nothing (a download at 4×, STYLE B7's exception
to dropping): `is_over_high_water` says the queue is half full (in frames or bytes), and
`call_when_drained(callback)` calls back once the consumer has taken it down to a quarter
(or the sink ended or closed). A stream attached with `backpressure=True` uses them to hold
its TCP source (`Stream.attach`) before the overflow policy has to drop anything.

Ending: `end(reason)` lets the consumer drain what is queued, then `next_frame()` returns None;
`close()` stops at once (queued frames are discarded, waiters get None) and runs the
subclass hook `_on_close()` exactly once. Subclasses override `_on_close` to release their
resources (a PyAV container, a peer connection) and never need to touch the queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from farmwatch.media.frames import EsFrame, MediaKind

__all__ = ["DEFAULT_SINK_QUEUE_BYTES", "DEFAULT_SINK_QUEUE_FRAMES", "QueuedSink"]

DEFAULT_SINK_QUEUE_FRAMES = 150
"""Six seconds of 25 fps video: enough for a cached GOP plus a second of jitter."""
DEFAULT_SINK_QUEUE_BYTES = 16 * 1024 * 1024


class QueuedSink:
    """`Sink` with a bounded queue of frames pulled by one async consumer.

    Use as is (`sink = QueuedSink(name="hls:ch1")`, attach it to a stream, run a task that
    does `async for frame in sink: ...`), or subclass and override `_on_close`.
    """

    def __init__(
        self,
        *,
        max_frames: int = DEFAULT_SINK_QUEUE_FRAMES,
        max_bytes: int = DEFAULT_SINK_QUEUE_BYTES,
        name: str = "",
    ) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("max_frames and max_bytes must be >= 1")
        self.name = name
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._queue: deque[EsFrame] = deque()
        self._queued_bytes = 0
        self._readable = asyncio.Event()
        self._waiting_for_keyframe = True
        self._end_reason: str | None = None
        self._closed = False
        self._close_done = False
        self._on_drained: Callable[[], None] | None = None
        self.frames_offered = 0
        """Frames the stream offered (dropped ones included)."""
        self.frames_dropped = 0
        """Frames dropped by the overflow policy (queued frames discarded on resync included)."""

    # ---- the Sink side (called by Stream) ----

    def offer(self, frame: EsFrame) -> None:
        """Queue one frame, or drop it by the overflow policy. Never blocks, never raises."""
        if self._closed or self._end_reason is not None:
            return
        self.frames_offered += 1
        if frame.kind is MediaKind.AUDIO:
            if self._has_room(frame):
                self._push(frame)
            else:
                self.frames_dropped += 1
            return
        if self._waiting_for_keyframe:
            if not frame.is_keyframe:
                self.frames_dropped += 1
                return
            self._waiting_for_keyframe = False
            if not self._has_room(frame):
                self._discard_queued()
            self._push(frame)
            return
        if self._has_room(frame):
            self._push(frame)
        else:
            self.frames_dropped += 1
            self._waiting_for_keyframe = True

    def end(self, reason: str) -> None:
        """No more frames will come; the consumer drains the queue, then gets None."""
        if self._end_reason is None:
            self._end_reason = reason
        self._readable.set()

    async def close(self) -> None:
        """Stop now: discard the queue, wake the consumer with None, run `_on_close` once."""
        self._closed = True
        if self._end_reason is None:
            self._end_reason = "closed"
        self._discard_queued(count=False)
        self._readable.set()
        self._drained()
        if not self._close_done:
            self._close_done = True
            await self._on_close()

    @property
    def is_closed(self) -> bool:
        return self._closed

    # ---- the consumer side ----

    async def next_frame(self) -> EsFrame | None:
        """The next queued frame; None once the stream ended and the queue is drained."""
        while not self._queue:
            if self._closed or self._end_reason is not None:
                self._drained()
                return None
            self._readable.clear()
            await self._readable.wait()
        frame = self._queue.popleft()
        self._queued_bytes -= len(frame.data)
        if self._on_drained is not None and self._is_under_low_water():
            self._drained()
        return frame

    async def __aiter__(self) -> AsyncIterator[EsFrame]:
        while (frame := await self.next_frame()) is not None:
            yield frame

    @property
    def end_reason(self) -> str | None:
        """Why the stream ended (`end` reason, or "closed"), None while it runs."""
        return self._end_reason

    @property
    def is_waiting_for_keyframe(self) -> bool:
        """True while video frames are being dropped until the next keyframe."""
        return self._waiting_for_keyframe

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def is_over_high_water(self) -> bool:
        """The queue is at least half full, in frames or in bytes (time to hold the source)."""
        return (
            len(self._queue) >= self._max_frames // 2 or self._queued_bytes >= self._max_bytes // 2
        )

    def call_when_drained(self, callback: Callable[[], None]) -> None:
        """Call `callback` once, when the consumer has taken the queue down to a quarter of
        its bounds (at once if it is there already), or when the sink ends or closes.
        Replaces a callback not called yet."""
        self._on_drained = callback
        if self._is_under_low_water() or self._closed:
            self._drained()

    # ---- for subclasses ----

    async def _on_close(self) -> None:
        """Release the subclass's resources; called once, from the first `close()`."""

    # ---- internals ----

    def _is_under_low_water(self) -> bool:
        return (
            len(self._queue) <= self._max_frames // 4 and self._queued_bytes <= self._max_bytes // 4
        )

    def _drained(self) -> None:
        callback, self._on_drained = self._on_drained, None
        if callback is not None:
            callback()

    def _has_room(self, frame: EsFrame) -> bool:
        if not self._queue:
            return True  # one frame always fits, however large
        return (
            len(self._queue) < self._max_frames
            and self._queued_bytes + len(frame.data) <= self._max_bytes
        )

    def _push(self, frame: EsFrame) -> None:
        self._queue.append(frame)
        self._queued_bytes += len(frame.data)
        self._readable.set()

    def _discard_queued(self, *, count: bool = True) -> None:
        if count:
            self.frames_dropped += len(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
