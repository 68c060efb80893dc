"""`[supervision] webhook_url`: each reported anomaly also POSTed as JSON to an outside
system (the authority's case handling, a message gateway).

Sending never holds up the report and never loses it: the anomaly is stored first, the POST
runs in the background with a bounded timeout, and a failure (refused, timed out, a status
other than 2xx) is logged with the anomaly, farm and camera; it is not retried (the console
and `GET /api/anomalies` hold every anomaly anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

__all__ = ["AnomalyWebhook"]

log = logging.getLogger(__name__)

TIMEOUT = 5.0


class AnomalyWebhook:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.failed = 0

    @property
    def is_enabled(self) -> bool:
        return bool(self.url)

    async def start(self) -> None:
        if self.is_enabled and self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._tasks:
            # Posts under way get their own timeout to finish, no more.
            await asyncio.wait(self._tasks, timeout=self._timeout.total)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def send(self, payload: Mapping[str, Any], *, about: str) -> None:
        """POST `payload` in the background (`about` names it in the log)."""
        if self._session is None:
            return
        task = asyncio.get_running_loop().create_task(self._post(self._session, payload, about))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(
        self, session: aiohttp.ClientSession, payload: Mapping[str, Any], about: str
    ) -> None:
        try:
            async with session.post(self.url, json=payload) as response:
                if not 200 <= response.status < 300:
                    self.failed += 1
                    log.warning("webhook %s: %s answered %d", about, self.url, response.status)
                    return
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self.failed += 1
            log.warning("webhook %s: POST to %s failed: %s", about, self.url,
                        error or type(error).__name__)  # fmt: skip
            return
        self.sent += 1
        log.info("webhook %s: POSTed to %s", about, self.url)
