"""`[supervision] webhook_url`: what the authorities' other systems want to hear (an anomaly
reported, a fault escalated) POSTed there as JSON.

Sending never holds up nor loses the supervision work: the record is stored first; `send`
POSTs in the background and `post` awaits the answer, both with a bounded timeout; a failure
(refused, timed out, a status other than 2xx) is logged, counted and not retried (the
console and the API hold every record anyway). One instance serves every service; `start`
and `close` may be called by each of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

__all__ = ["Webhook"]

log = logging.getLogger(__name__)

TIMEOUT = 5.0


class Webhook:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[bool]] = set()
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
        """POST `payload` in the background (`about` names it in the log); nothing before
        `start` or after `close`."""
        if self._session is None:
            return
        task = asyncio.get_running_loop().create_task(self._post(self._session, payload, about))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(self, payload: Mapping[str, Any], *, about: str) -> bool:
        """POST `payload` and wait for the answer: True when the receiver answered 2xx."""
        if not self.is_enabled:
            return False
        if self._session is not None:
            return await self._post(self._session, payload, about)
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            return await self._post(session, payload, about)

    async def _post(
        self, session: aiohttp.ClientSession, payload: Mapping[str, Any], about: str
    ) -> bool:
        data = json.dumps(payload, ensure_ascii=False, default=str)
        try:
            async with session.post(
                self.url, data=data, headers={"Content-Type": "application/json"}
            ) as response:
                if not 200 <= response.status < 300:
                    self.failed += 1
                    log.warning("webhook %s: %s answered %d", about, self.url, response.status)
                    return False
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self.failed += 1
            log.warning("webhook %s: %s not reached: %s", about, self.url,
                        error or type(error).__name__)  # fmt: skip
            return False
        self.sent += 1
        log.info("webhook %s: POSTed to %s", about, self.url)
        return True
