"""Composition root: build every part from the settings, start in order, stop in reverse."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from farmwatch.settings import Settings
from farmwatch.sipserver.endpoint import SipEndpoint

log = logging.getLogger(__name__)


class Application:
    """One farmwatch platform: the SIP endpoint and (as they land) the other parts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sip = SipEndpoint(settings.sip)
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        await self.sip.start()
        self._stack.push_async_callback(self.sip.close)
        log.info(
            "farmwatch platform %s (domain %s) started; SIP on port %d",
            self.settings.sip.id,
            self.settings.sip.domain,
            self.sip.port,
        )

    async def close(self) -> None:
        await self._stack.aclose()
        log.info("farmwatch platform stopped")


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    app = Application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.close()
