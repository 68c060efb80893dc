"""Live view: one stream per channel shared by every viewer (DESIGN.md "Live view").

`LiveService.open_session(channel_id)` gives a viewer a session and the URLs of its
outputs; the first viewer of a channel starts the stream — an RTP receiver listening
before the INVITE leaves, the INVITE with that receiver's address and a fresh SSRC, the
answer's SSRC followed and, for TCP active, the connection dialled (or, when the device
answered `a=setup:active` too, awaited on the offered port) — and every later
viewer joins it: a second viewer never causes a second INVITE, and viewers arriving while
the stream starts wait for the same start. Outputs (WebRTC, fMP4, HLS) are sinks
attached to the stream; when the last one leaves the stream closes after the idle time
and the device gets its BYE. HLS holds nothing open, so each of its fetches counts as the
session's activity. A BYE from the device, or media that stops, ends the stream and its
viewers are told. Failures become clear platform errors for the viewer (a refused TCP media
connection is named as such).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.events import MediaConnectFailed
from farmwatch.media.manager import MediaManager, MediaTransport
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.stream import Stream, StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.platform.errors import DeviceOffline, InvalidInput, NotFound, StreamFailed
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.sipserver.call_types import (
    CallEndReason,
    CallRefused,
    CallTimeout,
    EstablishedCall,
    build_live_offer,
)
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.ssrc import Ssrc, SsrcAllocator, SsrcKind
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.sdp import Setup
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint

if TYPE_CHECKING:
    from farmwatch.media.sinks.hls import HlsSink

log = logging.getLogger(__name__)

WILDCARDS = frozenset({"", "0.0.0.0", "::"})
MEDIA_SETUP = {
    MediaTransport.UDP: (Transport.UDP, Setup.PASSIVE),
    MediaTransport.TCP_PASSIVE: (Transport.TCP, Setup.PASSIVE),
    MediaTransport.TCP_ACTIVE: (Transport.TCP, Setup.ACTIVE),
}


@dataclass(frozen=True, slots=True)
class LiveLinks:
    """What `POST /api/channels/{id}/live` answers: the session and its outputs."""

    session_id: str
    channel_id: str
    device_id: str
    codec: str | None
    width: int | None
    height: int | None


@dataclass(slots=True)
class _ChannelLive:
    channel_id: str
    device_id: str
    ready: asyncio.Future[Stream]
    call: EstablishedCall | None = None
    ssrc: Ssrc | None = None
    stream: Stream | None = None
    hls: HlsSink | None = None
    hls_idle: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Viewer:
    session_id: str
    channel_id: str
    idle_since: float
    sinks: list[Any] = field(default_factory=list)

    def is_watching(self) -> bool:
        return any(not sink.is_closed for sink in self.sinks)


class LiveService:
    """Live streams of channels and the viewer sessions on them."""

    def __init__(
        self,
        media: MediaManager,
        calls: Calls,
        access: DeviceAccess,
        channels: ChannelRepository,
        *,
        platform_id: str,
        transport: MediaTransport = MediaTransport.UDP,
        invite_timeout: float = 10.0,
        hls_idle: float = 20.0,
        session_idle: float = 60.0,
        webrtc_addresses: tuple[str, ...] = (),
    ) -> None:
        self._media = media
        self._calls = calls
        self._access = access
        self._channels = channels
        self._platform_id = platform_id
        self._transport = transport
        self._invite_timeout = invite_timeout
        self._hls_idle = hls_idle
        self._session_idle = session_idle
        self._webrtc_addresses = webrtc_addresses
        self._sweeper: asyncio.TimerHandle | None = None
        self._ssrc = SsrcAllocator(platform_id)
        self._live: dict[str, _ChannelLive] = {}
        self._by_call: dict[str, str] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for viewer in list(self._viewers):
            await self.close_session(viewer)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- sessions --------------------------------------------------------------------

    async def open_session(self, channel_id: str) -> LiveLinks:
        """Start (or join) the channel's stream and give the viewer a session."""
        stream = await self._ensure_stream(channel_id)
        live = self._live[channel_id]
        session_id = secrets.token_urlsafe(12)
        loop = asyncio.get_running_loop()
        self._viewers[session_id] = _Viewer(session_id, channel_id, idle_since=loop.time())
        self._arm_sweeper()
        media = stream.media
        log.info("viewer %s joined channel %s", session_id, channel_id)
        return LiveLinks(
            session_id=session_id,
            channel_id=channel_id,
            device_id=live.device_id,
            codec=str(media.codec) if media is not None and media.codec else None,
            width=media.size.width if media is not None and media.size else None,
            height=media.size.height if media is not None and media.size else None,
        )

    async def close_session(self, session_id: str) -> None:
        viewer = self._viewers.pop(session_id, None)
        if viewer is None:
            raise NotFound(f"no live session {session_id}")
        for sink in viewer.sinks:
            await sink.close()
        log.info("viewer %s left channel %s", session_id, viewer.channel_id)

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
            if viewer.is_watching():
                viewer.idle_since = now
            elif now - viewer.idle_since >= self._session_idle:
                del self._viewers[viewer.session_id]
                log.info("viewer %s of channel %s expired", viewer.session_id,
                         viewer.channel_id)  # fmt: skip
        if self._viewers:
            self._arm_sweeper()

    def _viewer_stream(self, session_id: str) -> tuple[_Viewer, Stream]:
        viewer = self._viewers.get(session_id)
        if viewer is None:
            raise NotFound(f"no live session {session_id}")
        live = self._live.get(viewer.channel_id)
        if live is None or live.stream is None or live.stream.close_reason is not None:
            raise StreamFailed(f"the stream of channel {viewer.channel_id} has ended")
        return viewer, live.stream

    # -- outputs ---------------------------------------------------------------------

    async def webrtc_answer(self, session_id: str, sdp: str, sdp_type: str) -> tuple[str, str]:
        # The outputs' libraries (aiortc, PyAV: some 70 MB) load with their first viewer,
        # not at start-up: a branch platform may never serve video from this process.
        from farmwatch.media.sinks.webrtc import WebRtcSession

        viewer, stream = self._viewer_stream(session_id)
        live = self._live[viewer.channel_id]
        session = WebRtcSession(
            request_keyframe=lambda: self._request_keyframe(live),
            host_addresses=self._webrtc_addresses,
            name=f"webrtc:{viewer.channel_id}:{session_id}",
        )
        stream.attach(session)
        viewer.sinks.append(session)
        try:
            return await session.answer(sdp, sdp_type)
        except InvalidOffer as error:
            await session.close()
            raise InvalidInput(f"invalid SDP offer: {error}") from error
        except (MediaError, ValueError) as error:
            await session.close()
            raise StreamFailed(f"WebRTC negotiation failed: {error}") from error

    async def fmp4(self, session_id: str) -> AsyncGenerator[bytes, None]:
        """The fMP4 bytes of the session's stream, from the last keyframe on."""
        from farmwatch.media.sinks.fmp4 import Fmp4Sink

        viewer, stream = self._viewer_stream(session_id)
        sink = Fmp4Sink(name=f"fmp4:{viewer.channel_id}:{session_id}")
        stream.attach(sink)
        viewer.sinks.append(sink)
        async for chunk in sink.chunks():
            yield chunk

    async def hls_resource(self, session_id: str, name: str) -> tuple[bytes, str] | None:
        """A playlist or segment of the channel's HLS output (shared by its viewers)."""
        from farmwatch.media.sinks.hls import HlsSink

        viewer, stream = self._viewer_stream(session_id)
        # HLS keeps no connection open: each fetch is what says this viewer is still there.
        viewer.idle_since = asyncio.get_running_loop().time()
        live = self._live[viewer.channel_id]
        if live.hls is None or live.hls.is_closed:
            live.hls = HlsSink(name=f"hls:{viewer.channel_id}")
            await live.hls.start()
            stream.attach(live.hls)
            async with asyncio.timeout(10):
                await live.hls.wait_segments(1)
        resource = live.hls.resource(name)
        self._arm_hls_idle(live)
        return None if resource is None else (resource.data, resource.content_type)

    def _arm_hls_idle(self, live: _ChannelLive) -> None:
        """HLS has no connection to lose: its sink closes once nobody fetched for a while."""
        if live.hls_idle is not None:
            live.hls_idle.cancel()
        live.hls_idle = asyncio.get_running_loop().call_later(
            self._hls_idle, self._close_idle_hls, live
        )

    def _close_idle_hls(self, live: _ChannelLive) -> None:
        live.hls_idle = None
        if live.hls is not None:
            log.info("channel %s: HLS unused for %g s, closing it", live.channel_id,
                     self._hls_idle)  # fmt: skip
            self._spawn(live.hls.close())
            live.hls = None

    async def snapshot(self, channel_id: str, *, max_width: int = 1280) -> bytes:
        """A JPEG of the channel's latest keyframe (starting the stream if needed)."""
        stream = await self._ensure_stream(channel_id)
        # A new sink is offered the cached start, which begins with the last keyframe.
        probe = QueuedSink(max_frames=1, name=f"snapshot:{channel_id}")
        subscription = stream.attach(probe)
        try:
            async with asyncio.timeout(5):
                frame = await probe.next_frame()
                while frame is not None and (frame.is_damaged or not frame.is_keyframe):
                    frame = await probe.next_frame()  # a keyframe hit by loss: the next one
        except TimeoutError:
            frame = None
        finally:
            stream.detach(subscription)
            await probe.close()
        if frame is None or not frame.is_keyframe:
            raise StreamFailed(f"no keyframe from channel {channel_id} yet")
        from farmwatch.media.sinks.snapshot import snapshot_jpeg

        try:
            return await snapshot_jpeg(frame, max_width=max_width)
        except MediaError as error:
            raise StreamFailed(f"cannot decode the keyframe: {error}") from error

    # -- starting and stopping streams -----------------------------------------------------

    async def _ensure_stream(self, channel_id: str) -> Stream:
        live = self._live.get(channel_id)
        if live is not None:
            return await asyncio.shield(live.ready)
        record = await self._channels.get(channel_id)
        if record is None:
            raise NotFound(f"no channel {channel_id}")
        live = self._live.get(channel_id)  # another viewer may have started it meanwhile
        if live is not None:
            return await asyncio.shield(live.ready)
        ready: asyncio.Future[Stream] = asyncio.get_running_loop().create_future()
        live = _ChannelLive(channel_id, record.device_id, ready)
        self._live[channel_id] = live
        try:
            stream = await self._start(live)
        except BaseException as error:
            await self._abandon(live)
            ready.set_exception(error)
            ready.exception()
            raise
        ready.set_result(stream)
        return stream

    async def _start(self, live: _ChannelLive) -> Stream:
        if not self._access.is_online(live.device_id):
            raise DeviceOffline(f"device {live.device_id} of channel {live.channel_id} is offline")
        live.ssrc = self._ssrc.allocate(SsrcKind.LIVE)
        registration = self._access.registration(live.device_id)
        # Media only from where the device's SIP comes from, and its answer's c= (below).
        device_hosts = [registration.address.host] if registration is not None else []
        opened = await self._media.open_stream(
            live.channel_id, self._transport, live.ssrc.value, allowed_hosts=device_hosts
        )
        live.stream = opened.stream
        transport, setup = MEDIA_SETUP[self._transport]
        media_host = opened.host
        if media_host in WILDCARDS and registration is not None:
            # The device must be able to reach this address: the one it reaches us on.
            media_host = self._access.endpoint.local_host_for(registration.address)
        offer = build_live_offer(
            platform_id=self._platform_id,
            media=MediaEndpoint(media_host, opened.port, transport, setup),
            ssrc=live.ssrc,
        )
        try:
            call = await self._calls.invite(
                live.device_id, live.channel_id, offer, timeout=self._invite_timeout
            )
        except CallRefused as error:
            raise StreamFailed(
                f"device {live.device_id} refused channel {live.channel_id}: "
                f"{error.status} {error.reason}"
            ) from error
        except CallTimeout as error:
            raise StreamFailed(
                f"device {live.device_id} did not answer the INVITE for {live.channel_id} "
                f"within {self._invite_timeout:g} s"
            ) from error
        except SipError as error:
            raise DeviceOffline(f"cannot reach device {live.device_id}: {error}") from error
        live.call = call
        self._by_call[call.call_id] = live.channel_id
        self._media.allow_source(live.channel_id, call.media_host)
        if call.ssrc is not None and call.is_ssrc_changed:
            self._media.expect_ssrc(live.channel_id, call.ssrc.value)
        if self._transport is MediaTransport.TCP_ACTIVE:
            await self._connect_media(live, call)
        opened.stream.on_keyframe_needed = lambda: self._request_keyframe(live)
        try:
            await opened.stream.wait_live()
        except (TimeoutError, StreamClosedError) as error:
            raise StreamFailed(_no_video_reason(live, error)) from error
        log.info("channel %s live (device %s, call %s)", live.channel_id, live.device_id,
                 call.call_id)  # fmt: skip
        return opened.stream

    async def _connect_media(self, live: _ChannelLive, call: EstablishedCall) -> None:
        """TCP active: dial the address the device answered, unless it answered
        `a=setup:active` as well (RFC 4145 §4.1 forbids it): it will connect to our offered
        port then, so listen there instead (be tolerant in what you accept)."""
        if call.setup is not Setup.ACTIVE:
            self._media.connect_active(live.channel_id, call.media_host, call.media_port)
            return
        log.warning("device %s answered a=setup:active to our a=setup:active for channel %s "
                    "(RFC 4145 forbids it): listening for its media connection instead",
                    live.device_id, live.channel_id)  # fmt: skip
        try:
            await self._media.listen_active(live.channel_id)
        except OSError as error:
            raise StreamFailed(
                f"device {live.device_id} answered a=setup:active to an active offer (RFC 4145 "
                f"forbids it) and its connection cannot be listened for: {error}"
            ) from error

    async def _abandon(self, live: _ChannelLive) -> None:
        """Undo a start that failed: BYE, receiver, SSRC."""
        if self._live.get(live.channel_id) is live:
            del self._live[live.channel_id]
        if live.call is not None:
            self._by_call.pop(live.call.call_id, None)
            await self._calls.bye(live.call)
        await self._media.close_stream(live.channel_id, CloseReason.START_TIMEOUT)
        if live.ssrc is not None:
            self._ssrc.release(live.ssrc)

    def _request_keyframe(self, live: _ChannelLive) -> None:
        self._spawn(self._calls.request_keyframe(live.device_id, live.channel_id))

    # -- MediaListener: the stream closed by itself (idle, media stopped) ------------------

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        live = self._live.pop(stream_key, None)
        if live is None:
            return
        log.info("channel %s stream closed (%s)", stream_key, reason.value)
        if live.call is not None:
            self._by_call.pop(live.call.call_id, None)
            await self._calls.bye(live.call)
        if live.ssrc is not None:
            self._ssrc.release(live.ssrc)

    # -- CallListener: the device ended the call -------------------------------------------

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        channel_id = self._by_call.pop(call_id, None)
        if channel_id is None:
            return
        live = self._live.pop(channel_id, None)
        log.info("device ended the call of channel %s (%s)", channel_id, reason.value)
        self._spawn(self._media.close_stream(channel_id, CloseReason.PEER_CLOSED))
        if live is not None and live.ssrc is not None:
            self._ssrc.release(live.ssrc)

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        log.info("media status %s on call %s", status, call_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _no_video_reason(live: _ChannelLive, error: Exception) -> str:
    """What the viewer is told when the stream never went live."""
    match error:
        case StreamClosedError(cause=MediaConnectFailed(address=(host, port), is_refused=True)):
            return f"device {live.device_id} refused the TCP media connection to {host}:{port}"
        case StreamClosedError(cause=MediaConnectFailed(address=(host, port), error=reason)):
            return f"cannot connect to device {live.device_id} for media at {host}:{port}: {reason}"
    return f"no video from channel {live.channel_id} within the start timeout"
