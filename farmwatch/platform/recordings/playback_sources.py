"""Where a playback's media comes from: the device (over GB/T 28181) or platform recordings.

`DevicePlayback` invites the channel with `s=Playback` (gb28181.md §6.8) and controls it with
MANSRTSP over INFO (§7): PAUSE, PLAY `Range: npt=now-`, PLAY `Range: npt=<s>-`, PLAY `Scale`,
each with the session's own MANSRTSP CSeq. A device that refuses a seek, or does not answer
it, gets a new INVITE from the target into the same receiver instead (WVP's console seeks
that way and it works everywhere): the old dialog is BYEd first, since devices allow one
playback at a time. `RecordedPlayback` feeds the stream from the platform's own segment
files through the media layer, which pauses, seeks and paces it itself.

Either way the media layer is then told (`set_paused`, `set_scale`) so that timers wait and
output timestamps follow the speed: that part is the service's, not a source's.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import LiveInfo
from farmwatch.platform.errors import StreamFailed
from farmwatch.platform.recordings.records import SegmentRecord
from farmwatch.platform.services.stream_starter import DeviceStreamStarter, StreamRequest
from farmwatch.sipserver.call_types import EstablishedCall
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.errors import SipError, TransactionFailed
from farmwatch.sipserver.gb.mansrtsp import MansrtspRequest, build_mansrtsp_request
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.sip.sdp import SessionDescription
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_playback_offer

__all__ = ["DevicePlayback", "PlaybackSource", "RecordedPlayback"]

log = logging.getLogger(__name__)


class PlaybackSource(Protocol):
    @property
    def call(self) -> EstablishedCall | None:
        """The dialog media comes over (None for platform recordings)."""
        ...

    async def open(self) -> LiveInfo: ...

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...

    async def speed(self, scale: float) -> None: ...

    async def seek(self, target: datetime, offset: float) -> bool:
        """Play from `target` (`offset` seconds after the range's start); True when that took
        a new dialog (which plays at 1×)."""
        ...

    async def close(self, *, bye: bool) -> None:
        """Stop the source (BYE the dialog unless the device ended it)."""
        ...


class DevicePlayback:
    """A device's recording, invited and controlled over GB/T 28181."""

    def __init__(
        self,
        starter: DeviceStreamStarter,
        calls: Calls,
        *,
        platform_id: str,
        stream_key: str,
        device_id: str,
        channel_id: str,
        start: datetime,
        end: datetime,
        transport: MediaTransport,
        ssrc: Ssrc,
        invite_timeout: float,
        on_call: Callable[[EstablishedCall | None, EstablishedCall | None], None],
    ) -> None:
        self._starter = starter
        self._calls = calls
        self._platform_id = platform_id
        self._stream_key = stream_key
        self._device_id = device_id
        self._channel_id = channel_id
        self._start, self._end = start, end
        self._transport = transport
        self._ssrc = ssrc
        self._invite_timeout = invite_timeout
        self._on_call = on_call
        """(old, new) whenever the dialog changes, so the owner can key it by Call-ID."""
        self._cseq = itertools.count(1)
        self._call: EstablishedCall | None = None
        self._endpoint: MediaEndpoint | None = None

    @property
    def call(self) -> EstablishedCall | None:
        return self._call

    def _request(self, start: datetime) -> StreamRequest:
        def offer(media: MediaEndpoint) -> SessionDescription:
            return build_playback_offer(
                sender_id=self._platform_id,
                endpoint=media,
                ssrc=self._ssrc.text,
                channel_id=self._channel_id,
                start=math.floor(start.timestamp()),
                stop=math.ceil(self._end.timestamp()),
            )

        return StreamRequest(
            self._stream_key, self._device_id, self._channel_id, self._transport, self._ssrc,
            offer, self._invite_timeout, what="the playback INVITE",
        )  # fmt: skip

    def _adopt(self, call: EstablishedCall | None) -> None:
        old, self._call = self._call, call
        self._on_call(old, call)

    async def open(self) -> LiveInfo:
        started = await self._starter.start(self._request(self._start), on_call=self._adopt)
        self._endpoint = started.endpoint
        return started.info

    async def _info(self, request: MansrtspRequest) -> None:
        """Send one MANSRTSP request; raises `StreamFailed` with the device's refusal."""
        if self._call is None:
            raise StreamFailed(f"the playback of {self._channel_id} has no dialog")
        what = request.method.value
        try:
            await self._calls.info(self._call, build_mansrtsp_request(request))
        except TransactionFailed as error:
            response = error.response
            raise StreamFailed(f"device {self._device_id} refused {what}: "
                               f"{response.status} {response.reason}") from error  # fmt: skip
        except SipError as error:
            raise StreamFailed(f"device {self._device_id} did not take {what}: {error}") from error

    async def pause(self) -> None:
        await self._info(MansrtspRequest.pause(next(self._cseq)))

    async def resume(self) -> None:
        await self._info(MansrtspRequest.resume(next(self._cseq)))

    async def speed(self, scale: float) -> None:
        await self._info(MansrtspRequest.speed(next(self._cseq), scale))

    async def seek(self, target: datetime, offset: float) -> bool:
        try:
            await self._info(MansrtspRequest.seek(next(self._cseq), offset))
            return False
        except StreamFailed as refused:
            log.info("playback %s: %s; playing from %s with a new INVITE instead",
                     self._stream_key, refused, target.isoformat())  # fmt: skip
        await self._reinvite(target)
        return True

    async def _reinvite(self, target: datetime) -> None:
        """BYE the old dialog (one playback per device), INVITE from `target` into the same
        receiver (the caller keeps the stream's timers waiting meanwhile)."""
        if self._endpoint is None or self._call is None:
            raise StreamFailed(f"the playback of {self._channel_id} has no dialog")
        old = self._call
        self._adopt(None)
        await self._calls.bye(old)
        call = await self._starter.reinvite(self._request(target), self._endpoint)
        self._adopt(call)

    async def close(self, *, bye: bool) -> None:
        call = self._call
        self._adopt(None)
        if bye and call is not None:
            await self._calls.bye(call)


class RecordedPlayback:
    """The platform's own segment files, fed into the stream by the media layer."""

    def __init__(
        self,
        media: MediaCluster,
        *,
        stream_key: str,
        storage: Path,
        segments: Sequence[SegmentRecord],
        start: datetime,
    ) -> None:
        self._media = media
        self._stream_key = stream_key
        self._parts = [(str(storage / s.path), s.start_at.isoformat()) for s in segments]
        self._start = start

    @property
    def call(self) -> EstablishedCall | None:
        return None

    async def open(self) -> LiveInfo:
        try:
            return await self._media.open_recorded_stream(
                self._stream_key, self._parts, self._start.isoformat()
            )
        except MediaError as error:
            raise StreamFailed(f"the platform recording cannot be played: {error}") from error

    async def pause(self) -> None:
        """The media layer stops feeding when the service pauses the stream."""

    async def resume(self) -> None:
        """The media layer feeds again when the service resumes the stream."""

    async def speed(self, scale: float) -> None:
        """The media layer paces the files at the stream's scale."""

    async def seek(self, target: datetime, offset: float) -> bool:
        try:
            await self._media.seek_recorded_stream(self._stream_key, target.isoformat())
        except MediaError as error:
            raise StreamFailed(f"the platform recording cannot seek: {error}") from error
        return False

    async def close(self, *, bye: bool) -> None:
        """Closing the stream stops the files being read."""
