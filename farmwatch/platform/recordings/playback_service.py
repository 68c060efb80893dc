"""Playback of recordings — the device's or the platform's — as sessions with controls.

`PlaybackService.open` starts one stream per session with its own stream key: from the
device, its own `s=Playback` INVITE and SSRC (first digit 1), live sharing does not apply,
and every dialog is kept by its real Call-ID (field-notes pitfall 9), so a MediaStatus or
BYE always finds its session and no dialog is ever orphaned (a device that allows one
playback at a time refuses the second INVITE: the caller gets that refusal at once, not a
hang); from the platform's own recordings, the segment files fed by the media layer. The
sources are `playback_sources.py`.

Controls: pause (the media layer's timers wait, however long), resume, seek and speed (the
media layer rescales output timestamps by 1/scale so players really play N×, and drops
audio: pitfalls 1–2). The position is recorded wall time following the media's timestamps:
an anchor (the requested start, or a seek's target) plus the source timestamps elapsed since
the first keyframe after it. A session ends on MediaStatus 121 (matched by Call-ID), on the
device's BYE, when its media stops, at the end of the range of platform recordings, when the
viewer closes it or leaves it idle, and when media has been silent for `end_silence` seconds
with the position near the end of the range (devices that never send 121). Ended sessions
stay readable for `keep_ended` seconds with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import LiveInfo, RelayInfo, RelaySpec
from farmwatch.media.stream_core import CloseReason
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, StreamFailed
from farmwatch.platform.recordings.playback_sources import (
    DevicePlayback,
    PlaybackSource,
    RecordedPlayback,
)
from farmwatch.platform.recordings.record_spans import RecordSource
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.services.stream_starter import DeviceStreamStarter
from farmwatch.platform.services.viewer_outputs import ViewerOutputs
from farmwatch.sipserver.call_types import CallEndReason, EstablishedCall
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.mansrtsp import MansrtspRequest
from farmwatch.sipserver.gb.ssrc import Ssrc, SsrcAllocator, SsrcKind

__all__ = [
    "SCALES",
    "PlaybackAction",
    "PlaybackLinks",
    "PlaybackService",
    "PlaybackState",
    "PlaybackStatus",
]

log = logging.getLogger(__name__)

STREAM_KEY_PREFIX = "pb-"
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, -1.0, -2.0, -4.0)
"""The speeds a playback may be asked for (2016's basic values, 8×, and 2022 reverse)."""
_WATCH_INTERVAL = 0.25
_END_MARGIN = timedelta(seconds=10)


class PlaybackState(StrEnum):
    STARTING = "starting"
    PLAYING = "playing"
    PAUSED = "paused"
    ENDED = "ended"


class PlaybackAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    SEEK = "seek"
    SPEED = "speed"


@dataclass(frozen=True, slots=True)
class PlaybackLinks:
    session_id: str
    channel_id: str
    device_id: str
    source: RecordSource
    start: datetime
    end: datetime
    info: LiveInfo


@dataclass(frozen=True, slots=True)
class PlaybackStatus:
    session_id: str
    channel_id: str
    device_id: str
    state: PlaybackState
    scale: float
    start: datetime
    end: datetime
    position: datetime
    """Recorded wall time now playing, following the media's timestamps."""
    source: RecordSource
    call_id: str | None
    end_reason: str | None
    seek_by_reinvite: bool


@dataclass(slots=True)
class _Session:
    session_id: str
    channel_id: str
    device_id: str
    source_kind: RecordSource
    start: datetime
    end: datetime
    ssrc: Ssrc | None
    source: PlaybackSource | None = None
    state: PlaybackState = PlaybackState.STARTING
    scale: float = 1.0
    info: LiveInfo | None = None
    anchor_time: datetime | None = None
    anchor_pts: int | None = None
    keyframes_at_anchor: int = -1
    """The anchor takes the first keyframe received after the keyframe count was this."""
    position: datetime | None = None
    end_reason: str | None = None
    ended_at: float | None = None
    seek_by_reinvite: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    relays: set[str] = field(default_factory=set)
    """Relays to upper platforms: a relayed session is never idle."""

    @property
    def stream_key(self) -> str:
        return STREAM_KEY_PREFIX + self.session_id

    @property
    def call(self) -> EstablishedCall | None:
        return self.source.call if self.source is not None else None

    @property
    def label(self) -> str:
        return f"playback {self.session_id} of channel {self.channel_id}"


class PlaybackService:
    """Playback sessions of device and platform recordings."""

    def __init__(
        self,
        media: MediaCluster,
        calls: Calls,
        access: DeviceAccess,
        channels: ChannelRepository,
        segments: RecordingRepository,
        *,
        storage: Path,
        platform_id: str,
        zone: ZoneInfo,
        transport: MediaTransport = MediaTransport.UDP,
        invite_timeout: float = 10.0,
        session_idle: float = 60.0,
        end_silence: float = 3.0,
        keep_ended: float = 600.0,
    ) -> None:
        self._media = media
        self._calls = calls
        self._access = access
        self._channels = channels
        self._segments = segments
        self._storage = storage
        self._starter = DeviceStreamStarter(media, calls, access)
        self._outputs = ViewerOutputs(media)
        self._platform_id = platform_id
        self.zone = zone
        self._transport = transport
        self._invite_timeout = invite_timeout
        self._session_idle = session_idle
        self._end_silence = end_silence
        self._keep_ended = keep_ended
        self._ssrc = SsrcAllocator(platform_id)
        self._sessions: dict[str, _Session] = {}
        self._by_call: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.TimerHandle | None = None
        self._by_relay: dict[str, str] = {}
        self.ended_listeners: list[Callable[[str, bool], None]] = []
        """Told `(session_id, complete)` when a session ends; `complete`: the whole range
        was sent (MediaStatus 121, the end of a platform recording, media stopping at the
        end), as opposed to a stop, a failure or the viewer leaving."""

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for session in list(self._sessions.values()):
            await self._end(session, "the platform is stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- sessions ------------------------------------------------------------------------

    async def open(
        self,
        channel_id: str,
        start: datetime,
        end: datetime,
        *,
        source: RecordSource = RecordSource.DEVICE,
        transport: str | None = None,
    ) -> PlaybackLinks:
        """Start playing `channel_id`'s recordings from `start` to `end` (aware times);
        `transport` (udp, tcp-passive, tcp-active) overrides the configured one."""
        if end <= start:
            raise InvalidInput("end: must be after start")
        media_transport = self._transport if transport is None else media_transport_of(transport)
        channel = await self._channels.get(channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        session = _Session(
            secrets.token_urlsafe(12),
            channel_id,
            channel.device_id,
            source,
            start.astimezone(self.zone),
            end.astimezone(self.zone),
            self._ssrc.allocate(SsrcKind.HISTORY) if source is RecordSource.DEVICE else None,
        )
        session.source = await self._source_of(session, media_transport)
        self._sessions[session.session_id] = session
        try:
            session.info = await session.source.open()
        except BaseException:
            self._sessions.pop(session.session_id, None)
            await session.source.close(bye=False)
            self._release(session)
            raise
        session.state = PlaybackState.PLAYING
        self._set_anchor(session, session.start, keyframes_before=-1)
        self._outputs.add_session(session.session_id)
        self._arm_watcher()
        call = session.call
        log.info("%s from %s to %s started (%s%s)", session.label, session.start.isoformat(),
                 session.end.isoformat(), source.value,
                 f", call {call.call_id}" if call is not None else "")  # fmt: skip
        return PlaybackLinks(session.session_id, channel_id, channel.device_id, source,
                             session.start, session.end, session.info)  # fmt: skip

    async def _source_of(self, session: _Session, transport: MediaTransport) -> PlaybackSource:
        if session.source_kind is RecordSource.PLATFORM:
            segments = await self._segments.segments_between(
                session.channel_id, session.start, session.end
            )
            if not segments:
                raise NotFound(
                    f"the platform has no recording of channel {session.channel_id} "
                    f"between {_iso(session.start)} and {_iso(session.end)}"
                )
            return RecordedPlayback(self._media, stream_key=session.stream_key,
                                    storage=self._storage, segments=segments,
                                    start=session.start)  # fmt: skip
        assert session.ssrc is not None

        def dialog_changed(old: EstablishedCall | None, new: EstablishedCall | None) -> None:
            if old is not None:
                self._by_call.pop(old.call_id, None)
            if new is not None:
                self._by_call[new.call_id] = session.session_id

        return DevicePlayback(
            self._starter, self._calls, platform_id=self._platform_id,
            stream_key=session.stream_key, device_id=session.device_id,
            channel_id=session.channel_id, start=session.start, end=session.end,
            transport=transport, ssrc=session.ssrc, invite_timeout=self._invite_timeout,
            on_call=dialog_changed,
        )  # fmt: skip

    def _release(self, session: _Session) -> None:
        if session.ssrc is not None:
            self._ssrc.release(session.ssrc)
            session.ssrc = None

    async def stop(self, session_id: str) -> None:
        """The viewer closes the playback: BYE, receiver and outputs closed."""
        session = self._session(session_id)
        await self._end(session, "closed by the viewer")

    def has_session(self, session_id: str) -> bool:
        """Whether the playback session is still known (playing, paused or ended)."""
        return session_id in self._sessions

    def status(self, session_id: str) -> PlaybackStatus:
        session = self._session(session_id)
        position = session.position or session.anchor_time or session.start
        return PlaybackStatus(
            session.session_id,
            session.channel_id,
            session.device_id,
            session.state,
            session.scale,
            session.start,
            session.end,
            position,
            session.source_kind,
            session.call.call_id if session.call is not None else None,
            session.end_reason,
            session.seek_by_reinvite,
        )

    async def refresh(self, session_id: str) -> PlaybackStatus:
        """The status with the position read from the media now."""
        session = self._session(session_id)
        if session.state in (PlaybackState.PLAYING, PlaybackState.PAUSED):
            await self._read_progress(session)
        return self.status(session_id)

    def _session(self, session_id: str) -> _Session:
        self._forget_ended()
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no playback session {session_id}")
        return session

    def _running(self, session_id: str) -> _Session:
        session = self._session(session_id)
        if session.state is PlaybackState.ENDED:
            raise Conflict(f"playback {session_id} has ended ({session.end_reason})")
        if session.state is PlaybackState.STARTING or session.source is None:
            raise Conflict(f"playback {session_id} is still starting")
        return session

    async def snapshot(self, session_id: str, *, max_width: int = 1280) -> bytes:
        """A JPEG of the playback's latest intact keyframe (what its viewer sees now)."""
        session = self._running(session_id)
        try:
            return await self._media.snapshot(session.stream_key, max_width)
        except MediaError as error:
            raise StreamFailed(f"no snapshot of playback {session_id}: {error}") from error

    # -- relays to upper platforms (the cascade) ----------------------------------------

    async def open_relay(self, session_id: str, relay_id: str, spec: RelaySpec) -> RelayInfo:
        """Relay the session's stream to an upper platform; the session then stays open
        until `stop` (or its own end), whoever watches it here."""
        session = self._running(session_id)
        try:
            info = await self._media.open_relay(session.stream_key, relay_id, spec)
        except MediaError as error:
            raise StreamFailed(f"{session.label} not relayed: {error}") from error
        session.relays.add(relay_id)
        self._by_relay[relay_id] = session_id
        return info

    async def start_relay(self, relay_id: str) -> None:
        try:
            await self._media.start_relay(relay_id)
        except MediaError as error:
            raise StreamFailed(f"relay {relay_id} not started: {error}") from error

    async def close_relay(self, relay_id: str) -> None:
        session_id = self._by_relay.pop(relay_id, None)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is not None:
            session.relays.discard(relay_id)
        try:
            await self._media.close_relay(relay_id)
        except MediaError as error:
            log.info("relay %s not closed: %s", relay_id, error)

    # -- control -------------------------------------------------------------------------

    async def control(
        self,
        session_id: str,
        action: PlaybackAction,
        *,
        position: datetime | None = None,
        scale: float | None = None,
    ) -> PlaybackStatus:
        session = self._running(session_id)
        async with session.lock:
            if session.state is PlaybackState.ENDED:
                raise Conflict(f"playback {session_id} has ended ({session.end_reason})")
            match action:
                case PlaybackAction.PAUSE:
                    await self._pause(session)
                case PlaybackAction.RESUME:
                    await self._resume(session)
                case PlaybackAction.SEEK:
                    if position is None:
                        raise InvalidInput("seek: position required")
                    await self._seek(session, position)
                case PlaybackAction.SPEED:
                    if scale is None:
                        raise InvalidInput("speed: scale required")
                    await self._speed(session, scale)
        return self.status(session_id)

    async def _pause(self, session: _Session) -> None:
        if session.state is PlaybackState.PAUSED:
            return
        assert session.source is not None
        await self._read_progress(session)
        await session.source.pause()
        await self._media_call(self._media.set_paused(session.stream_key, True))
        session.state = PlaybackState.PAUSED
        log.info("%s paused at %s", session.label, _iso(session.position))

    async def _resume(self, session: _Session) -> None:
        if session.state is not PlaybackState.PAUSED:
            return
        assert session.source is not None
        await session.source.resume()
        await self._media_call(self._media.set_paused(session.stream_key, False))
        session.state = PlaybackState.PLAYING
        log.info("%s resumed", session.label)

    async def _speed(self, session: _Session, scale: float) -> None:
        if scale not in SCALES:
            raise InvalidInput(f"scale: expected one of {', '.join(map(str, SCALES))}")
        assert session.source is not None
        await self._read_progress(session)
        await session.source.speed(scale)
        await self._media_call(self._media.set_scale(session.stream_key, scale))
        session.scale = scale
        log.info("%s at scale %s", session.label, scale)

    async def _seek(self, session: _Session, target: datetime) -> None:
        target = target.astimezone(self.zone)
        if not session.start <= target <= session.end:
            raise InvalidInput(
                f"position: expected a time between {_iso(session.start)} and {_iso(session.end)}"
            )
        assert session.source is not None
        offset = (target - session.start).total_seconds()
        progress = await self._media_call(self._media.stream_progress(session.stream_key))
        # A new dialog may be needed: the stream's timers wait while it is set up.
        await self._media_call(self._media.set_paused(session.stream_key, True))
        try:
            took_new_dialog = await session.source.seek(target, offset)
        except BaseException as error:
            if session.call is None and session.source_kind is RecordSource.DEVICE:
                await self._end(session, f"the new INVITE from {_iso(target)} failed: {error}")
            else:
                paused = session.state is PlaybackState.PAUSED
                await self._media_call(self._media.set_paused(session.stream_key, paused))
            raise
        if took_new_dialog:
            session.seek_by_reinvite = True
            if session.scale != 1.0:
                session.scale = 1.0  # a new dialog starts at 1×
                await self._media_call(self._media.set_scale(session.stream_key, 1.0))
        # PLAY with a Range plays, as does a new dialog.
        await self._media_call(self._media.set_paused(session.stream_key, False))
        session.state = PlaybackState.PLAYING
        self._set_anchor(session, target, progress.keyframes)
        log.info("%s seeks to %s", session.label, _iso(target))

    async def _media_call(self, call: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await call
        except MediaError as error:
            raise StreamFailed(f"the playback's media failed: {error}") from error

    # -- position and end ------------------------------------------------------------------

    def _set_anchor(self, session: _Session, moment: datetime, keyframes_before: int) -> None:
        session.anchor_time = moment
        session.anchor_pts = None
        session.keyframes_at_anchor = keyframes_before
        session.position = moment

    async def _read_progress(self, session: _Session) -> float | None:
        """Update the position from the media; the seconds since the last frame."""
        try:
            progress = await self._media.stream_progress(session.stream_key)
        except MediaError:
            return None
        if session.anchor_pts is None:
            if session.keyframes_at_anchor < 0 and progress.first_pts is not None:
                session.anchor_pts = progress.first_pts
            elif (
                progress.keyframes > session.keyframes_at_anchor >= 0
                and progress.latest_keyframe_pts is not None
            ):
                session.anchor_pts = progress.latest_keyframe_pts
        if (
            session.anchor_pts is not None
            and session.anchor_time is not None
            and progress.latest_pts is not None
        ):
            elapsed = (progress.latest_pts - session.anchor_pts) / TIMESTAMP_CLOCK_RATE
            session.position = min(
                max(session.anchor_time + timedelta(seconds=elapsed), session.start), session.end
            )
        return progress.seconds_since_last_frame

    def _arm_watcher(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().call_later(_WATCH_INTERVAL, self._watch)

    def _watch(self) -> None:
        self._watcher = None
        if any(s.state is not PlaybackState.ENDED for s in self._sessions.values()):
            self._spawn(self._watch_sessions())
        self._forget_ended()

    async def _watch_sessions(self) -> None:
        now = asyncio.get_running_loop().time()
        for session in list(self._sessions.values()):
            if session.state is not PlaybackState.PLAYING:
                continue
            silence = await self._read_progress(session)
            idle = self._outputs.idle_for(session.session_id, now)
            if not session.relays and idle >= self._session_idle:
                await self._end(session, "no viewer")
            elif (
                session.source_kind is RecordSource.PLATFORM
                and session.position is not None
                and session.position >= session.end
            ):
                await self._end(session, "the end of the range was played", complete=True)
            elif (
                silence is not None
                and silence >= self._end_silence
                and session.position is not None
                and session.position >= session.end - _END_MARGIN
            ):
                await self._end(
                    session, "the recording ended (media stopped at the end)", complete=True
                )
        if self._sessions:
            self._arm_watcher()

    async def _end(
        self, session: _Session, reason: str, *, bye: bool = True, complete: bool = False
    ) -> None:
        if session.state is PlaybackState.ENDED:
            return
        session.state = PlaybackState.ENDED
        session.end_reason = reason
        session.ended_at = asyncio.get_running_loop().time()
        log.info("%s ended: %s", session.label, reason)
        for listener in self.ended_listeners:
            try:
                listener(session.session_id, complete)
            except Exception:
                # Isolation boundary: one listener (an upper's dialog).
                log.exception("%s: end listener failed", session.label)
        if session.source is not None:
            await session.source.close(bye=bye)
        await self._outputs.close_session(session.session_id)
        try:
            await self._media.close_stream(session.stream_key, CloseReason.PEER_CLOSED)
        except MediaError as error:
            log.info("%s: receiver not closed: %s", session.label, error)
        self._release(session)

    def _forget_ended(self) -> None:
        now = asyncio.get_running_loop().time()
        for session_id, session in list(self._sessions.items()):
            if session.ended_at is not None and now - session.ended_at > self._keep_ended:
                del self._sessions[session_id]

    # -- outputs ---------------------------------------------------------------------------

    async def webrtc_answer(self, session_id: str, sdp: str, sdp_type: str) -> tuple[str, str]:
        session = self._running(session_id)
        return await self._outputs.webrtc_answer(session_id, session.stream_key, sdp, sdp_type)

    async def fmp4(self, session_id: str) -> AsyncGenerator[bytes, None]:
        session = self._running(session_id)
        async for chunk in self._outputs.fmp4(session_id, session.stream_key, session.label):
            yield chunk

    async def hls_resource(self, session_id: str, name: str) -> tuple[bytes, str] | None:
        session = self._running(session_id)
        return await self._outputs.hls_resource(session_id, session.stream_key, name, session.label)

    # -- listeners: calls and media --------------------------------------------------------

    def owns_stream(self, stream_key: str) -> bool:
        return stream_key.startswith(STREAM_KEY_PREFIX)

    def owns_output(self, output_id: str) -> bool:
        return self._outputs.owns_output(output_id)

    def output_closed(self, output_id: str) -> None:
        self._outputs.output_closed(output_id)

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        session = self._sessions.get(stream_key.removeprefix(STREAM_KEY_PREFIX))
        if session is None or session.state is PlaybackState.STARTING:
            return  # still starting: its start fails and undoes itself
        if session.source_kind is RecordSource.PLATFORM:
            complete = reason is CloseReason.END_OF_RECORDING
            await self._end(session, f"the recording ended ({reason.value})", complete=complete)
        else:
            await self._end(session, f"the media stopped ({reason.value})")

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        session_id = self._by_call.get(call_id)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is None:
            return
        self._spawn(self._end(session, f"the device ended the call ({reason.value})", bye=False))

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        session_id = self._by_call.get(call_id)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is None:
            return
        if not status.is_file_end:
            log.info("%s: MediaStatus %s ignored (only 121 ends a playback)", session.label,
                     status.notify_type)  # fmt: skip
            return
        self._spawn(
            self._end(session, "the device sent the whole range (MediaStatus 121)", complete=True)
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def control_request(
    action: PlaybackAction, cseq: int, *, offset: float | None = None, scale: float | None = None
) -> MansrtspRequest:
    """The MANSRTSP request of a control (§7): PAUSE `PauseTime: now`; PLAY `Range: npt=now-`
    to resume; PLAY `Range: npt=<offset>-` to seek (seconds from the `t=` start); PLAY
    `Scale` to change speed."""
    match action:
        case PlaybackAction.PAUSE:
            return MansrtspRequest.pause(cseq)
        case PlaybackAction.RESUME:
            return MansrtspRequest.resume(cseq)
        case PlaybackAction.SEEK if offset is not None:
            return MansrtspRequest.seek(cseq, offset)
        case PlaybackAction.SPEED if scale is not None:
            return MansrtspRequest.speed(cseq, scale)
    raise ValueError(f"{action.value} needs its offset or scale")


def media_transport_of(text: str) -> MediaTransport:
    try:
        return MediaTransport(text)
    except ValueError:
        raise InvalidInput(
            f"transport: expected udp, tcp-passive or tcp-active, got {text[:20]!r}"
        ) from None


def _iso(moment: datetime | None) -> str:
    return "?" if moment is None else moment.replace(tzinfo=None).isoformat(timespec="seconds")
