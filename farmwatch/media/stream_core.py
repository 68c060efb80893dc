"""The state of one live stream, sans I/O: OPENING → LIVE → DRAINING → CLOSED (STYLE B5).

Owns the decisions of a channel's `Stream` (DESIGN.md "Live view"): when it is live, when it
lingers without viewers (DRAINING) and closes after `idle_close`, the cached start a new sink
gets (the last parameter sets and every frame since the last video keyframe, bounded), and when
to ask the device for a keyframe (GB/T 28181 `IFameCmd`, at most one per
`keyframe_request_interval`). Transitions are the `TRANSITIONS` table; timer expiry is an input
like any other. A paused playback (MANSRTSP PAUSE) suspends the idle close, which resuming
re-arms from then: a pause must not end the stream (field-notes §1.3 pitfall 8). The shell
(`stream.py`) feeds it and performs the outputs. Pure: `now` is given.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from types import MappingProxyType

from farmwatch.media.events import (
    MediaStarted,
    MediaStartTimedOut,
    MediaStopped,
    ReceiverEvent,
    RecordingEnded,
    VideoInterrupted,
)
from farmwatch.media.frames import EsFrame, MediaKind
from farmwatch.media.nal import ParameterSets, extract_parameter_sets

__all__ = [
    "TRANSITIONS",
    "BecameLive",
    "CloseReason",
    "KeyframeNeeded",
    "StreamClosed",
    "StreamCore",
    "StreamInput",
    "StreamOutput",
    "StreamState",
]

_START_CODE = b"\x00\x00\x00\x01"


class StreamState(enum.StrEnum):
    OPENING = "opening"
    """The receiver listens; no keyframe yet."""
    LIVE = "live"
    """Media flows and at least one sink is attached."""
    DRAINING = "draining"
    """Media flows, no sink: closes after `idle_close` unless a sink attaches."""
    CLOSED = "closed"


class CloseReason(enum.StrEnum):
    IDLE = "idle"
    """No sink for `idle_close` seconds."""
    START_TIMEOUT = "start-timeout"
    MEDIA_STOPPED = "media-stopped"
    PEER_CLOSED = "peer-closed"
    NODE_LOST = "node-lost"
    """The media worker process holding the stream died."""
    END_OF_RECORDING = "end-of-recording"
    """A stream fed from recorded files played their last frame (`RecordingEnded`)."""
    REQUESTED = "requested"
    """The platform closed it (device BYE, operator stop)."""
    SHUTDOWN = "shutdown"


class StreamInput(enum.Enum):
    MEDIA_STARTED_WITH_SINKS = enum.auto()
    MEDIA_STARTED_NO_SINKS = enum.auto()
    SINK_ATTACHED = enum.auto()
    LAST_SINK_DETACHED = enum.auto()
    IDLE_TIMER = enum.auto()
    FAILED = enum.auto()
    """Start timeout, media stopped, peer closed, end of the recording."""
    CLOSE = enum.auto()


_S, _I = StreamState, StreamInput
TRANSITIONS = MappingProxyType(
    {
        (_S.OPENING, _I.MEDIA_STARTED_WITH_SINKS): _S.LIVE,
        (_S.OPENING, _I.MEDIA_STARTED_NO_SINKS): _S.DRAINING,
        (_S.OPENING, _I.SINK_ATTACHED): _S.OPENING,
        (_S.OPENING, _I.LAST_SINK_DETACHED): _S.OPENING,
        (_S.OPENING, _I.IDLE_TIMER): _S.CLOSED,
        (_S.OPENING, _I.FAILED): _S.CLOSED,
        (_S.OPENING, _I.CLOSE): _S.CLOSED,
        (_S.LIVE, _I.MEDIA_STARTED_WITH_SINKS): _S.LIVE,
        (_S.LIVE, _I.SINK_ATTACHED): _S.LIVE,
        (_S.LIVE, _I.LAST_SINK_DETACHED): _S.DRAINING,
        (_S.LIVE, _I.FAILED): _S.CLOSED,
        (_S.LIVE, _I.CLOSE): _S.CLOSED,
        (_S.DRAINING, _I.MEDIA_STARTED_NO_SINKS): _S.DRAINING,
        (_S.DRAINING, _I.SINK_ATTACHED): _S.LIVE,
        (_S.DRAINING, _I.IDLE_TIMER): _S.CLOSED,
        (_S.DRAINING, _I.FAILED): _S.CLOSED,
        (_S.DRAINING, _I.CLOSE): _S.CLOSED,
    }
)
"""(state, input) → next state; pairs not listed leave the state unchanged."""


@dataclass(frozen=True, slots=True)
class BecameLive:
    """Effect: the first keyframe arrived; wake `wait_live()`."""

    media: MediaStarted


@dataclass(frozen=True, slots=True)
class KeyframeNeeded:
    """Effect: ask the device for a keyframe (rate-limited already)."""


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """Effect: end every sink, release the receiver, tell the platform."""

    reason: CloseReason


StreamOutput = BecameLive | KeyframeNeeded | StreamClosed


class StreamCore:
    """State machine, GOP cache and keyframe-request limiter of one stream."""

    def __init__(
        self,
        *,
        now: float,
        idle_close: float,
        keyframe_request_interval: float = 2.0,
        gop_cache_frames: int = 300,
        gop_cache_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._idle_close = idle_close
        self._keyframe_interval = keyframe_request_interval
        self._gop_frames = gop_cache_frames
        self._gop_bytes = gop_cache_bytes
        self._state = StreamState.OPENING
        self._sinks = 0
        self._idle_at: float | None = now + idle_close
        self._is_paused = False
        self._last_keyframe_request: float | None = None
        self._gop: list[EsFrame] = []
        self._gop_size = 0
        self._parameter_sets: ParameterSets | None = None
        self._prefix = b""  # Annex-B parameter sets to prepend to keyframes lacking them
        self.media: MediaStarted | None = None
        self.close_reason: CloseReason | None = None
        self.close_cause: ReceiverEvent | None = None
        """The receiver event that closed the stream (None: closed by its owner or idle)."""
        self.frames_in = 0
        self.keyframe_requests = 0

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def is_paused(self) -> bool:
        return self._is_paused

    @property
    def parameter_sets(self) -> ParameterSets | None:
        """The last complete parameter sets seen on a keyframe."""
        return self._parameter_sets

    @property
    def has_keyframe(self) -> bool:
        return bool(self._gop)

    def cached_start(self) -> list[EsFrame]:
        """What a new sink is offered first: the last keyframe (with parameter sets) onward."""
        return list(self._gop)

    def frame_received(self, frame: EsFrame) -> None:
        """Keep the frame for the GOP cache. A damaged key frame (RTP loss) never starts the
        cache, nor gives the parameter sets: a new sink must start on a whole picture, so it
        is kept as one more frame of the running GOP."""
        self.frames_in += 1
        if frame.kind is MediaKind.VIDEO and frame.is_keyframe and not frame.is_damaged:
            self._gop.clear()
            self._gop_size = 0
            frame = self._with_parameter_sets(frame)
        elif not self._gop:
            return
        self._gop.append(frame)
        self._gop_size += len(frame.data)
        if len(self._gop) > self._gop_frames or self._gop_size > self._gop_bytes:
            self._gop.clear()  # a GOP too long to replay: new sinks wait for the next keyframe
            self._gop_size = 0

    def receiver_event(self, event: ReceiverEvent, now: float) -> list[StreamOutput]:
        match event:
            case MediaStarted():
                self.media = event
                started = (
                    StreamInput.MEDIA_STARTED_WITH_SINKS
                    if self._sinks
                    else StreamInput.MEDIA_STARTED_NO_SINKS
                )
                return [BecameLive(event), *self._apply(started, now)]
            case MediaStartTimedOut():
                return self._fail(CloseReason.START_TIMEOUT, now, event)
            case MediaStopped():
                return self._fail(CloseReason.MEDIA_STOPPED, now, event)
            case RecordingEnded():
                return self._fail(CloseReason.END_OF_RECORDING, now, event)
            case VideoInterrupted():
                # Viewers see concealed damage until a keyframe: ask for one now
                # (rate-limited) instead of waiting out the camera's GOP, seconds on many.
                return self._request_keyframe(now)
            case _:  # PeerClosed, MediaConnectFailed
                return self._fail(CloseReason.PEER_CLOSED, now, event)

    def sink_attached(self, now: float, *, has_start: bool | None = None) -> list[StreamOutput]:
        """A sink came; without a start to offer it (`has_start`, by default whether the GOP
        cache holds a key frame) a keyframe is asked for."""
        self._sinks += 1
        self._idle_at = None
        out = self._apply(StreamInput.SINK_ATTACHED, now)
        has_start = bool(self._gop) if has_start is None else has_start
        if self._state is not StreamState.OPENING and not has_start:
            out += self._request_keyframe(now)
        return out

    def sink_detached(self, now: float) -> list[StreamOutput]:
        self._sinks = max(0, self._sinks - 1)
        if self._sinks or self._state is StreamState.CLOSED:
            return []
        self._idle_at = now + self._idle_close
        return self._apply(StreamInput.LAST_SINK_DETACHED, now)

    def sink_fell_behind(self, now: float) -> list[StreamOutput]:
        """A sink is dropping frames until the next keyframe: maybe ask for one."""
        return self._request_keyframe(now)

    def set_paused(self, paused: bool, now: float) -> None:
        """Playback paused (the idle close waits) or resumed (it counts from `now` again)."""
        if paused == self._is_paused:
            return
        self._is_paused = paused
        if not paused and self._idle_at is not None:
            self._idle_at = now + self._idle_close

    def tick(self, now: float) -> list[StreamOutput]:
        if self._is_paused:
            return []
        if self._idle_at is not None and now >= self._idle_at:
            self._idle_at = None
            return self._apply(StreamInput.IDLE_TIMER, now, CloseReason.IDLE)
        return []

    def next_deadline(self) -> float | None:
        if self._is_paused or self._state is StreamState.CLOSED:
            return None
        return self._idle_at

    def close(self, reason: CloseReason, now: float) -> list[StreamOutput]:
        return self._apply(StreamInput.CLOSE, now, reason)

    def _fail(self, reason: CloseReason, now: float, cause: ReceiverEvent) -> list[StreamOutput]:
        return self._apply(StreamInput.FAILED, now, reason, cause)

    def _apply(
        self,
        event: StreamInput,
        now: float,
        reason: CloseReason | None = None,
        cause: ReceiverEvent | None = None,
    ) -> list[StreamOutput]:
        if self._state is StreamState.CLOSED:
            return []
        self._state = TRANSITIONS.get((self._state, event), self._state)
        if self._state is not StreamState.CLOSED:
            return []
        self.close_reason = reason or CloseReason.REQUESTED
        self.close_cause = cause
        self._idle_at = None
        self._gop.clear()
        return [StreamClosed(self.close_reason)]

    def _request_keyframe(self, now: float) -> list[StreamOutput]:
        last = self._last_keyframe_request
        if self._state is StreamState.CLOSED or (
            last is not None and now - last < self._keyframe_interval
        ):
            return []
        self._last_keyframe_request = now
        self.keyframe_requests += 1
        return [KeyframeNeeded()]

    def _with_parameter_sets(self, frame: EsFrame) -> EsFrame:
        if not frame.codec.is_annex_b:
            return frame
        found = extract_parameter_sets(frame.codec, frame.data)
        if found.is_complete(frame.codec):
            self._parameter_sets = found
            units = (found.vps, found.sps, found.pps)
            self._prefix = b"".join(_START_CODE + unit for unit in units if unit is not None)
            return frame
        if self._prefix and found.sps is None:
            return dataclasses.replace(frame, data=self._prefix + frame.data)
        return frame
