"""The media manager: RTP ports, receivers and one `Stream` per key (DESIGN.md "Live view").

Owns the lifecycle of media ingest for the platform (STYLE B7): `open_stream` allocates a port
from the pool and opens the receiver **before** the platform sends the INVITE (gb28181.md §10
item 5), returning what the SDP offer needs; `connect_active` dials the device after a
`a=setup:passive` answer (§6.5), `listen_active` waits for a device that answered
`a=setup:active` regardless; `expect_ssrc` follows the answer's `y=` (§6.3). Media is
taken only from the device's hosts: the ones `open_stream` is given (where its SIP comes
from) and the answer's `c=` (`allow_source`), unless `accept_any_source` (issue 13 item 5).
One stream per key: a second `open_stream` for a running key returns the running stream.
A stream that closes by itself (idle, start timeout, media stopped, peer closed) is torn
down here (receiver closed, port released) and reported to the `MediaListener` so the
platform can BYE the device. A playback of the platform's own recording is a stream like
these whose receiver is a `RecordingFeed` reading segment files (`open_recorded_stream`, no
port; `seek_recorded_stream`); it closes by itself at the recording's end. Every task is
owned; `close()` closes every stream and releases every port.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from farmwatch.media.errors import MediaError
from farmwatch.media.ingest import IngestStats
from farmwatch.media.ports import PortPool
from farmwatch.media.receiver import Receiver
from farmwatch.media.recording_feed import RecordingFeed
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.tcp_receiver import TcpActiveReceiver, TcpPassiveReceiver
from farmwatch.media.udp_receiver import SharedPortDemux, UdpReceiver

if TYPE_CHECKING:
    from farmwatch.media.recording_reader import RecordingPart

__all__ = [
    "IngestTotals",
    "MediaListener",
    "MediaManager",
    "MediaStats",
    "MediaTransport",
    "OpenedStream",
]

log = logging.getLogger(__name__)

_BIND_ATTEMPTS = 8


class MediaTransport(enum.StrEnum):
    """How the device sends media, named from the platform side (wvp's names, §6.5)."""

    UDP = "udp"
    TCP_PASSIVE = "tcp-passive"
    """We listen (offer `a=setup:passive`); the device connects. The GB/T 28181 default."""
    TCP_ACTIVE = "tcp-active"
    """We connect (offer `a=setup:active`) to the address of the device's answer."""


@dataclass(frozen=True, slots=True)
class OpenedStream:
    """What `open_stream` gives the platform for its SDP offer."""

    stream_key: str
    stream: Stream
    transport: MediaTransport
    host: str
    """For the offer's `c=`: `advertised_host`, else `host` (a wildcard must be replaced)."""
    port: int
    """For the offer's `m=` line."""
    is_new: bool
    """False when a running stream was returned (send no second INVITE)."""


@dataclass(frozen=True, slots=True)
class IngestTotals:
    """RTP ingest counters summed over every receiver the manager ever opened."""

    packets: int = 0
    bytes: int = 0
    malformed: int = 0
    rejected_ssrc: int = 0
    rejected_source: int = 0
    rejected_connections: int = 0
    lost: int = 0
    late: int = 0
    duplicates: int = 0
    frames: int = 0

    def plus(self, counts: IngestStats | IngestTotals) -> IngestTotals:
        """These totals with a receiver's counters (or other totals) added."""
        return IngestTotals(
            *(getattr(self, name) + getattr(counts, name) for name in _TOTAL_FIELDS)
        )


_TOTAL_FIELDS = tuple(field.name for field in dataclasses.fields(IngestTotals))


@dataclass(frozen=True, slots=True)
class MediaStats:
    """What the media part holds now, and its ingest counters since start."""

    streams: int
    ports_in_use: int
    ports_capacity: int
    ingest: IngestTotals


class MediaListener(Protocol):
    """The platform side (injected): told when a stream closed by itself."""

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None: ...


@dataclass(slots=True)
class _Entry:
    key: str
    transport: MediaTransport | None
    """None for a stream fed from recorded files."""
    ready: asyncio.Future[OpenedStream | None]
    """The opened device stream; None for a recording."""
    stream: Stream | None = None
    receiver: Receiver | None = None
    port: int | None = None  # allocated from the pool (None on the shared port)
    teardown: asyncio.Task[None] | None = None


class MediaManager:
    """Receivers and streams of the whole process; see the module docstring."""

    def __init__(self, settings: MediaSettings, *, listener: MediaListener | None = None) -> None:
        self._settings = settings
        self._listener = listener
        start, end = settings.port_bounds
        self._ports = PortPool(start, end)
        self._entries: dict[str, _Entry] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._shared: SharedPortDemux | None = None
        self._is_started = self._is_closed = False
        self._closed_totals = IngestTotals()  # of receivers already released

    @property
    def ports(self) -> PortPool:
        return self._ports

    @property
    def streams(self) -> Mapping[str, Stream]:
        """Running (and opening) streams by key."""
        live = {key: e.stream for key, e in self._entries.items() if e.stream is not None}
        return MappingProxyType(live)

    @property
    def stats(self) -> MediaStats:
        totals = self._closed_totals
        for entry in self._entries.values():
            if entry.receiver is not None:
                totals = totals.plus(entry.receiver.stats)
        return MediaStats(len(self._entries), self._ports.in_use, self._ports.capacity, totals)

    async def start(self) -> None:
        """Open the shared UDP port when configured."""
        if self._is_started:
            return
        self._is_started = True
        if self._settings.shared_port:
            self._shared = SharedPortDemux(self._settings, port=self._settings.shared_port)
            await self._shared.open()
            log.info("media: shared RTP port %d", self._shared.local_port)

    async def close(self) -> None:
        """Close every stream and receiver, release every port. Idempotent."""
        self._is_closed = True
        for key in list(self._entries):
            await self.close_stream(key, CloseReason.SHUTDOWN)
        if self._tasks:
            async with asyncio.timeout(10.0):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._shared is not None:
            await self._shared.close()
            self._shared = None

    def get(self, stream_key: str) -> Stream | None:
        entry = self._entries.get(stream_key)
        return entry.stream if entry is not None else None

    def receiver_stats(self, stream_key: str) -> IngestStats | None:
        """The ingest counters of the stream's receiver (rejected sources and SSRCs, loss)."""
        entry = self._entries.get(stream_key)
        if entry is None or entry.receiver is None or entry.stream is None:
            return None
        return entry.receiver.stats

    async def open_stream(
        self,
        stream_key: str,
        transport: MediaTransport,
        expected_ssrc: int | None,
        *,
        allowed_hosts: Collection[str] | None,
    ) -> OpenedStream:
        """Open (or return the running) stream for `stream_key`; the receiver is listening on
        return. Media is taken only from `allowed_hosts` (and later `allow_source`); None:
        from any host (no device address known). Raises `PortsExhausted`, `MediaError` (could
        not bind) or `OSError`."""
        if self._is_closed:
            raise MediaError("the media manager is closed")
        entry = self._entries.get(stream_key)
        if entry is not None:
            running = await asyncio.shield(entry.ready)
            if running is None:
                raise MediaError(f"stream {stream_key} plays a recording")
            return dataclasses.replace(running, is_new=False)
        entry = _Entry(stream_key, transport, asyncio.get_running_loop().create_future())
        self._entries[stream_key] = entry
        hosts = None if allowed_hosts is None else list(allowed_hosts)
        try:
            opened = await self._open(entry, expected_ssrc, hosts)
        except BaseException as error:
            await self._undo(entry, error)
            raise
        entry.ready.set_result(opened)
        sources = "any host" if hosts is None or self._settings.accept_any_source else hosts
        log.info("media: stream %s open (%s, port %d, media from %s)", stream_key, transport,
                 opened.port, sources)  # fmt: skip
        return opened

    async def open_recorded_stream(
        self, stream_key: str, parts: Sequence[RecordingPart], start: datetime
    ) -> Stream:
        """Open a stream fed from recorded segment files (`RecordingFeed`), live on return:
        its first key frame (at or before `start`) is held. Raises `MediaError` when the key
        is taken or the files hold no frame from `start` on."""
        if self._is_closed:
            raise MediaError("the media manager is closed")
        if stream_key in self._entries:
            raise MediaError(f"stream {stream_key} is open already")
        entry = _Entry(stream_key, None, asyncio.get_running_loop().create_future())
        self._entries[stream_key] = entry
        try:
            stream = entry.stream = Stream(
                stream_key, self._settings, on_closed=self._stream_closed
            )
            feed = RecordingFeed(stream, parts, start, label=f"recording:{stream_key}")
            entry.receiver = feed
            self._connect(stream, feed)
            stream.on_scale = feed.set_scale
            feed.on_moved = stream.source_moved
            await feed.open()
        except BaseException as error:
            await self._undo(entry, error)
            raise
        entry.ready.set_result(None)
        log.info("media: stream %s open (recording from %s, %d files)", stream_key,
                 start.isoformat(), len(parts))  # fmt: skip
        return stream

    async def seek_recorded_stream(self, stream_key: str, start: datetime) -> None:
        """Play a recorded stream from the key frame at or before `start` on."""
        entry = self._entries.get(stream_key)
        if entry is None or not isinstance(entry.receiver, RecordingFeed):
            raise MediaError(f"stream {stream_key} is no open recording")
        await entry.receiver.seek(start)

    def expect_ssrc(self, stream_key: str, ssrc: int) -> None:
        """Follow the SDP answer's `y=` (gb28181.md §6.3)."""
        entry = self._entries.get(stream_key)
        if entry is not None and entry.receiver is not None:
            entry.receiver.expect_ssrc(ssrc)

    def allow_source(self, stream_key: str, host: str) -> None:
        """Take the stream's media from `host` too: the `c=` of the device's answer (§6.6)."""
        entry = self._entries.get(stream_key)
        if entry is None or entry.receiver is None:
            return
        if not entry.receiver.allow_host(host):
            log.warning("media: stream %s: answer address %r is no IP address; media is "
                        "taken from the device's SIP address only", stream_key, host)  # fmt: skip

    def connect_active(self, stream_key: str, host: str, port: int) -> None:
        """TCP active: dial the device's answered `c=`/`m=` (retries per GB/T 28181-2022)."""
        entry = self._entries.get(stream_key)
        if entry is None or not isinstance(entry.receiver, TcpActiveReceiver):
            raise MediaError(f"stream {stream_key} is not an open TCP-active stream")
        entry.receiver.connect(host, port)

    async def listen_active(self, stream_key: str) -> None:
        """TCP active, but the device answered `a=setup:active` too (RFC 4145 §4.1 forbids it)
        and will connect to the offer's port: listen there. Raises `OSError` (cannot bind)."""
        entry = self._entries.get(stream_key)
        if entry is None or not isinstance(entry.receiver, TcpActiveReceiver):
            raise MediaError(f"stream {stream_key} is not an open TCP-active stream")
        await entry.receiver.listen()

    async def close_stream(
        self, stream_key: str, reason: CloseReason = CloseReason.REQUESTED
    ) -> None:
        """Close the stream (sinks get `end`), its receiver and port; unknown keys are ignored.

        The listener is not told: the caller asked for it."""
        entry = self._entries.get(stream_key)
        if entry is None:
            return
        await asyncio.wait([entry.ready])  # still opening: let the receiver bind first
        if entry.stream is not None:
            entry.stream.close(reason)
        if entry.teardown is not None:
            async with asyncio.timeout(10.0):
                await asyncio.shield(entry.teardown)

    # ---- internals ----

    async def _open(
        self, entry: _Entry, expected_ssrc: int | None, hosts: list[str] | None
    ) -> OpenedStream:
        stream = Stream(entry.key, self._settings, on_closed=self._stream_closed)
        entry.stream = stream
        settings = self._settings
        if entry.transport is MediaTransport.UDP and self._shared is not None:
            if expected_ssrc is None:
                raise MediaError("the shared RTP port needs an SSRC")
            entry.receiver = self._shared.register(expected_ssrc, stream, allowed_hosts=hosts)
            port = await entry.receiver.open()
        else:
            port = await self._open_on_pool_port(entry, stream, expected_ssrc, hosts)
        receiver = entry.receiver
        assert receiver is not None and entry.transport is not None
        self._connect(stream, receiver)
        stream.on_relayed = receiver.set_relayed  # RTP carries PS: relays re-send it as is
        host = settings.advertised_host or settings.host
        return OpenedStream(entry.key, stream, entry.transport, host, port, True)

    @staticmethod
    def _connect(stream: Stream, receiver: Receiver) -> None:
        """Stream → source: who watches, pauses and holds it."""
        stream.on_watched = receiver.set_watched
        stream.on_paused = receiver.set_paused
        stream.on_backpressure = receiver.hold
        receiver.set_watched(False)  # no sink yet: only keep the GOP once media started

    async def _undo(self, entry: _Entry, error: BaseException) -> None:
        """An open failed: forget the entry, release what it took, tell concurrent openers."""
        if self._entries.get(entry.key) is entry:
            del self._entries[entry.key]
        if entry.stream is not None:
            entry.stream.close(CloseReason.SHUTDOWN)
        await self._release(entry)
        entry.ready.set_exception(error)
        entry.ready.exception()  # retrieved: concurrent openers may not exist

    async def _open_on_pool_port(
        self, entry: _Entry, stream: Stream, expected_ssrc: int | None, hosts: list[str] | None
    ) -> int:
        last_error: OSError | None = None
        for _ in range(min(_BIND_ATTEMPTS, self._ports.capacity)):
            port = self._ports.allocate()
            receiver = self._new_receiver(entry, stream, expected_ssrc, port, hosts)
            try:
                await receiver.open()
            except OSError as error:  # another program holds it: try the next one
                log.warning("media: cannot bind port %d: %s", port, error)
                self._ports.release(port)
                last_error = error
                continue
            entry.receiver, entry.port = receiver, port
            return port
        raise MediaError(f"no bindable RTP port ({last_error})")

    def _new_receiver(
        self,
        entry: _Entry,
        stream: Stream,
        expected_ssrc: int | None,
        port: int,
        hosts: list[str] | None,
    ) -> Receiver:
        label = f"{entry.transport}:{entry.key}"
        kinds: dict[MediaTransport, type[UdpReceiver | TcpPassiveReceiver | TcpActiveReceiver]]
        kinds = {
            MediaTransport.UDP: UdpReceiver,
            MediaTransport.TCP_PASSIVE: TcpPassiveReceiver,
            MediaTransport.TCP_ACTIVE: TcpActiveReceiver,
        }
        assert entry.transport is not None
        kind = kinds[entry.transport]
        return kind(
            self._settings,
            stream,
            expected_ssrc=expected_ssrc,
            allowed_hosts=hosts,
            port=port,
            label=label,
        )

    def _stream_closed(self, stream: Stream, reason: CloseReason) -> None:
        entry = self._entries.get(stream.key)
        if entry is None or entry.stream is not stream or entry.teardown is not None:
            return
        del self._entries[stream.key]
        entry.teardown = asyncio.get_running_loop().create_task(self._teardown(entry, reason))
        self._tasks.add(entry.teardown)
        entry.teardown.add_done_callback(self._tasks.discard)

    async def _teardown(self, entry: _Entry, reason: CloseReason) -> None:
        await self._release(entry)
        if entry.stream is not None:
            await entry.stream.aclose(reason)
        if self._listener is None or reason in (CloseReason.REQUESTED, CloseReason.SHUTDOWN):
            return
        try:
            async with asyncio.timeout(10.0):
                await self._listener.stream_closed(entry.key, reason)
        except Exception:
            log.exception("media: listener failed on stream %s closing", entry.key)

    async def _release(self, entry: _Entry) -> None:
        receiver, entry.receiver = entry.receiver, None
        if receiver is not None:
            self._closed_totals = self._closed_totals.plus(receiver.stats)
            try:
                await receiver.close()
            except Exception:
                log.exception("media: closing the receiver of %s failed", entry.key)
        if entry.port is not None:
            self._ports.release(entry.port)
            entry.port = None
