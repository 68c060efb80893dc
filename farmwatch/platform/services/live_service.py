"""Live view: one stream per channel shared by every viewer (DESIGN.md "Live view").

`LiveService.open_session(channel_id)` gives a viewer a session and the URLs of its
outputs; the first viewer of a channel starts the stream — an RTP receiver listening
before the INVITE leaves, the INVITE with that receiver's address and a fresh SSRC, the
answer's SSRC followed and, for TCP active, the connection dialled (or, when the device
answered `a=setup:active` too, awaited on the offered port) — and every later viewer joins
it: a second viewer never causes a second INVITE, and viewers arriving while the stream
starts wait for the same start. The stream runs on one node of the `MediaCluster` (a media
worker process, or this process): outputs (WebRTC, fMP4, HLS) are opened there by output
ID, and the node says when one closes by itself; when the last one leaves the stream closes
after the idle time and the device gets its BYE. A stream whose worker died is started
again (on another worker, with a new INVITE) when it has viewers. HLS holds nothing open,
so each of its fetches counts as the session's activity. A BYE from the device, or media
that stops, ends the stream and its viewers are told. Failures become clear platform errors
for the viewer (a refused TCP media connection is named as such).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.events import MediaConnectFailed
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import LiveInfo
from farmwatch.media.stream import StreamClosedError
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
    ready: asyncio.Future[LiveInfo]
    call: EstablishedCall | None = None
    ssrc: Ssrc | None = None
    info: LiveInfo | None = None
    is_closed: bool = False


@dataclass(slots=True)
class _Viewer:
    session_id: str
    channel_id: str
    idle_since: float
    outputs: set[str] = field(default_factory=set)
    """The viewer's outputs (by ID) still open on the stream's node."""

    def is_watching(self) -> bool:
        return bool(self.outputs)


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
    ) -> None:
        self._media = media
        self._calls = calls
        self._access = access
        self._channels = channels
        self._platform_id = platform_id
        self._transport = transport
        self._invite_timeout = invite_timeout
        self._session_idle = session_idle
        self._sweeper: asyncio.TimerHandle | None = None
        self._ssrc = SsrcAllocator(platform_id)
        self._live: dict[str, _ChannelLive] = {}
        self._by_call: dict[str, str] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._output_viewers: dict[str, str] = {}  # output ID → session ID
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
        info = await self._ensure_stream(channel_id)
        live = self._live[channel_id]
        session_id = secrets.token_urlsafe(12)
        loop = asyncio.get_running_loop()
        self._viewers[session_id] = _Viewer(session_id, channel_id, idle_since=loop.time())
        self._arm_sweeper()
        log.info("viewer %s joined channel %s", session_id, channel_id)
        return LiveLinks(
            session_id=session_id,
            channel_id=channel_id,
            device_id=live.device_id,
            codec=info.codec,
            width=info.width,
            height=info.height,
        )

    async def close_session(self, session_id: str) -> None:
        viewer = self._viewers.pop(session_id, None)
        if viewer is None:
            raise NotFound(f"no live session {session_id}")
        for output_id in list(viewer.outputs):
            self._output_viewers.pop(output_id, None)
            try:
                await self._media.close_output(output_id)
            except MediaError as error:  # its node is gone: so is the output
                log.info("viewer %s: output %s not closed: %s", session_id, output_id, error)
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

    def _viewer_live(self, session_id: str) -> tuple[_Viewer, _ChannelLive]:
        viewer = self._viewers.get(session_id)
        if viewer is None:
            raise NotFound(f"no live session {session_id}")
        live = self._live.get(viewer.channel_id)
        if live is None or live.info is None or live.is_closed:
            raise StreamFailed(f"the stream of channel {viewer.channel_id} has ended")
        return viewer, live

    def _new_output(self, viewer: _Viewer) -> str:
        output_id = secrets.token_urlsafe(9)
        viewer.outputs.add(output_id)
        self._output_viewers[output_id] = viewer.session_id
        return output_id

    def _output_ended(self, output_id: str) -> None:
        session_id = self._output_viewers.pop(output_id, None)
        viewer = self._viewers.get(session_id) if session_id is not None else None
        if viewer is not None:
            viewer.outputs.discard(output_id)

    # -- outputs ---------------------------------------------------------------------------

    async def webrtc_answer(self, session_id: str, sdp: str, sdp_type: str) -> tuple[str, str]:
        viewer, live = self._viewer_live(session_id)
        output_id = self._new_output(viewer)
        try:
            answer = await self._media.webrtc_answer(live.channel_id, output_id, sdp, sdp_type)
        except InvalidOffer as error:
            self._output_ended(output_id)
            raise InvalidInput(f"invalid SDP offer: {error}") from error
        except (MediaError, ValueError) as error:
            self._output_ended(output_id)
            raise StreamFailed(f"WebRTC negotiation failed: {error}") from error
        return answer.sdp, answer.type

    async def fmp4(self, session_id: str) -> AsyncGenerator[bytes, None]:
        """The fMP4 bytes of the session's stream, from the last keyframe on."""
        viewer, live = self._viewer_live(session_id)
        output_id = self._new_output(viewer)
        try:
            async for chunk in self._media.fmp4(live.channel_id, output_id):
                yield chunk
        except StreamClosedError as error:
            raise StreamFailed(f"the stream of channel {live.channel_id} has ended") from error
        except MediaError as error:
            raise StreamFailed(f"fMP4 of channel {live.channel_id} failed: {error}") from error
        finally:
            self._output_ended(output_id)

    async def hls_resource(self, session_id: str, name: str) -> tuple[bytes, str] | None:
        """A playlist or segment of the channel's HLS output (shared by its viewers)."""
        viewer, live = self._viewer_live(session_id)
        # HLS keeps no connection open: each fetch is what says this viewer is still there.
        viewer.idle_since = asyncio.get_running_loop().time()
        try:
            return await self._media.hls_resource(live.channel_id, name)
        except MediaError as error:
            raise StreamFailed(f"HLS of channel {live.channel_id} failed: {error}") from error

    async def snapshot(self, channel_id: str, *, max_width: int = 1280) -> bytes:
        """A JPEG of the channel's latest intact keyframe (starting the stream if needed)."""
        await self._ensure_stream(channel_id)
        try:
            return await self._media.snapshot(channel_id, max_width)
        except MediaError as error:
            raise StreamFailed(f"no snapshot of channel {channel_id}: {error}") from error

    # -- NodeListener (the media cluster) -------------------------------------------------

    def output_closed(self, output_id: str) -> None:
        """An output closed by itself on its node (viewer gone, stream ended)."""
        self._output_ended(output_id)

    def keyframe_needed(self, stream_key: str) -> None:
        live = self._live.get(stream_key)
        if live is not None:
            self._request_keyframe(live)

    # -- starting and stopping streams -----------------------------------------------------

    async def _ensure_stream(self, channel_id: str) -> LiveInfo:
        live = self._live.get(channel_id)
        if live is not None:
            return await asyncio.shield(live.ready)
        record = await self._channels.get(channel_id)
        if record is None:
            raise NotFound(f"no channel {channel_id}")
        live = self._live.get(channel_id)  # another viewer may have started it meanwhile
        if live is not None:
            return await asyncio.shield(live.ready)
        ready: asyncio.Future[LiveInfo] = asyncio.get_running_loop().create_future()
        live = _ChannelLive(channel_id, record.device_id, ready)
        self._live[channel_id] = live
        try:
            info = await self._start(live)
        except BaseException as error:
            await self._abandon(live)
            ready.set_exception(error)
            ready.exception()
            raise
        live.info = info
        ready.set_result(info)
        return info

    async def _start(self, live: _ChannelLive) -> LiveInfo:
        if not self._access.is_online(live.device_id):
            raise DeviceOffline(f"device {live.device_id} of channel {live.channel_id} is offline")
        live.ssrc = self._ssrc.allocate(SsrcKind.LIVE)
        registration = self._access.registration(live.device_id)
        # Media only from where the device's SIP comes from, and its answer's c= (below).
        device_hosts = [registration.address.host] if registration is not None else []
        try:
            opened = await self._media.open_stream(
                live.channel_id, self._transport, live.ssrc.value, device_hosts
            )
        except MediaError as error:
            raise StreamFailed(f"cannot receive channel {live.channel_id}: {error}") from error
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
        try:
            await self._media.allow_source(live.channel_id, call.media_host)
            if call.ssrc is not None and call.is_ssrc_changed:
                await self._media.expect_ssrc(live.channel_id, call.ssrc.value)
            if self._transport is MediaTransport.TCP_ACTIVE:
                await self._connect_media(live, call)
            info = await self._media.wait_live(live.channel_id)
        except (TimeoutError, StreamClosedError) as error:
            raise StreamFailed(_no_video_reason(live, error)) from error
        except MediaError as error:
            raise StreamFailed(f"no video from channel {live.channel_id}: {error}") from error
        log.info("channel %s live (device %s, call %s, media node %s)", live.channel_id,
                 live.device_id, call.call_id, opened.node)  # fmt: skip
        return info

    async def _connect_media(self, live: _ChannelLive, call: EstablishedCall) -> None:
        """TCP active: dial the address the device answered, unless it answered
        `a=setup:active` as well (RFC 4145 §4.1 forbids it): it will connect to our offered
        port then, so listen there instead (be tolerant in what you accept)."""
        if call.setup is not Setup.ACTIVE:
            await self._media.connect_active(live.channel_id, call.media_host, call.media_port)
            return
        log.warning("device %s answered a=setup:active to our a=setup:active for channel %s "
                    "(RFC 4145 forbids it): listening for its media connection instead",
                    live.device_id, live.channel_id)  # fmt: skip
        try:
            await self._media.listen_active(live.channel_id)
        except (OSError, MediaError) as error:
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
        live.is_closed = True
        try:
            await self._media.close_stream(live.channel_id, CloseReason.START_TIMEOUT)
        except MediaError as error:
            log.info("channel %s: receiver not closed: %s", live.channel_id, error)
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
        log.info("channel %s stream closed (%s)", stream_key, reason.value)
        if live.call is not None:
            self._by_call.pop(live.call.call_id, None)
            await self._calls.bye(live.call)
        if live.ssrc is not None:
            self._ssrc.release(live.ssrc)
        if reason is CloseReason.NODE_LOST and self._is_watched(stream_key):
            # Its media worker died: start it again (the cluster places it elsewhere) so
            # that viewers who reconnect find it running.
            log.warning("channel %s: media worker lost, starting the stream again", stream_key)
            self._spawn(self._restart(stream_key))

    def _is_watched(self, channel_id: str) -> bool:
        return any(viewer.channel_id == channel_id for viewer in self._viewers.values())

    async def _restart(self, channel_id: str) -> None:
        try:
            await self._ensure_stream(channel_id)
        except (StreamFailed, DeviceOffline, NotFound) as error:
            log.warning("channel %s not restarted: %s", channel_id, error)

    # -- CallListener: the device ended the call -------------------------------------------

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        channel_id = self._by_call.pop(call_id, None)
        if channel_id is None:
            return
        live = self._live.pop(channel_id, None)
        if live is not None:
            live.is_closed = True
        log.info("device ended the call of channel %s (%s)", channel_id, reason.value)
        self._spawn(self._close_quietly(channel_id, CloseReason.PEER_CLOSED))
        if live is not None and live.ssrc is not None:
            self._ssrc.release(live.ssrc)

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        log.info("media status %s on call %s", status, call_id)

    async def _close_quietly(self, channel_id: str, reason: CloseReason) -> None:
        try:
            await self._media.close_stream(channel_id, reason)
        except MediaError as error:
            log.info("channel %s: receiver not closed: %s", channel_id, error)

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
