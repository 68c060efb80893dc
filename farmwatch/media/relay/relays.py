"""A node's relays to upper platforms, by relay ID: their ports, lives and ends.

Owns the relays of one `LocalMediaNode` (`RelayOutput`), keyed by the ID the platform gave
(the cascade keys a relay by the upper's dialog, so one stream may have several, to several
uppers or several dialogs of one, each independent). Each relay takes a port of the node's
pool (bound on the node's media host) for its whole life; `RelayInfo` gives the advertised
host and that port for our SDP answer. A relay that ends by itself is forgotten, its socket
closed and port released, and `on_closed(relay_id, reason)` tells the platform;
`close` (the platform asked) tells nobody. Every task is owned; `close_all` ends them all.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from farmwatch.media.errors import MediaError
from farmwatch.media.ports import PortPool
from farmwatch.media.relay.output import RelayOutput
from farmwatch.media.relay.spec import RelayEndReason, RelayInfo, RelaySpec, RelayStats
from farmwatch.media.settings import MediaSettings
from farmwatch.media.source_filter import normalize_host
from farmwatch.media.stream import Stream

__all__ = ["NodeRelays"]

log = logging.getLogger(__name__)

_BIND_ATTEMPTS = 8
_CLOSE_TIMEOUT = 5.0


class NodeRelays:
    """See the module docstring."""

    def __init__(
        self,
        settings: MediaSettings,
        ports: PortPool,
        on_closed: Callable[[str, str], None],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._ports = ports
        self._on_closed = on_closed
        self._rng = rng if rng is not None else random.SystemRandom()
        self._relays: dict[str, tuple[RelayOutput, int]] = {}  # relay ID → (relay, pool port)
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._relays)

    async def open(self, stream: Stream, relay_id: str, spec: RelaySpec) -> RelayInfo:
        """Take a port for the relay and attach it to `stream` (nothing sent before `start`).
        Raises `MediaError` (ID taken, no address, no bindable port), `PortsExhausted`,
        `StreamClosedError`."""
        if relay_id in self._relays:
            raise MediaError(f"relay {relay_id} is open already")
        if normalize_host(spec.host) is None:
            raise MediaError(
                f"relay {relay_id}: the upper's address {spec.host!r} is no IP address"
            )
        settings = self._settings
        last_error: OSError | None = None
        for _ in range(min(_BIND_ATTEMPTS, self._ports.capacity)):
            port = self._ports.allocate()
            relay = RelayOutput(
                relay_id, spec, stream, settings,
                local_host=settings.host, local_port=port,
                first_sequence=self._rng.randrange(0x10000), on_ended=self._ended,
            )  # fmt: skip
            try:
                await relay.open()
            except OSError as error:  # another program holds it: try the next one
                log.warning("media: relay %s cannot use port %d: %s", relay_id, port, error)
                self._ports.release(port)
                last_error = error
                continue
            except BaseException:
                self._ports.release(port)
                raise
            if relay_id in self._relays:  # opened twice at once: keep the first
                await relay.close()
                self._ports.release(port)
                raise MediaError(f"relay {relay_id} is open already")
            self._relays[relay_id] = (relay, port)
            host = settings.advertised_host or settings.host
            return RelayInfo(relay_id, host, relay.local_port)
        raise MediaError(f"relay {relay_id}: no bindable port ({last_error})")

    def start(self, relay_id: str) -> None:
        self._get(relay_id).start()

    async def close(self, relay_id: str) -> None:
        """Stop and forget the relay; a no-op for an unknown (or ended) one."""
        entry = self._relays.pop(relay_id, None)
        if entry is not None:
            await self._release(*entry)

    def stats(self, relay_id: str) -> RelayStats:
        return self._get(relay_id).stats()

    async def close_all(self) -> None:
        for relay_id in list(self._relays):
            await self.close(relay_id)
        if self._tasks:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _get(self, relay_id: str) -> RelayOutput:
        entry = self._relays.get(relay_id)
        if entry is None:
            raise MediaError(f"relay {relay_id} is not open")
        return entry[0]

    def _ended(self, relay: RelayOutput, reason: RelayEndReason) -> None:
        entry = self._relays.get(relay.relay_id)
        if entry is None or entry[0] is not relay:
            return
        del self._relays[relay.relay_id]
        self._spawn(self._release(*entry))
        try:
            self._on_closed(relay.relay_id, reason.value)
        except Exception:
            log.exception("media: listener failed on relay %s ending", relay.relay_id)

    async def _release(self, relay: RelayOutput, port: int) -> None:
        try:
            await relay.close()
        except Exception:
            log.exception("media: closing relay %s failed", relay.relay_id)
        finally:
            self._ports.release(port)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
