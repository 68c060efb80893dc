"""HLS output: a live playlist of fMP4 segments kept in memory (RFC 8216, DESIGN.md "Live view").

Owns the live HLS rendition of a stream: `HlsPlaylist` (pure) groups the fMP4 fragments of
`fmp4.py` (one per frame) into segments that start at a key frame and last at least
`segment_seconds`, keeps the last `window` of them in a sliding live playlist
(`#EXT-X-MEDIA-SEQUENCE`, RFC 8216 §6.2.2) and a few more in memory for players still
reading an older playlist, and renders `index.m3u8`; `HlsSink` runs the muxer off the loop
and feeds the playlist. Segments are fMP4 with an `#EXT-X-MAP` init segment (RFC 8216
§3.3, version 7) rather than MPEG-TS: Safari plays fMP4 HLS natively, hls.js appends it to
MSE without transmuxing, ffmpeg reads it, and H.265 in HLS is only specified (and only played
by Safari and hls.js) in fMP4; it also reuses the fMP4 muxer. A parameter-set change brings
a new init segment, announced with `#EXT-X-DISCONTINUITY` and a new `#EXT-X-MAP`.

The first segment does not wait for the next key frame: a new HLS output is offered the GOP
the stream kept (from its last key frame up to now), and once that is muxed it becomes the
first segment at once (`HlsPlaylist.cut_first`), so the first playlist request is answered
within a frame or two instead of up to a GOP later. The segment after it continues that GOP
without a key frame of its own; while it is listed the playlist leaves out
`#EXT-X-INDEPENDENT-SEGMENTS` (players that join there wait for the next key frame, as
MSE requires).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass

from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE
from farmwatch.media.queue_sink import DEFAULT_SINK_QUEUE_FRAMES, QueuedSink
from farmwatch.media.sinks.fmp4 import Fmp4Chunk, InitSegment, MediaFragment, mux_fmp4

__all__ = [
    "HLS_PLAYLIST_CONTENT_TYPE",
    "HLS_SEGMENT_CONTENT_TYPE",
    "PLAYLIST_NAME",
    "HlsPlaylist",
    "HlsResource",
    "HlsSegment",
    "HlsSink",
]

log = logging.getLogger(__name__)

PLAYLIST_NAME = "index.m3u8"
HLS_PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
HLS_SEGMENT_CONTENT_TYPE = "video/mp4"
_EXTRA_KEPT = 3
"""Segments kept in memory after they left the playlist, for players on an older reload."""
_MAX_SEGMENT_SECONDS = 10.0
"""A segment is cut here even without a key frame (a camera with a very long GOP)."""
_MAX_PENDING_FRAGMENTS = 600
"""Fragments (frames) that make a segment however short they are: fragments whose timestamps
stopped advancing must not pile up unlisted."""


@dataclass(frozen=True, slots=True)
class HlsSegment:
    """One media segment: whole fMP4 fragments, starting at a keyframe."""

    sequence: int
    init_index: int
    data: bytes
    duration: int
    """90 kHz ticks."""
    is_independent: bool
    """It starts with a key frame (RFC 8216 §4.3.5.1)."""

    @property
    def name(self) -> str:
        return f"segment-{self.sequence}.m4s"


@dataclass(frozen=True, slots=True)
class HlsResource:
    """What an HTTP GET of one HLS name returns."""

    data: bytes
    content_type: str


def _init_name(index: int) -> str:
    return f"init-{index}.mp4"


class HlsPlaylist:
    """The segments of one live rendition and its media playlist (pure; no I/O, no clock)."""

    def __init__(self, *, segment_seconds: float = 1.0, window: int = 6) -> None:
        if segment_seconds <= 0 or window < 1:
            raise ValueError("segment_seconds must be > 0 and window >= 1")
        self._segment_ticks = round(segment_seconds * TIMESTAMP_CLOCK_RATE)
        self._max_ticks = round(max(segment_seconds, _MAX_SEGMENT_SECONDS) * TIMESTAMP_CLOCK_RATE)
        self._window = window
        self._segments: deque[HlsSegment] = deque()
        self._inits: dict[int, InitSegment] = {}
        self._pending: list[MediaFragment] = []
        self._pending_ticks = 0
        self._next_sequence = 0
        self._discontinuity_sequence = 0
        self._target_duration = 1
        self._is_ended = False

    def add(self, chunk: Fmp4Chunk) -> bool:
        """Take the muxer's next chunk; True when it completed a segment."""
        if self._is_ended:
            return False
        if isinstance(chunk, InitSegment):
            self._inits[chunk.index] = chunk
            return self._cut()
        cut = False
        if self._pending and (
            self._pending[0].init_index != chunk.init_index
            or (chunk.starts_with_keyframe and self._ends_segment_at_key_frame())
        ):
            cut = self._cut()
        self._pending.append(chunk)
        self._pending_ticks += chunk.duration
        if self._pending_ticks >= self._max_ticks or len(self._pending) >= _MAX_PENDING_FRAGMENTS:
            cut = self._cut() or cut
        return cut

    def _ends_segment_at_key_frame(self) -> bool:
        # What began without a key frame (after `cut_first`, or a forced cut) ends at the
        # first key frame, so that segments are independent again at once.
        return (
            self._pending_ticks >= self._segment_ticks or not self._pending[0].starts_with_keyframe
        )

    def cut_first(self) -> bool:
        """Make what is pending the first segment now, if none was cut yet; True if it did.

        Called once the GOP a new output was offered has been muxed: the player gets it at
        once instead of after the next key frame.
        """
        if self._next_sequence or self._is_ended:
            return False
        return self._cut()

    def finish(self) -> None:
        """The stream ended: the last fragments become a segment and the list gets ENDLIST."""
        self._cut()
        self._is_ended = True

    @property
    def is_ended(self) -> bool:
        return self._is_ended

    @property
    def pending_fragments(self) -> int:
        """Fragments waiting to make up the next segment."""
        return len(self._pending)

    @property
    def segment_count(self) -> int:
        """Segments currently listed in the playlist."""
        return min(len(self._segments), self._window)

    def render(self) -> str:
        """`index.m3u8` (RFC 8216 §4.3), listing the last `window` segments."""
        listed = list(self._segments)[-self._window :]
        first_sequence = listed[0].sequence if listed else self._next_sequence
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{self._target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{first_sequence}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{self._discontinuities_before(first_sequence)}",
        ]
        if all(segment.is_independent for segment in listed):
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        previous_init: int | None = None
        for segment in listed:
            if segment.init_index != previous_init:
                if previous_init is not None:
                    lines.append("#EXT-X-DISCONTINUITY")
                lines.append(f'#EXT-X-MAP:URI="{_init_name(segment.init_index)}"')
                previous_init = segment.init_index
            lines.append(f"#EXTINF:{segment.duration / TIMESTAMP_CLOCK_RATE:.3f},")
            lines.append(segment.name)
        if self._is_ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def resource(self, name: str) -> HlsResource | None:
        """The playlist, an init segment or a segment by its name in the playlist."""
        if name == PLAYLIST_NAME:
            return HlsResource(self.render().encode(), HLS_PLAYLIST_CONTENT_TYPE)
        for index, init in self._inits.items():
            if name == _init_name(index):
                return HlsResource(init.data, HLS_SEGMENT_CONTENT_TYPE)
        for segment in self._segments:
            if name == segment.name:
                return HlsResource(segment.data, HLS_SEGMENT_CONTENT_TYPE)
        return None

    def _cut(self) -> bool:
        if not self._pending:
            return False
        fragments, self._pending = self._pending, []
        segment = HlsSegment(
            sequence=self._next_sequence,
            init_index=fragments[0].init_index,
            data=b"".join(fragment.data for fragment in fragments),
            duration=self._pending_ticks,
            is_independent=fragments[0].starts_with_keyframe,
        )
        self._pending_ticks = 0
        self._next_sequence += 1
        self._segments.append(segment)
        seconds = segment.duration / TIMESTAMP_CLOCK_RATE
        self._target_duration = max(self._target_duration, math.floor(seconds + 0.5))
        while len(self._segments) > self._window + _EXTRA_KEPT:
            dropped = self._segments.popleft()
            if self._segments[0].init_index != dropped.init_index:
                self._discontinuity_sequence += 1
        used = {segment.init_index for segment in self._segments}
        self._inits = {
            index: init
            for index, init in self._inits.items()
            if index in used or index >= max(used)
        }
        return True

    def _discontinuities_before(self, sequence: int) -> int:
        """`#EXT-X-DISCONTINUITY-SEQUENCE`: init changes before the first listed segment."""
        count = self._discontinuity_sequence
        kept = [segment for segment in self._segments if segment.sequence <= sequence]
        for earlier, later in zip(kept, kept[1:], strict=False):
            if later.init_index != earlier.init_index:
                count += 1
        return count


