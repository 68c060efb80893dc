"""Background housekeeping of the web's access state, owned by the application's
`cleanup_ctx`: every few seconds, the live and playback sessions and record searches that
ended on their own (idle viewers, finished searches) are forgotten, each live one with its
`live_stop` audit row; every few minutes, expired console sessions are removed from the
database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from farmwatch.platform.access import AccessServices, Owned, OwnedKind
from farmwatch.platform.audit import AuditAction, AuditLog
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.recordings.record_search import RecordSearchService
from farmwatch.platform.services.broadcast_service import BroadcastService
from farmwatch.platform.services.live_service import LiveService

__all__ = ["AccessHousekeeping"]

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 5.0
PURGE_EVERY = 120  # sweeps: every ten minutes


class AccessHousekeeping:
    def __init__(
        self,
        access: AccessServices,
        audit: AuditLog,
        live: LiveService,
        playback: PlaybackService,
        searches: RecordSearchService,
        broadcasts: BroadcastService,
        *,
        interval: float = SWEEP_INTERVAL,
    ) -> None:
        self._access = access
        self._audit = audit
        self._live = live
        self._playback = playback
        self._searches = searches
        self._broadcasts = broadcasts
        self._interval = interval

    def _still_open(self, owned: Owned) -> bool:
        match owned.kind:
            case OwnedKind.LIVE:
                return self._live.has_session(owned.object_id)
            case OwnedKind.PLAYBACK:
                return self._playback.has_session(owned.object_id)
            case OwnedKind.RECORD_SEARCH:
                return self._searches.has_search(owned.object_id)
            case OwnedKind.BROADCAST:
                return self._broadcasts.has_session(owned.object_id)
        return True

    async def sweep(self) -> None:
        for owned in self._access.owners.forget_ended(self._still_open):
            if owned.kind is OwnedKind.LIVE and owned.actor is not None:
                await self._audit.append(
                    AuditAction.LIVE_STOP, owned.actor, organisation_id=owned.organisation_id,
                    channel_id=owned.channel_id, detail={"id": owned.object_id, "reason": "ended"},
                )  # fmt: skip

    async def _run(self) -> None:
        sweeps = 0
        while True:
            await asyncio.sleep(self._interval)
            sweeps += 1
            try:
                await self.sweep()
                if sweeps % PURGE_EVERY == 0:
                    await self._access.sessions.purge_expired(datetime.now(UTC))
            except Exception:
                # Isolation boundary: one sweep; the next one tries again.
                log.exception("access housekeeping failed")

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`: the sweeping task lives as long as the application."""
        task = asyncio.create_task(self._run(), name="access-housekeeping")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
