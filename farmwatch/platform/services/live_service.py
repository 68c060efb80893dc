"""Live view: one stream per channel and stream number, shared by every viewer (DESIGN.md
"Live view").

`LiveService.open_session(channel_id, stream)` gives a viewer a session and the URLs of its
outputs. A channel has a main stream (0) and the device may have smaller sub streams (1,
2...; gb28181.md §6.2) for small tiles: each stream number is a stream of its own, with its
own INVITE and stream key (`live_stream_key`: the main stream's key is the channel ID, so
recordings and relays of the main stream are keyed as they always were). The offer asks for
the stream in the device's dialect (`StreamDialectSource`, asked at every start so that an
administrator's change applies to the next INVITE: 2022 `a=streamnumber`, or a vendor
variant; a 2016 device gets no 2022 form, and a sub stream asked of one without a vendor
dialect is `NotSupported`); a device that streams something else anyway is shown as it is,
and the session says which stream was asked and which the answer named. The first viewer of
a stream starts it (`DeviceStreamStarter`: receiver
first, then the INVITE with a fresh SSRC, then the first keyframe) and every later viewer
joins it: a second viewer never causes a second INVITE, and viewers arriving while the stream
starts wait for the same start. The stream runs on one node of the `MediaCluster` (a media
worker process, or this process): outputs (WebRTC, fMP4, HLS) are opened there by output
ID, and the node says when one closes by itself; when the last one leaves the stream closes
after the idle time and the device gets its BYE. A stream whose worker died is started
again (on another worker, with a new INVITE) when it has viewers. HLS holds nothing open,
so each of its fetches counts as the session's activity. A BYE from the device, or media
that stops, ends the stream and its viewers are told. Failures become clear platform errors
for the viewer. Viewers' outputs are kept by `ViewerOutputs`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import LiveInfo, RelayInfo, RelaySpec
from farmwatch.media.stream_core import CloseReason
from farmwatch.platform.errors import DeviceOffline, NotFound, NotSupported, StreamFailed
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.services.stream_health import StreamHealthListener
from farmwatch.platform.services.stream_starter import DeviceStreamStarter, StreamRequest
from farmwatch.platform.services.viewer_outputs import ViewerOutputs
from farmwatch.sipserver.call_types import CallEndReason, EstablishedCall, build_live_offer
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.ssrc import Ssrc, SsrcAllocator, SsrcKind
from farmwatch.sipserver.gb.versions import (
    StreamDialect,
    StreamDialects,
    StreamNotSelectable,
    stream_attribute,
)
from farmwatch.sipserver.sip.sdp import SessionDescription
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint

log = logging.getLogger(__name__)

MAIN_STREAM = 0
MAX_STREAM = 9
"""Stream numbers asked for live: 0 (main) to this (the catalog's StreamNumberList)."""


def live_stream_key(channel_id: str, stream: int = MAIN_STREAM) -> str:
    """The media cluster's key of a channel's live stream: the channel ID for the main
    stream (what recordings and relays always used), `<channel>-s<N>` for sub stream N."""
    return channel_id if stream == MAIN_STREAM else f"{channel_id}-s{stream}"


class StreamDialectSource(Protocol):
    """Which dialect a device is asked its stream in (`DeviceService` answers)."""

    async def stream_dialect_for(self, device_id: str) -> StreamDialect: ...


@dataclass(frozen=True, slots=True)
class _ConfiguredDialects:
    """The configuration's dialects alone (no stored device settings)."""

    dialects: StreamDialects

    async def stream_dialect_for(self, device_id: str) -> StreamDialect:
        return self.dialects.for_device(device_id)


@dataclass(frozen=True, slots=True)
class LiveLinks:
    """What `POST /api/channels/{id}/live` answers: the session and its outputs."""

    session_id: str
    channel_id: str
    device_id: str
    codec: str | None
    width: int | None
    height: int | None
    stream: int = MAIN_STREAM
    """The stream asked for (0 main, 1+ sub)."""
    stream_answered: int | None = None
    """The stream the device's answer named (`a=streamnumber` or a vendor variant), None
    when it named none: what plays is whatever the device sends."""


@dataclass(slots=True)
class _ChannelLive:
    channel_id: str
    device_id: str
    ready: asyncio.Future[LiveInfo]
    stream: int = MAIN_STREAM
    call: EstablishedCall | None = None
    ssrc: Ssrc | None = None
    info: LiveInfo | None = None
    is_closed: bool = False

    @property
    def key(self) -> str:
        return live_stream_key(self.channel_id, self.stream)


@dataclass(frozen=True, slots=True)
class _Viewer:
    session_id: str
    channel_id: str
    stream_key: str


class LiveService:
    """Live streams of channels and the viewer sessions on them."""

    def __init__(
        self,
        media: MediaCluster,
        calls: Calls,
        access: DeviceAccess,
        channels: ChannelRepository,
        *,
        platform_id: str,
        transport: MediaTransport = MediaTransport.UDP,
        invite_timeout: float = 10.0,
        session_idle: float = 60.0,
        dialects: StreamDialectSource | None = None,
    ) -> None:
        self._media = media
        self._calls = calls
        self._access = access
        self._starter = DeviceStreamStarter(media, calls, access)
        self._outputs = ViewerOutputs(media)
        self._channels = channels
        self._platform_id = platform_id
        self._transport = transport
        self._invite_timeout = invite_timeout
        self._session_idle = session_idle
        self._dialects = dialects or _ConfiguredDialects(StreamDialects())
        self._sweeper: asyncio.TimerHandle | None = None
        self._ssrc = SsrcAllocator(platform_id)
        self._live: dict[str, _ChannelLive] = {}
        self._by_call: dict[str, str] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.health_listeners: list[StreamHealthListener] = []
        """Told of failed starts, media that stopped and starts that worked (faults)."""

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for viewer in list(self._viewers):
            await self.close_session(viewer)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- sessions --------------------------------------------------------------------

    async def open_session(self, channel_id: str, stream: int = MAIN_STREAM) -> LiveLinks:
        """Start (or join) the channel's stream `stream` and give the viewer a session."""
        info = await self._ensure_stream(channel_id, stream)
        key = live_stream_key(channel_id, stream)
        live = self._live[key]
        session_id = secrets.token_urlsafe(12)
        self._viewers[session_id] = _Viewer(session_id, channel_id, key)
        self._outputs.add_session(session_id)
        self._arm_sweeper()
        log.info("viewer %s joined channel %s (stream %d)", session_id, channel_id, stream)
        return LiveLinks(
            session_id=session_id,
            channel_id=channel_id,
            device_id=live.device_id,
            codec=info.codec,
            width=info.width,
            height=info.height,
            stream=stream,
            stream_answered=None if live.call is None else live.call.answer.stream_number,
        )

    async def close_session(self, session_id: str) -> None:
        viewer = self._viewers.pop(session_id, None)
        if viewer is None:
            raise NotFound(f"no live session {session_id}")
        await self._outputs.close_session(session_id)
        log.info("viewer %s left channel %s", session_id, viewer.channel_id)

    def has_session(self, session_id: str) -> bool:
        """Whether the viewer session is still open (not closed nor expired)."""
        return session_id in self._viewers

    def _arm_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(
                max(0.5, self._session_idle / 4), self._sweep_sessions
            )

    def _sweep_sessions(self) -> None:
        """Forget sessions whose viewer went away without DELETE (tab closed, network gone):
        no open output and no HLS fetch for `session_idle` seconds."""
        self._sweeper = None
        now = asyncio.get_running_loop().time()
        for viewer in list(self._viewers.values()):
            if self._outputs.idle_for(viewer.session_id, now) >= self._session_idle:
                del self._viewers[viewer.session_id]
                self._spawn(self._outputs.close_session(viewer.session_id))
                log.info("viewer %s of channel %s expired", viewer.session_id,
                         viewer.channel_id)  # fmt: skip
        if self._viewers:
            self._arm_sweeper()

    def _viewer_live(self, session_id: str) -> tuple[_Viewer, _ChannelLive]:
        viewer = self._viewers.get(session_id)
        if viewer is None:
            raise NotFound(f"no live session {session_id}")
        live = self._live.get(viewer.stream_key)
        if live is None or live.info is None or live.is_closed:
            raise StreamFailed(f"the stream of channel {viewer.channel_id} has ended")
        return viewer, live

    # -- outputs ---------------------------------------------------------------------------

    async def webrtc_answer(self, session_id: str, sdp: str, sdp_type: str) -> tuple[str, str]:
        _, live = self._viewer_live(session_id)
        return await self._outputs.webrtc_answer(session_id, live.key, sdp, sdp_type)

    async def fmp4(self, session_id: str) -> AsyncGenerator[bytes, None]:
        """The fMP4 bytes of the session's stream, from the last keyframe on."""
        _, live = self._viewer_live(session_id)
        label = f"channel {live.channel_id}"
        async for chunk in self._outputs.fmp4(session_id, live.key, label):
            yield chunk

    async def hls_resource(self, session_id: str, name: str) -> tuple[bytes, str] | None:
        """A playlist or segment of the channel's HLS output (shared by its viewers)."""
        _, live = self._viewer_live(session_id)
        return await self._outputs.hls_resource(
            session_id, live.key, name, f"channel {live.channel_id}"
        )

    async def snapshot(self, channel_id: str, *, max_width: int = 1280) -> bytes:
        """A JPEG of the channel's latest intact keyframe (starting the stream if needed)."""
        await self._ensure_stream(channel_id)
        try:
            return await self._media.snapshot(channel_id, max_width)
        except MediaError as error:
            raise StreamFailed(f"no snapshot of channel {channel_id}: {error}") from error

    async def snapshots(self, channel_id: str, *, max_width: int, count: int) -> list[bytes]:
        """JPEGs of `count` consecutive keyframes of the channel's stream, the latest first
        (starting the stream if needed; unwatched, it closes after the idle time)."""
        await self._ensure_stream(channel_id)
        try:
            return await self._media.snapshots(channel_id, max_width, count)
        except MediaError as error:
            raise StreamFailed(f"no snapshot of channel {channel_id}: {error}") from error

    # -- relays to upper platforms ---------------------------------------------------------

    async def open_relay(
        self, channel_id: str, relay_id: str, spec: RelaySpec, stream: int = MAIN_STREAM
    ) -> RelayInfo:
        """Start (or join) the channel's stream `stream` and prepare relaying it to an upper
        platform (the cascade's answer to the upper's INVITE). The relay holds the stream as
        a viewer does until `close_relay`, or until it ends by itself (`relay_closed`)."""
        await self._ensure_stream(channel_id, stream)
        try:
            return await self._media.open_relay(live_stream_key(channel_id, stream), relay_id, spec)
        except MediaError as error:
            raise StreamFailed(f"channel {channel_id} not relayed: {error}") from error

    async def start_relay(self, relay_id: str) -> None:
        """Begin sending (the upper's ACK came)."""
        try:
            await self._media.start_relay(relay_id)
        except MediaError as error:
            raise StreamFailed(f"relay {relay_id} not started: {error}") from error

    async def close_relay(self, relay_id: str) -> None:
        """Stop relaying; the stream closes after the idle time if nobody else watches."""
        try:
            await self._media.close_relay(relay_id)
        except MediaError as error:
            log.info("relay %s not closed: %s", relay_id, error)

    # -- NodeListener (the media cluster) -------------------------------------------------

    def output_closed(self, output_id: str) -> None:
        """An output closed by itself on its node (viewer gone, stream ended)."""
        self._outputs.output_closed(output_id)

    def keyframe_needed(self, stream_key: str) -> None:
        live = self._live.get(stream_key)
        if live is not None:
            self._request_keyframe(live)

    # -- starting and stopping streams -----------------------------------------------------

    async def ensure_live(self, channel_id: str) -> LiveInfo:
        """Start (or join) the channel's stream without a viewer session: for a recorder,
        which keeps the stream open as one of its sinks."""
        return await self._ensure_stream(channel_id)

    async def _ensure_stream(self, channel_id: str, stream: int = MAIN_STREAM) -> LiveInfo:
        if not MAIN_STREAM <= stream <= MAX_STREAM:
            raise NotSupported(f"stream {stream}: expected 0 (main) to {MAX_STREAM}")
        key = live_stream_key(channel_id, stream)
        live = self._live.get(key)
        if live is not None:
            return await asyncio.shield(live.ready)
        record = await self._channels.get(channel_id)
        if record is None:
            raise NotFound(f"no channel {channel_id}")
        live = self._live.get(key)  # another viewer may have started it meanwhile
        if live is not None:
            return await asyncio.shield(live.ready)
        ready: asyncio.Future[LiveInfo] = asyncio.get_running_loop().create_future()
        live = _ChannelLive(channel_id, record.device_id, ready, stream)
        self._live[key] = live
        try:
            info = await self._start(live)
        except BaseException as error:
            await self._abandon(live)
            ready.set_exception(error)
            ready.exception()
            if isinstance(error, StreamFailed):
                reason = str(error)
                self._tell_health(
                    lambda listener: listener.stream_start_failed(
                        live.device_id, channel_id, reason
                    )
                )
            raise
        live.info = info
        ready.set_result(info)
        self._tell_health(lambda listener: listener.stream_started(live.device_id, channel_id))
        return info

    def _tell_health(self, tell: Callable[[StreamHealthListener], None]) -> None:
        for listener in self.health_listeners:
            try:
                tell(listener)
            except Exception:
                log.exception("stream health listener failed")

    async def _start(self, live: _ChannelLive) -> LiveInfo:
        if not self._access.is_online(live.device_id):
            raise DeviceOffline(f"device {live.device_id} of channel {live.channel_id} is offline")
        # Its X-GB-Ver as last heard, else [registrar] default_gb_version (as every other
        # message to it is written).
        edition = self._access.edition(live.device_id)
        dialect = await self._dialects.stream_dialect_for(live.device_id)
        try:
            selection = stream_attribute(live.stream, dialect, edition)
        except StreamNotSelectable as error:
            raise NotSupported(f"device {live.device_id}: {error}") from error
        ssrc = live.ssrc = self._ssrc.allocate(SsrcKind.LIVE)

        def offer(media: MediaEndpoint) -> SessionDescription:
            return build_live_offer(
                platform_id=self._platform_id, media=media, ssrc=ssrc, stream=selection
            )

        def confirmed(call: EstablishedCall) -> None:
            live.call = call
            self._by_call[call.call_id] = live.key

        started = await self._starter.start(
            StreamRequest(
                live.key,
                live.device_id,
                live.channel_id,
                self._transport,
                ssrc,
                offer,
                self._invite_timeout,
            ),
            on_call=confirmed,
        )
        return started.info

    async def _abandon(self, live: _ChannelLive) -> None:
        """Undo a start that failed (the starter has undone the call and the receiver)."""
        if self._live.get(live.key) is live:
            del self._live[live.key]
        if live.call is not None:
            self._by_call.pop(live.call.call_id, None)
        live.is_closed = True
        if live.ssrc is not None:
            self._ssrc.release(live.ssrc)

    def _request_keyframe(self, live: _ChannelLive) -> None:
        self._spawn(self._calls.request_keyframe(live.device_id, live.channel_id))

    # -- MediaListener: the stream closed by itself (idle, media stopped) ------------------

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        live = self._live.get(stream_key)
        if live is None or not live.ready.done():
            return  # still starting: its start fails and undoes itself
        del self._live[stream_key]
        live.is_closed = True
        log.info("channel %s stream %d closed (%s)", live.channel_id, live.stream, reason.value)
        if reason is CloseReason.MEDIA_STOPPED:
            self._tell_health(
                lambda listener: listener.stream_media_stopped(live.device_id, live.channel_id)
            )
        if live.call is not None:
            self._by_call.pop(live.call.call_id, None)
            await self._calls.bye(live.call)
        if live.ssrc is not None:
            self._ssrc.release(live.ssrc)
        if reason is CloseReason.NODE_LOST and self._is_watched(stream_key):
            # Its media worker died: start it again (the cluster places it elsewhere) so
            # that viewers who reconnect find it running.
            log.warning("channel %s: media worker lost, starting the stream again", stream_key)
            self._spawn(self._restart(live.channel_id, live.stream))

    def _is_watched(self, stream_key: str) -> bool:
        return any(viewer.stream_key == stream_key for viewer in self._viewers.values())

    async def _restart(self, channel_id: str, stream: int) -> None:
        try:
            await self._ensure_stream(channel_id, stream)
        except (StreamFailed, DeviceOffline, NotFound, NotSupported) as error:
            log.warning("channel %s stream %d not restarted: %s", channel_id, stream, error)

    # -- CallListener: the device ended the call -------------------------------------------

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        stream_key = self._by_call.pop(call_id, None)
        if stream_key is None:
            return
        live = self._live.pop(stream_key, None)
        if live is not None:
            live.is_closed = True
        log.info("device ended the call of live stream %s (%s)", stream_key, reason.value)
        self._spawn(self._close_quietly(stream_key, CloseReason.PEER_CLOSED))
        if live is not None and live.ssrc is not None:
            self._ssrc.release(live.ssrc)

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        log.info("media status %s on call %s", status, call_id)

    async def _close_quietly(self, stream_key: str, reason: CloseReason) -> None:
        try:
            await self._media.close_stream(stream_key, reason)
        except MediaError as error:
            log.info("live stream %s: receiver not closed: %s", stream_key, error)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