class HlsSink(QueuedSink):
    """A stream output served as live HLS from memory.

    `await start()` after creating it (the muxing task is owned here and stopped by
    `close()`); attach it to a stream; serve `resource(name)` for `index.m3u8`,
    `init-N.mp4` and `segment-N.m4s`; `await wait_segments(n)` (under a timeout) before handing
    out the playlist URL so the first reload already lists something to play. HLS has no
    connection to lose: the owner closes the sink once `last_request_at` is old enough.
    """

    def __init__(
        self,
        *,
        segment_seconds: float = 1.0,
        window: int = 6,
        clock: Callable[[], float] | None = None,
        max_frames: int = DEFAULT_SINK_QUEUE_FRAMES,
        name: str = "",
    ) -> None:
        super().__init__(max_frames=max_frames, name=name)
        self._clock = clock or asyncio.get_running_loop().time
        self.last_request_at = self._clock()
        """When `resource` was last asked (creation before that): close the sink when idle."""
        self.playlist = HlsPlaylist(segment_seconds=segment_seconds, window=window)
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._has_failed = False

    async def start(self) -> None:
        """Start muxing what the stream offers."""
        if self._task is None and not self.is_closed:
            self._task = asyncio.create_task(self._run(), name=f"hls:{self.name}")

    @property
    def is_closed(self) -> bool:
        """Closed, or muxing failed (the stream then detaches the sink)."""
        return super().is_closed or self._has_failed

    def resource(self, name: str) -> HlsResource | None:
        """The bytes to answer `GET .../<name>` with, or None (404)."""
        self.last_request_at = self._clock()
        return self.playlist.resource(name)

    async def wait_segments(self, count: int = 1) -> bool:
        """Wait until the playlist lists `count` segments; False if it ended first.

        Bound it: `async with asyncio.timeout(5): await sink.wait_segments(2)`.
        """
        return await self._wait_for(lambda: self.playlist.segment_count >= count)

    async def wait_ended(self) -> None:
        """Wait until the playlist got `#EXT-X-ENDLIST` (after `end`); bound it likewise."""
        await self._wait_for(lambda: self.playlist.is_ended)

    async def _wait_for(self, predicate: Callable[[], bool]) -> bool:
        async with self._changed:
            await self._changed.wait_for(lambda: predicate() or self.playlist.is_ended)
        return predicate()

    async def _run(self) -> None:
        try:
            async with aclosing(
                mux_fmp4(self, per_frame=True, after_batch=self._after_batch)
            ) as chunks:
                async for chunk in chunks:
                    if self.playlist.add(chunk):
                        await self._notify()
        except Exception:
            log.exception("HLS sink %s: muxing failed; closing the sink", self.name)
            self._has_failed = True
        finally:
            self.playlist.finish()
            await self._notify()

    async def _after_batch(self) -> None:
        if self.queued_frames == 0 and self.playlist.cut_first():
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _on_close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
