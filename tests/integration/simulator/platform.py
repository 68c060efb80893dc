"""The real platform side for simulator tests: `DeviceAccess` on a loopback `SipEndpoint`."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.device_events import DeviceEvent
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.settings import RegistrarSettings, SipSettings

SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"
PASSWORD = "12345678"

T = TypeVar("T")


class Directory:
    """Every device may register, with one password."""

    def __init__(self, password: str = PASSWORD) -> None:
        self.password = password

    def password_for(self, device_id: str) -> str | None:
        return self.password

    def charset_for(self, device_id: str) -> str | None:
        return None


class RecordingListener:
    """Keeps every event; `wait_for` returns the first one matching, without sleeping."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self._changed = asyncio.Event()

    def device_event(self, event: DeviceEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(
        self, predicate: Callable[[DeviceEvent], bool], *, since: int = 0
    ) -> DeviceEvent:
        """The first event from index `since` on that matches; bound it with a timeout."""
        seen = since
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            await self._changed.wait()

    def of_type(self, kind: type[T]) -> list[T]:
        return [event for event in self.events if isinstance(event, kind)]


@dataclass
class Platform:
    access: DeviceAccess
    listener: RecordingListener
    endpoint: SipEndpoint
    sip: SipSettings
    directory: Directory = field(default_factory=Directory)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.endpoint.port)


@asynccontextmanager
async def running_platform(
    *, port: int = 0, password: str = PASSWORD, t1: float = 0.5, **registrar: object
) -> AsyncIterator[Platform]:
    """A platform with `RegistrarSettings(**registrar)` (short timeouts in tests).

    A small `t1` shortens every SIP transaction timeout (64 × T1) for tests that wait for one.
    """
    sip = SipSettings(
        host="127.0.0.1", port=port, id=SERVER_ID, domain=DOMAIN, password=PASSWORD, t1=t1
    )
    endpoint = SipEndpoint(sip)
    listener = RecordingListener()
    directory = Directory(password)
    settings = RegistrarSettings(**registrar)  # type: ignore[arg-type]
    access = DeviceAccess(endpoint, sip, settings, directory=directory, listener=listener)
    await _bind(endpoint, retry=port == 0)
    await access.start()
    try:
        yield Platform(access, listener, endpoint, sip, directory)
    finally:
        await access.close()
        await endpoint.close()


async def _bind(endpoint: SipEndpoint, *, retry: bool) -> None:
    """With port 0 the endpoint's TCP twin of its ephemeral UDP port may be taken: retry."""
    for attempt in range(8):
        try:
            await endpoint.start()
            return
        except OSError as error:
            if not retry or error.errno != errno.EADDRINUSE or attempt == 7:
                raise
