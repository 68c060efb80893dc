"""Starting one device stream: receiver first, then the INVITE, then the first keyframe.

Shared by live view (one stream per channel) and recorded video (one stream, and one INVITE,
per playback or download: gb28181.md §6.8, §6.9). `DeviceStreamStarter.start` opens an RTP
receiver on the least-loaded media node listening before the INVITE leaves, sends the
INVITE with that receiver's address and the given SSRC (the offer is built by the caller:
`s=Play`, `s=Playback`, `s=Download`), follows the answer's SSRC and media address and, for
TCP active, dials the device (or, when it answered `a=setup:active` too, awaits it on the
offered port), and waits for the first video keyframe. Whatever it set up is undone when a
step fails, and the failure is a clear platform error (a refused TCP media connection is
named as such). The SSRC stays the caller's to release.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.events import MediaConnectFailed
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import LiveInfo
from farmwatch.media.stream import StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.platform.errors import DeviceOffline, StreamFailed
from farmwatch.sipserver.call_types import CallRefused, CallTimeout, EstablishedCall
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint

__all__ = ["MEDIA_SETUP", "DeviceStreamStarter", "OfferBuilder", "StartedStream", "StreamRequest"]

log = logging.getLogger(__name__)

WILDCARDS = frozenset({"", "0.0.0.0", "::"})
MEDIA_SETUP = {
    MediaTransport.UDP: (Transport.UDP, Setup.PASSIVE),
    MediaTransport.TCP_PASSIVE: (Transport.TCP, Setup.PASSIVE),
    MediaTransport.TCP_ACTIVE: (Transport.TCP, Setup.ACTIVE),
}

OfferBuilder = Callable[[MediaEndpoint], SessionDescription]
"""Our media endpoint → the SDP offer (`build_live_offer`, `build_playback_offer`...)."""


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """What to start: a stream key of the media cluster and the channel to invite."""

    stream_key: str
    device_id: str
    channel_id: str
    transport: MediaTransport
    ssrc: Ssrc
    offer: OfferBuilder
    invite_timeout: float
    what: str = "the INVITE"
    """How errors name the request ("the playback INVITE")."""


@dataclass(frozen=True, slots=True)
class StartedStream:
    call: EstablishedCall
    info: LiveInfo
    node: str
    endpoint: MediaEndpoint
    """Where the stream's receiver takes the media (what the offer said)."""


