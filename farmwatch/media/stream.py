"""One live stream per channel: frames from its receiver fanned out to sinks (STYLE B7).

Owns the asyncio shell around `StreamCore` (DESIGN.md "Live view"): it is the receiver's
`ReceiverListener`, offers every frame to every attached `Sink`, gives a new sink the cached
start (last keyframe onward) at once, arms one timer for the idle close, and wakes
`wait_live()`. A sink that raises in `offer` is detached and closed alone (isolation boundary,
STYLE B8). Sinks that report drops (`QueuedSink`) trigger a rate-limited keyframe request
through `on_keyframe_needed`. When the stream closes, every sink gets `end(reason)` and the
`on_closed` callback tells the owner (the `MediaManager`).

A playback (DESIGN.md: "a `Stream` like a live one, with a clock that can pause, seek and run
at a scale") is this same stream under its own key. `set_scale` rescales the timestamps every
sink is handed, once, before the fan-out and the GOP cache (`PlaybackClock`; audio is dropped
while the scale is not 1); `set_paused` suspends the idle close here and the receiver's
timeouts (through `on_paused`); `progress()` tells how far the recording has come in its own
time (`ProgressMeter`, source timestamps). A source that paces itself (a recording played
from files, `recording_feed.py`) is told the scale first (`on_scale`) and may refuse it. A
sink that must lose nothing (a download) is attached with `backpressure=True`:
while its queue is over its high water the source is held (`on_backpressure`: a TCP receiver
stops reading), the opt-in exception to the rule above (`SourceHold`).

A relay to an upper platform is a `PsSink` (`attach_ps`): it counts like a viewer (the stream
does not idle-close under it) but gets each frame's PS bytes as received (`PsFanOut`), so a
stream with only relays is still not demultiplexed; the source hands those bytes over while
a PS sink is attached (`on_relayed`). A stream without PS (a recording played from files:
`has_ps_source` is False) is relayed by muxing its frames instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from farmwatch.media.errors import MediaError
from farmwatch.media.events import MediaStarted, ReceiverEvent
from farmwatch.media.frames import EsFrame, MediaKind
from farmwatch.media.nal import ParameterSets
from farmwatch.media.playback_clock import PlaybackClock, check_scale
from farmwatch.media.ps_fanout import PsFanOut
from farmwatch.media.ps_frame import PsFrame, video_pts
from farmwatch.media.settings import MediaSettings
from farmwatch.media.sink import PsSink, Sink
from farmwatch.media.source_hold import BackpressureSink, SourceHold
from farmwatch.media.stream_core import (
    BecameLive,
    CloseReason,
    KeyframeNeeded,
    StreamClosed,
    StreamCore,
    StreamOutput,
    StreamState,
)
from farmwatch.media.stream_progress import ProgressMeter, StreamProgress

__all__ = [
    "DropReportingSink",
    "PsSubscription",
    "SinkStats",
    "Stream",
    "StreamClosedError",
    "StreamStats",
    "Subscription",
]

log = logging.getLogger(__name__)


class StreamClosedError(MediaError):
    """The stream closed (or never went live); `reason` says why, `cause` what happened (the
    receiver event that closed it, when one did)."""

    def __init__(self, reason: CloseReason, cause: ReceiverEvent | None = None) -> None:
        super().__init__(f"stream closed: {reason}")
        self.reason = reason
        self.cause = cause


@runtime_checkable
class DropReportingSink(Protocol):
    """Optional sink side: a sink that counts drops and says when it waits for a keyframe."""

    @property
    def frames_dropped(self) -> int: ...

    @property
    def is_waiting_for_keyframe(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Subscription:
    """Handle of one attached sink; pass it to `Stream.detach`."""

    id: int
    sink: Sink


@dataclass(frozen=True, slots=True)
class PsSubscription:
    """Handle of one attached PS sink (a relay); pass it to `Stream.detach_ps`."""

    id: int
    sink: PsSink


@dataclass(frozen=True, slots=True)
class SinkStats:
    subscription_id: int
    frames_offered: int
    frames_dropped: int | None
    """From the sink, when it reports drops (`DropReportingSink`)."""


@dataclass(frozen=True, slots=True)
class StreamStats:
    state: StreamState
    frames_in: int
    keyframe_requests: int
    sinks: tuple[SinkStats, ...]
    source_holds: int = 0
    """Times a sink attached with backpressure held the source."""


class Stream:
    """Fan-out of one channel's frames; see the module docstring."""

    def __init__(
        self,
        key: str,
        settings: MediaSettings,
        *,
        on_closed: Callable[[Stream, CloseReason], None] | None = None,
        on_keyframe_needed: Callable[[], None] | None = None,
    ) -> None:
        self.key = key
        self._settings = settings
        self._loop = asyncio.get_running_loop()
        self._clock = self._loop.time
        self._core = StreamCore(
            now=self._clock(),
            idle_close=settings.idle_close,
            keyframe_request_interval=settings.keyframe_request_interval,
            gop_cache_frames=settings.gop_cache_frames,
            gop_cache_bytes=settings.gop_cache_bytes,
        )
        self._on_closed = on_closed
        self.on_keyframe_needed = on_keyframe_needed
        self.on_watched: Callable[[bool], None] | None = None
        """Told when the first sink attaches (True) and the last detaches (False): the
        receiver demultiplexes only while somebody watches (`RtpIngest.set_watched`)."""
        """Called (rate-limited) when a sink needs a keyframe; the platform sends IFameCmd."""
        self.on_paused: Callable[[bool], None] | None = None
        """Told when the playback pauses (True) or resumes: the receiver's timeouts wait."""
        self.on_backpressure: Callable[[bool], None] | None = None
        """Told when a sink attached with backpressure fills up (True: hold the source) and
        when the last such sink drained (False)."""
        self.on_scale: Callable[[float], None] | None = None
        """Told of a new scale before it applies, by a source that paces itself (a recording
        played from files); it may refuse the scale with `MediaError`."""
        self.on_relayed: Callable[[bool], None] | None = None
        """Told when the first PS sink (a relay) attaches (True) and the last detaches: the
        source hands over each frame's PS bytes meanwhile. None: the source has no PS."""
        self._ps = PsFanOut(
            key,
            max_frames=settings.gop_cache_frames,
            max_bytes=settings.gop_cache_bytes,
            on_gone=self._ps_sink_gone,
        )
        self._is_waking_relayed = False  # the woken GOP's frames were counted from PS
        self._hold = SourceHold(self._source_held)
        self._playback = PlaybackClock()
        self._progress = ProgressMeter()
        self._subscriptions: dict[int, Subscription] = {}
        self._offered: dict[int, int] = {}
        # Checked once at attach: an isinstance of a runtime Protocol costs microseconds.
        self._reporting: dict[int, DropReportingSink] = {}
        self._ids = itertools.count(1)
        self._live: asyncio.Future[MediaStarted] = self._loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._closing_sinks: set[asyncio.Task[None]] = set()
        self._arm_timer()

    # ---- state ----

    @property
    def state(self) -> StreamState:
        return self._core.state

    @property
    def media(self) -> MediaStarted | None:
        """Codec, size and SSRC once live."""
        return self._core.media

    @property
    def parameter_sets(self) -> ParameterSets | None:
        return self._core.parameter_sets

    @property
    def close_reason(self) -> CloseReason | None:
        return self._core.close_reason

    @property
    def sink_count(self) -> int:
        return len(self._subscriptions)

    @property
    def ps_sink_count(self) -> int:
        """Relays attached (`attach_ps`)."""
        return self._ps.sink_count

    @property
    def has_ps_source(self) -> bool:
        """The source hands over each frame's PS bytes (a device's RTP), for relays."""
        return self.on_relayed is not None

    def cached_start(self) -> list[EsFrame]:
        """What a new sink is offered first: the last keyframe (with parameter sets) onward."""
        return self._core.cached_start()

    def ps_cached_start(self) -> list[PsFrame]:
        """What a new PS sink is offered first: the PS frames since the last key frame
        (kept while a PS sink is attached)."""
        return self._ps.cached_start()

    @property
    def stats(self) -> StreamStats:
        sinks = tuple(
            SinkStats(
                sub.id,
                self._offered[sub.id],
                sub.sink.frames_dropped if isinstance(sub.sink, DropReportingSink) else None,
            )
            for sub in self._subscriptions.values()
        )
        core = self._core
        return StreamStats(
            core.state, core.frames_in, core.keyframe_requests, sinks, self._hold.holds
        )

    @property
    def is_holding_source(self) -> bool:
        """A sink attached with backpressure is over its high water: the source is held."""
        return self._hold.is_held

    @property
    def scale(self) -> float:
        return self._playback.scale

    @property
    def is_paused(self) -> bool:
        return self._core.is_paused

    def progress(self) -> StreamProgress:
        """Frames and source timestamps so far, the time since the last frame, pause, scale."""
        return self._progress.progress(
            self._clock(), is_paused=self._core.is_paused, scale=self._playback.scale
        )

    async def wait_live(self) -> MediaStarted:
        """Until the first keyframe; raises `StreamClosedError` or `TimeoutError`."""
        async with asyncio.timeout(self._settings.start_timeout + 1.0):
            return await asyncio.shield(self._live)

    # ---- playback control ----

    def set_scale(self, scale: float) -> None:
        """From the next video frame on, the timestamps sinks get advance by the source's step
        divided by |scale| (the device sends N× faster, its timestamps unchanged); audio is
        dropped while the scale is not 1. Raises `MediaError` for an unplayable scale."""
        try:
            value = check_scale(scale)
        except ValueError as error:
            raise MediaError(str(error)) from error
        if self.on_scale is not None:
            self.on_scale(value)
        self._playback.set_scale(value)
        log.info("stream %s: scale %g", self.key, self._playback.scale)

    def source_moved(self) -> None:
        """The source jumped on purpose (a recording sought): outputs go on one frame
        interval after their last frame instead of showing the jump (`PlaybackClock.rebase`)."""
        self._playback.rebase()

    def set_paused(self, paused: bool) -> None:
        """Playback paused: the idle close and the receiver's timeouts wait, however long;
        resumed: they count from now."""
        if paused == self._core.is_paused or self._core.state is StreamState.CLOSED:
            return
        self._core.set_paused(paused, self._clock())
        self._arm_timer()
        if self.on_paused is not None:
            self.on_paused(paused)
        log.info("stream %s: %s", self.key, "paused" if paused else "resumed")

    # ---- sinks ----

    def attach(self, sink: Sink, *, backpressure: bool = False) -> Subscription:
        """Attach `sink`; it is offered the cached start (last keyframe onward) right away.

        `backpressure`: the sink (a `BackpressureSink`, such as any `QueuedSink`) must lose
        nothing: while its queue is over its high water the source is held (TCP only)."""
        if self._core.state is StreamState.CLOSED:
            raise StreamClosedError(self._core.close_reason or CloseReason.REQUESTED)
        pressing: BackpressureSink | None = None
        if backpressure:
            if not isinstance(sink, BackpressureSink):
                raise TypeError(f"{sink!r} cannot take backpressure (no high water to report)")
            pressing = sink
        if not self._subscriptions and self.on_watched is not None:
            # Before the sink joins: the frames kept while nobody watched come back now
            # (into the cached start it is offered below). Relays counted them already.
            self._is_waking_relayed = self._ps.has_sinks
            try:
                self.on_watched(True)
            finally:
                self._is_waking_relayed = False
        subscription = Subscription(next(self._ids), sink)
        self._subscriptions[subscription.id] = subscription
        self._offered[subscription.id] = 0
        if isinstance(sink, DropReportingSink):
            self._reporting[subscription.id] = sink
        self._perform(self._core.sink_attached(self._clock()))
        if pressing is not None:
            self._hold.add(subscription.id, pressing)
        for frame in self._core.cached_start():
            if not self._offer(subscription, frame):
                break
        if pressing is not None:
            self._hold.frames_offered()
        log.info("stream %s: sink %d attached", self.key, subscription.id)
        return subscription

    def detach(self, subscription: Subscription) -> None:
        """Detach a sink (it is not closed: its owner does that). Unknown handles are ignored."""
        if self._subscriptions.pop(subscription.id, None) is None:
            return
        self._offered.pop(subscription.id, None)
        self._reporting.pop(subscription.id, None)
        self._hold.remove(subscription.id)
        log.info("stream %s: sink %d detached", self.key, subscription.id)
        if not self._subscriptions and self.on_watched is not None:
            self.on_watched(False)
        self._perform(self._core.sink_detached(self._clock()))

    def attach_ps(self, sink: PsSink) -> PsSubscription:
        """Attach a relay: it is offered the PS frames since the last key frame at once, then
        each frame's PS bytes as received. It keeps the stream open as a viewer does, without
        making it demultiplex."""
        if self._core.state is StreamState.CLOSED:
            raise StreamClosedError(self._core.close_reason or CloseReason.REQUESTED)
        if not self._ps.has_sinks and self.on_relayed is not None:
            self.on_relayed(True)  # the source's kept GOP comes into the cache first
        subscription = PsSubscription(next(self._ids), sink)
        has_start = not self.has_ps_source or bool(self._ps.cached_start())
        self._perform(self._core.sink_attached(self._clock(), has_start=has_start))
        self._ps.attach(subscription.id, sink)
        log.info("stream %s: relay %d attached", self.key, subscription.id)
        return subscription

    def detach_ps(self, subscription: PsSubscription) -> None:
        """Detach a relay (not closed: its owner does that). Unknown handles are ignored."""
        if not self._ps.detach(subscription.id):
            return
        log.info("stream %s: relay %d detached", self.key, subscription.id)
        if not self._ps.has_sinks and self.on_relayed is not None:
            self.on_relayed(False)
        self._perform(self._core.sink_detached(self._clock()))

    # ---- ReceiverListener ----

    def receiver_frame(self, frame: EsFrame) -> None:
        if self._core.state is StreamState.CLOSED:
            return
        playback = self._playback
        if frame.codec.kind is MediaKind.VIDEO:
            if not self._is_waking_relayed:
                self._progress.video_frame(frame.pts, frame.is_keyframe, self._clock())
            pts, dts = playback.stamp(frame.pts, frame.dts)
            if playback.is_engaged:
                frame = dataclasses.replace(frame, pts=pts, dts=dts)
        elif playback.is_engaged:
            audio_pts = playback.place_audio(frame.pts)
            if audio_pts is None:
                return  # no sound at a scale other than 1
            frame = dataclasses.replace(frame, pts=audio_pts, dts=audio_pts)
        self._core.frame_received(frame)
        fell_behind = False
        for subscription in list(self._subscriptions.values()):
            if self._offer(subscription, frame) and not frame.is_keyframe:
                reporting = self._reporting.get(subscription.id)
                fell_behind |= reporting is not None and reporting.is_waiting_for_keyframe
        if fell_behind:
            self._perform(self._core.sink_fell_behind(self._clock()))
        if self._hold.has_sinks:
            self._hold.frames_offered()

    def receiver_ps_frame(self, frame: PsFrame) -> None:
        if self._core.state is StreamState.CLOSED:
            return
        if not self._subscriptions:  # not demultiplexed: the progress comes from the PS
            pts = video_pts(frame.data)
            if pts is not None:
                self._progress.video_frame(pts, frame.is_keyframe, self._clock())
        if self._ps.offer(frame):
            self._perform(self._core.sink_fell_behind(self._clock()))

    def receiver_event(self, event: ReceiverEvent) -> None:
        log.info("stream %s: %s", self.key, event)
        self._perform(self._core.receiver_event(event, self._clock()))

    # ---- closing ----

    def close(self, reason: CloseReason = CloseReason.REQUESTED) -> None:
        """Close now: sinks get `end(reason)`, `on_closed` runs. Idempotent."""
        self._perform(self._core.close(reason, self._clock()))

    async def aclose(self, reason: CloseReason = CloseReason.REQUESTED) -> None:
        """`close`, then wait for the sinks this stream closed itself (faulty ones)."""
        self.close(reason)
        if self._closing_sinks:
            async with asyncio.timeout(5.0):
                await asyncio.gather(*self._closing_sinks, return_exceptions=True)

    # ---- internals ----

    def _offer(self, subscription: Subscription, frame: EsFrame) -> bool:
        """Offer one frame; a sink that raises or closed is detached. False when detached."""
        sink = subscription.sink
        try:
            if sink.is_closed:
                self.detach(subscription)
                return False
            sink.offer(frame)
        except Exception:
            log.exception("stream %s: sink %d failed; detaching it", self.key, subscription.id)
            self.detach(subscription)
            self._close_sink(sink)
            return False
        self._offered[subscription.id] += 1
        return True

    def _ps_sink_gone(self, subscription_id: int, sink: PsSink, failed: bool) -> None:
        self.detach_ps(PsSubscription(subscription_id, sink))
        if failed:
            self._close_sink(sink)

    def _close_sink(self, sink: Sink | PsSink) -> None:
        task = self._loop.create_task(sink.close())
        self._closing_sinks.add(task)
        task.add_done_callback(self._sink_closed)

    def _sink_closed(self, task: asyncio.Task[None]) -> None:
        self._closing_sinks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("stream %s: closing a faulty sink failed", self.key, exc_info=error)

    def _perform(self, outputs: list[StreamOutput]) -> None:
        for output in outputs:
            match output:
                case BecameLive(media):
                    if not self._live.done():
                        self._live.set_result(media)
                case KeyframeNeeded():
                    self._request_keyframe()
                case StreamClosed(reason):
                    self._finish(reason)
        self._arm_timer()

    def _source_held(self, held: bool) -> None:
        log.debug("stream %s: source %s", self.key, "held" if held else "released")
        if self.on_backpressure is not None:
            self.on_backpressure(held)

    def _request_keyframe(self) -> None:
        if self.on_keyframe_needed is None:
            return
        try:
            self.on_keyframe_needed()
        except Exception:
            log.exception("stream %s: keyframe request callback failed", self.key)

    def _finish(self, reason: CloseReason) -> None:
        log.info("stream %s: closed (%s)", self.key, reason)
        if not self._live.done():
            self._live.set_exception(StreamClosedError(reason, self._core.close_cause))
            self._live.exception()  # retrieved: nobody may be waiting
        subscriptions = list(self._subscriptions.values())
        self._subscriptions.clear()
        self._offered.clear()
        self._reporting.clear()
        self._hold.clear()
        for subscription in subscriptions:
            try:
                subscription.sink.end(str(reason))
            except Exception:
                log.exception("stream %s: sink %d failed to end", self.key, subscription.id)
        self._ps.end(str(reason))
        if self._on_closed is not None:
            self._on_closed(self, reason)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._core.next_deadline()
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._perform(self._core.tick(self._clock()))
