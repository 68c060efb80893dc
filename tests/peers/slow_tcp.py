"""Slow and greedy TCP peers: many connections from one source address, one byte at a time.

`SlowTcpFlood` opens `count` connections to a SIP server from `source_host` (any 127.x
address works on Linux loopback) and sends `payload` one byte every `interval` seconds on
each, never completing a message in time. It records, per connection, when it opened and
when the server closed or reset it, so a test (or `bench/abuse.py`) can tell connections
refused at once from connections closed at a deadline. Every wait is bounded; leaving the
context closes what is still open.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import TracebackType

from tests.peers.raw_sip import options_bytes


@dataclass
class SlowConnection:
    """What the peer observed on one connection (monotonic clock)."""

    opened_at: float
    sent: int = 0
    closed_at: float | None = None
    """When the server's FIN or RST arrived; None while the connection is open."""

    @property
    def lifetime(self) -> float | None:
        return None if self.closed_at is None else self.closed_at - self.opened_at


@dataclass
class SlowTcpFlood:
    """`count` slow connections from `source_host` to `server`; an async context manager."""

    server: tuple[str, int]
    source_host: str = "127.0.0.2"
    count: int = 200
    interval: float = 1.0
    payload: bytes = field(default_factory=lambda: options_bytes(5060, transport="TCP"))
    connections: list[SlowConnection] = field(default_factory=list)
    connect_failures: int = 0
    """Connections reset before the connect completed on our side (listed as closed)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> SlowTcpFlood:
        for _ in range(self.count):
            connection = SlowConnection(time.monotonic())
            self.connections.append(connection)
            try:
                async with asyncio.timeout(5):
                    reader, writer = await asyncio.open_connection(
                        *self.server, local_addr=(self.source_host, 0)
                    )
            except OSError:
                # Reset by the server before the connect completed here: refused too.
                connection.closed_at = time.monotonic()
                self.connect_failures += 1
                continue
            task = asyncio.get_running_loop().create_task(self._drip(connection, reader, writer))
            self._tasks.append(task)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def open_count(self) -> int:
        return sum(1 for c in self.connections if c.closed_at is None)

    @property
    def closed_count(self) -> int:
        return len(self.connections) - self.open_count

    async def wait_until_closed(self, at_least: int, timeout: float) -> None:
        """Until the server closed `at_least` connections; TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            while self.closed_count < at_least:
                self._changed.clear()
                await self._changed.wait()

    async def _drip(
        self, connection: SlowConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                byte = self.payload[connection.sent % len(self.payload) :][:1]
                writer.write(byte)
                connection.sent += 1
                try:
                    # Waiting for the server's answer paces the drip: nothing comes but a close.
                    async with asyncio.timeout(self.interval):
                        data = await reader.read(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if connection.closed_at is None:
                connection.closed_at = time.monotonic()
            self._changed.set()
            writer.close()