class DeviceStreamStarter:
    def __init__(self, media: MediaCluster, calls: Calls, access: DeviceAccess) -> None:
        self._media = media
        self._calls = calls
        self._access = access

    async def start(
        self,
        request: StreamRequest,
        on_call: Callable[[EstablishedCall], None] | None = None,
    ) -> StartedStream:
        """Start the stream; `on_call` learns the dialog as soon as it is confirmed (so that
        a BYE or MediaStatus arriving before the first frame finds its owner)."""
        if not self._access.is_online(request.device_id):
            raise DeviceOffline(
                f"device {request.device_id} of channel {request.channel_id} is offline"
            )
        registration = self._access.registration(request.device_id)
        # Media only from where the device's SIP comes from, and its answer's c= (below).
        device_hosts = [registration.address.host] if registration is not None else []
        try:
            opened = await self._media.open_stream(
                request.stream_key, request.transport, request.ssrc.value, device_hosts
            )
        except MediaError as error:
            raise StreamFailed(f"cannot receive channel {request.channel_id}: {error}") from error
        call: EstablishedCall | None = None
        try:
            transport, setup = MEDIA_SETUP[request.transport]
            media_host = opened.host
            if media_host in WILDCARDS and registration is not None:
                # The device must be able to reach this address: the one it reaches us on.
                media_host = self._access.endpoint.local_host_for(registration.address)
            endpoint = MediaEndpoint(media_host, opened.port, transport, setup)
            call = await self._invite(request, request.offer(endpoint))
            if on_call is not None:
                on_call(call)
            info = await self._receive(request, call)
        except BaseException:
            if call is not None:
                await self._calls.bye(call)
            await self._close_quietly(request.stream_key)
            raise
        log.info("channel %s streaming as %s (device %s, call %s, media node %s)",
                 request.channel_id, request.stream_key, request.device_id, call.call_id,
                 opened.node)  # fmt: skip
        return StartedStream(call, info, opened.node, endpoint)

    async def reinvite(self, request: StreamRequest, endpoint: MediaEndpoint) -> EstablishedCall:
        """A new INVITE into the stream's running receiver (a playback restarted from another
        time when the device refused to seek): the same port and SSRC, the new answer's
        source and SSRC followed. The caller BYEs the old dialog first (devices allow one
        playback at a time) and keeps the stream's timers paused meanwhile."""
        key = request.stream_key
        try:
            # Before the INVITE: the new dialog's media may come from another port of the
            # device, at once (its first key frame must not be dropped).
            await self._media.expect_ssrc(key, request.ssrc.value)
        except MediaError as error:
            raise StreamFailed(f"the stream of channel {request.channel_id}: {error}") from error
        call = await self._invite(request, request.offer(endpoint))
        try:
            await self._media.allow_source(key, call.media_host)
            if call.ssrc is not None and call.ssrc != request.ssrc:
                await self._media.expect_ssrc(key, call.ssrc.value)
            if request.transport is MediaTransport.TCP_ACTIVE:
                await self._connect_media(request, call)
        except MediaError as error:
            await self._calls.bye(call)
            raise StreamFailed(f"no video from channel {request.channel_id}: {error}") from error
        except BaseException:
            await self._calls.bye(call)
            raise
        return call

    async def _invite(self, request: StreamRequest, offer: SessionDescription) -> EstablishedCall:
        try:
            return await self._calls.invite(
                request.device_id, request.channel_id, offer, timeout=request.invite_timeout
            )
        except CallRefused as error:
            raise StreamFailed(
                f"device {request.device_id} refused {request.what} for channel "
                f"{request.channel_id}: {error.status} {error.reason}"
            ) from error
        except CallTimeout as error:
            raise StreamFailed(
                f"device {request.device_id} did not answer {request.what} for "
                f"{request.channel_id} within {request.invite_timeout:g} s"
            ) from error
        except SipError as error:
            raise DeviceOffline(f"cannot reach device {request.device_id}: {error}") from error

    async def _receive(self, request: StreamRequest, call: EstablishedCall) -> LiveInfo:
        key = request.stream_key
        try:
            await self._media.allow_source(key, call.media_host)
            if call.ssrc is not None and call.is_ssrc_changed:
                await self._media.expect_ssrc(key, call.ssrc.value)
            if request.transport is MediaTransport.TCP_ACTIVE:
                await self._connect_media(request, call)
            return await self._media.wait_live(key)
        except (TimeoutError, StreamClosedError) as error:
            raise StreamFailed(_no_video_reason(request, error)) from error
        except MediaError as error:
            raise StreamFailed(f"no video from channel {request.channel_id}: {error}") from error

    async def _connect_media(self, request: StreamRequest, call: EstablishedCall) -> None:
        """TCP active: dial the address the device answered, unless it answered
        `a=setup:active` as well (RFC 4145 §4.1 forbids it): it will connect to our offered
        port then, so listen there instead (be tolerant in what you accept)."""
        if call.setup is not Setup.ACTIVE:
            await self._media.connect_active(request.stream_key, call.media_host, call.media_port)
            return
        log.warning("device %s answered a=setup:active to our a=setup:active for channel %s "
                    "(RFC 4145 forbids it): listening for its media connection instead",
                    request.device_id, request.channel_id)  # fmt: skip
        try:
            await self._media.listen_active(request.stream_key)
        except (OSError, MediaError) as error:
            raise StreamFailed(
                f"device {request.device_id} answered a=setup:active to an active offer (RFC "
                f"4145 forbids it) and its connection cannot be listened for: {error}"
            ) from error

    async def _close_quietly(self, stream_key: str) -> None:
        try:
            await self._media.close_stream(stream_key, CloseReason.START_TIMEOUT)
        except MediaError as error:
            log.info("stream %s: receiver not closed: %s", stream_key, error)


def _no_video_reason(request: StreamRequest, error: Exception) -> str:
    """What the viewer is told when the stream never went live."""
    device = request.device_id
    match error:
        case StreamClosedError(cause=MediaConnectFailed(address=(host, port), is_refused=True)):
            return f"device {device} refused the TCP media connection to {host}:{port}"
        case StreamClosedError(cause=MediaConnectFailed(address=(host, port), error=reason)):
            return f"cannot connect to device {device} for media at {host}:{port}: {reason}"
    return f"no video from channel {request.channel_id} within the start timeout"
