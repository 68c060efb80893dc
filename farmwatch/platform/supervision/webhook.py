"""`[supervision] webhook_url`: events the authorities' other systems want (an escalated
fault, an anomaly) POSTed there as JSON. A bounded timeout; a failure is logged, never
raised: the supervision work goes on whether the receiver listens or not."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import aiohttp

__all__ = ["Webhook"]

log = logging.getLogger(__name__)

TIMEOUT = 5.0


class Webhook:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @property
    def is_configured(self) -> bool:
        return bool(self._url)

    async def post(self, body: Mapping[str, object]) -> bool:
        """POST `body`; True when the receiver answered 2xx."""
        if not self._url:
            return False
        data = json.dumps(body, ensure_ascii=False, default=str)
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(
                    self._url, data=data, headers={"Content-Type": "application/json"}
                ) as response,
            ):
                if response.status >= 300:
                    log.warning("webhook %s answered %d to %s", self._url, response.status,
                                body.get("event"))  # fmt: skip
                    return False
                return True
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("webhook %s not reached for %s: %s", self._url, body.get("event"),
                        error or type(error).__name__)  # fmt: skip
            return False
