"""Where a monitoring record's picture comes from: the live view's latest keyframe
(`LiveService.snapshot`, as `GET /api/channels/{id}/snapshot.jpg`) or the caller's
playback's (`PlaybackService.snapshot`)."""

from __future__ import annotations

from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.services.live_service import LiveService

__all__ = ["PlatformSnapshots"]


class PlatformSnapshots:
    """`ViewSnapshots` over the platform's live and playback services."""

    def __init__(self, live: LiveService, playback: PlaybackService) -> None:
        self._live = live
        self._playback = playback

    async def live(self, channel_id: str) -> bytes:
        return await self._live.snapshot(channel_id)

    async def playback(self, session_id: str) -> bytes:
        return await self._playback.snapshot(session_id)
