"""What an upper's call is paired with: a channel's live stream, or a playback session.

`LiveCallMedia` joins the channel's shared live stream (`LiveService`), the sub stream when
the upper's offer asks for one (`a=streamnumber` or a vendor variant); `PlaybackCallMedia`
is one playback session (`PlaybackService`) of the device's recording, or of the platform's
own when the device cannot play it (offline, refusing), for an upper's `s=Playback` or
`s=Download`. Both open a relay on their stream for the call, start it on the ACK and close
it at the end; a playback is controlled by the upper's MANSRTSP (`control`), mapped onto the
session's controls so that it works the same for both sources (field-notes.md §2.3 items 15,
16: seek and speed through the cascade).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from farmwatch.media.node import RelayInfo, RelaySpec
from farmwatch.platform.errors import DeviceOffline, InvalidInput, NotFound, StreamFailed
from farmwatch.platform.recordings.playback_service import (
    SCALES,
    PlaybackAction,
    PlaybackService,
)
from farmwatch.platform.recordings.record_spans import RecordSource
from farmwatch.platform.services.live_service import MAIN_STREAM, LiveService, live_stream_key
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.mansrtsp import MansrtspMethod, MansrtspRequest
from farmwatch.sipserver.sip.sdp import SessionDescription, SessionName

__all__ = ["CallMedia", "LiveCallMedia", "PlaybackCallMedia", "open_playback"]

log = logging.getLogger(__name__)


class CallMedia(Protocol):
    @property
    def session_id(self) -> str | None:
        """The playback session (None for live)."""
        ...

    async def open_relay(self, relay_id: str, spec: RelaySpec) -> RelayInfo: ...

    async def start_relay(self, relay_id: str) -> None: ...

    async def close(self, relay_id: str) -> None:
        """Close the relay and whatever the call alone held (a playback session)."""
        ...

    async def control(self, request: MansrtspRequest) -> None:
        """Apply the upper's MANSRTSP; `InvalidInput` when it means nothing here."""
        ...


class LiveCallMedia:
    def __init__(self, live: LiveService, channel_id: str, stream: int = MAIN_STREAM) -> None:
        self._live = live
        self._channel_id = channel_id
        self._stream = stream

    @property
    def stream_key(self) -> str:
        """The live stream relayed (the main or a sub stream of the channel)."""
        return live_stream_key(self._channel_id, self._stream)

    @property
    def session_id(self) -> str | None:
        return None

    async def open_relay(self, relay_id: str, spec: RelaySpec) -> RelayInfo:
        return await self._live.open_relay(self._channel_id, relay_id, spec, self._stream)

    async def start_relay(self, relay_id: str) -> None:
        await self._live.start_relay(relay_id)

    async def close(self, relay_id: str) -> None:
        await self._live.close_relay(relay_id)

    async def control(self, request: MansrtspRequest) -> None:
        raise InvalidInput("live video takes no playback control")


class PlaybackCallMedia:
    def __init__(self, playback: PlaybackService, session_id: str, start: datetime) -> None:
        self._playback = playback
        self._session_id = session_id
        self._start = start

    @property
    def session_id(self) -> str | None:
        return self._session_id

    async def open_relay(self, relay_id: str, spec: RelaySpec) -> RelayInfo:
        return await self._playback.open_relay(self._session_id, relay_id, spec)

    async def start_relay(self, relay_id: str) -> None:
        await self._playback.start_relay(relay_id)

    async def close(self, relay_id: str) -> None:
        await self._playback.close_relay(relay_id)
        with contextlib.suppress(NotFound):  # it may have ended by itself already
            await self._playback.stop(self._session_id)

    async def control(self, request: MansrtspRequest) -> None:
        """PAUSE; PLAY `Range: npt=now-` (resume), `npt=<s>-` (seek from the `t=` start),
        `Scale` (speed); TEARDOWN is the caller's (it ends the call)."""
        playback, session_id = self._playback, self._session_id
        if request.method is MansrtspMethod.PAUSE:
            await playback.control(session_id, PlaybackAction.PAUSE)
            return
        if request.method is not MansrtspMethod.PLAY:
            raise InvalidInput(f"MANSRTSP {request.method.value} is not a control")
        if request.range_start is not None:
            target = self._start + timedelta(seconds=request.range_start)
            await playback.control(session_id, PlaybackAction.SEEK, position=target)
        elif request.range_now:
            await playback.control(session_id, PlaybackAction.RESUME)
        if request.scale is not None:
            await playback.control(session_id, PlaybackAction.SPEED, scale=request.scale)


async def open_playback(
    playback: PlaybackService, channel_id: str, offer: SessionDescription
) -> PlaybackCallMedia:
    """A playback session for an upper's `s=Playback`/`s=Download` offer: the `t=` range of
    the device's recording, else the platform's; a download at its `a=downloadspeed`."""
    if offer.start_time <= 0 or offer.stop_time <= offer.start_time:
        raise InvalidInput(f"t={offer.start_time} {offer.stop_time}: not a recorded range")
    start = datetime.fromtimestamp(offer.start_time, UTC)
    end = datetime.fromtimestamp(offer.stop_time, UTC)
    try:
        links = await playback.open(channel_id, start, end, source=RecordSource.DEVICE)
    except (DeviceOffline, StreamFailed, SipError) as device_error:
        log.info("channel %s: the device cannot play %s-%s (%s): trying platform recordings",
                 channel_id, start.isoformat(), end.isoformat(), device_error)  # fmt: skip
        links = await playback.open(channel_id, start, end, source=RecordSource.PLATFORM)
    media = PlaybackCallMedia(playback, links.session_id, start)
    speed = offer.download_speed
    if offer.session_kind is SessionName.DOWNLOAD and speed is not None and speed != 1:
        scale = float(speed)
        if scale in SCALES:
            await playback.control(links.session_id, PlaybackAction.SPEED, scale=scale)
    return media
