"""The RTP/PS sender of one simulated call: UDP, or TCP in either role (gb28181.md §6.5, §8.1).

`MediaRoute.from_offer` reads from the platform's offer where the media goes: UDP to the
offer's `c=`/`m=` (`RTP/AVP`); over `TCP/RTP/AVP` the `a=setup` of the offer says what the
platform does, so the device does the opposite: `passive` (the default, the media server
listens) makes the device connect to `c=`:`m=`, retrying `connect_attempts` times
`connect_interval` apart (GB/T 28181-2022: ≥ 3 attempts, ≥ 1 s); `active` makes the device
listen on the port it puts in its answer, and stream once the platform connects. Misbehaving
on purpose, a device can refuse that connection (`refuse_media_connection`: the answered
port is bound but not listening) or connect anyway (`answer_setup_active`).

`MediaSender` is the asyncio shell around the pure pieces: a `FramePacer` says which frames
are due (`FrameScheduler` paces the cached loop in real time for live video; a playback's
`RecordPlayer` paces recorded frames and may pause, wait for a control — `wake()` — or
finish, which `on_finished` reports), each frame's PS packet is cut by `RtpPacketizer` (one
timestamp per frame, marker on the last packet, the negotiated SSRC), `PacketShaper`
applies the asked-for loss and reordering, and over TCP each packet gets its RFC 4571
length prefix. `open()` binds what the answer needs (the UDP socket or the listening TCP
port), `start()` begins sending (after the ACK), `close()` releases everything. One
stream's failure is logged and ends that stream only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from farmwatch.media.rfc4571 import frame as rfc4571_frame
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.simulator.frame_scheduler import FrameScheduler
from farmwatch.simulator.packet_shaper import PacketShaper
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.test_pattern import RTP_CLOCK_RATE, EncodedLoop
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup

__all__ = [
    "DISCARD_PORT",
    "FramePacer",
    "MediaRoute",
    "MediaSender",
    "SenderRole",
    "SenderState",
    "SentFrame",
]

log = logging.getLogger(__name__)

DISCARD_PORT = 9
"""The `m=` port of an answer whose author connects (RFC 4145 §4.1)."""


class SentFrame(Protocol):
    """One frame ready to packetise: its PS packet and 90 kHz timestamp."""

    @property
    def pts(self) -> int: ...

    def ps_packet(self) -> bytes: ...


class FramePacer(Protocol):
    """Which frames are due at `now` (pure; the sender passes the loop's time)."""

    def due(self, now: float) -> Sequence[SentFrame]: ...

    @property
    def next_deadline(self) -> float | None:
        """When to call `due` again; None: only after `MediaSender.wake()`."""

    @property
    def is_finished(self) -> bool:
        """Nothing more to send unless a control changes that (end of a recording)."""

    def key_frame_next(self) -> None: ...


PacerFactory = Callable[[float], FramePacer]
"""Builds the pacer of a stream that starts sending at the given loop time."""


class SenderRole(StrEnum):
    """What the device does for the media (decided by the offer)."""

    UDP = "udp"
    TCP_CONNECT = "tcp-connect"
    """Offer `a=setup:passive` (or none, or actpass): the device connects."""
    TCP_LISTEN = "tcp-listen"
    """Offer `a=setup:active`: the device listens and the platform connects."""


class SenderState(StrEnum):
    OPEN = "open"
    """Sockets ready, waiting for `start()` (the ACK)."""
    CONNECTING = "connecting"
    WAITING_FOR_PEER = "waiting-for-peer"
    SENDING = "sending"
    STOPPED = "stopped"
    """`stop_after` reached: nothing is sent any more, the call stays up."""
    FAILED = "failed"
    """Could not connect, nobody connected, or the peer went away."""
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class MediaRoute:
    """Where the media goes: `host`/`port` of the offer (unused when the device listens)."""

    role: SenderRole
    host: str
    port: int

    @property
    def transport(self) -> Transport:
        return Transport.UDP if self.role is SenderRole.UDP else Transport.TCP

    @classmethod
    def from_offer(cls, offer: SessionDescription, *, always_connect: bool = False) -> MediaRoute:
        """The device's route; `always_connect` ignores an offer `a=setup:active` (a misbehaving
        device that answers `a=setup:active` whatever it was offered)."""
        video = offer.video
        if video.transport is Transport.UDP:
            role = SenderRole.UDP
        elif video.setup is Setup.ACTIVE and not always_connect:
            role = SenderRole.TCP_LISTEN
        else:
            role = SenderRole.TCP_CONNECT
        return cls(role, offer.media_address, video.port)


class MediaSender:
    """Streams one cached loop to one platform media address."""

    def __init__(
        self,
        media: EncodedLoop,
        route: MediaRoute,
        settings: StreamSettings,
        *,
        host: str,
        ssrc: int,
        payload_type: int,
        rng: random.Random,
        on_change: Callable[[], None] = lambda: None,
        label: str = "",
        pacer: PacerFactory | None = None,
        on_finished: Callable[[], None] = lambda: None,
    ) -> None:
        self._media = media
        self._pacer_factory = pacer
        self._on_finished = on_finished
        self._woken = asyncio.Event()
        self._route = route
        self._settings = settings
        self._host = host
        self._on_change = on_change
        self._label = label
        self._packetizer = RtpPacketizer(
            ssrc, payload_type, settings.max_payload, first_sequence=rng.randrange(1 << 16)
        )
        shaping = rng if settings.seed is None else random.Random(settings.seed)
        self._shaper = PacketShaper(loss=settings.loss, reorder=settings.reorder, rng=shaping)
        self._state = SenderState.OPEN
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._refusing: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._peer_connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._local_port = DISCARD_PORT
        self.packets_sent = 0
        self.connect_failures = 0
        self.key_frames_on_request = 0
        self._pacer: FramePacer | None = None

    # -- observable state ----------------------------------------------------------------

    @property
    def state(self) -> SenderState:
        return self._state

    @property
    def ssrc(self) -> int:
        return self._packetizer.ssrc

    @property
    def route(self) -> MediaRoute:
        return self._route

    @property
    def local_port(self) -> int:
        """The answer's `m=` port: the UDP source port, the listening port, or 9."""
        return self._local_port

    @property
    def packets_dropped(self) -> int:
        return self._shaper.dropped

    @property
    def next_sequence(self) -> int:
        """RTP sequence number of the next packet (for an RTP-Info `seq`)."""
        return self._packetizer.next_sequence

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> int:
        """Bind the UDP socket or the listening TCP port; returns the port to answer."""
        loop = asyncio.get_running_loop()
        if self._route.role is SenderRole.UDP:
            transport, _ = await loop.create_datagram_endpoint(
                _IgnoreIncoming, local_addr=(self._host, 0)
            )
            self._udp = transport
            self._local_port = int(transport.get_extra_info("sockname")[1])
        elif self._route.role is SenderRole.TCP_LISTEN and self._settings.refuse_media_connection:
            # Bound but not listening: the port stays ours, and connecting to it is refused.
            self._refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._refusing.bind((self._host, 0))
            self._local_port = int(self._refusing.getsockname()[1])
        elif self._route.role is SenderRole.TCP_LISTEN:
            self._server = await asyncio.start_server(self._accepted, self._host, 0)
            self._local_port = int(self._server.sockets[0].getsockname()[1])
        return self._local_port

    def start(self) -> None:
        """Begin streaming (idempotent)."""
        if self._task is None and self._state is SenderState.OPEN:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def send_key_frame(self) -> None:
        """`IFameCmd`: the next frame sent is a key frame (as a camera answers it)."""
        if self._pacer is not None:
            self._pacer.key_frame_next()
            self.key_frames_on_request += 1

    def switch_media(self, media: EncodedLoop) -> None:
        """Stream `media` (the same spec in another picture mode) from the next key frame
        on; a playback's pacer keeps its recording."""
        self._media = media
        if isinstance(self._pacer, FrameScheduler):
            self._pacer.switch_loop(media)

    def wake(self) -> None:
        """The pacer changed (a playback control): ask it again now."""
        self._woken.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._server is not None:
            self._server.close()
        if self._refusing is not None:
            self._refusing.close()
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._writer.wait_closed()
        self._set_state(SenderState.CLOSED)

    # -- the stream --------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            if await self._ready():
                await self._stream()
        except (OSError, TimeoutError) as error:
            # Isolation boundary: one stream. The peer went away or stopped reading.
            log.info("%s: media stopped: %r", self._label, error)
            self._set_state(SenderState.FAILED)
        except Exception:
            log.exception("%s: media sender failed", self._label)
            self._set_state(SenderState.FAILED)

    async def _ready(self) -> bool:
        """Have somewhere to send: UDP at once; TCP once connected either way."""
        if self._route.role is SenderRole.TCP_CONNECT:
            return await self._connect()
        if self._route.role is SenderRole.TCP_LISTEN:
            self._set_state(SenderState.WAITING_FOR_PEER)
            try:
                async with asyncio.timeout(self._settings.accept_timeout):
                    await self._peer_connected.wait()
            except TimeoutError:
                log.warning("%s: nobody connected for media", self._label)
                self._set_state(SenderState.FAILED)
                return False
        return True

    async def _connect(self) -> bool:
        self._set_state(SenderState.CONNECTING)
        settings, route = self._settings, self._route
        for attempt in range(1, settings.connect_attempts + 1):
            try:
                async with asyncio.timeout(settings.write_timeout):
                    # From the device's own address: the platform takes media only from it.
                    source = None if self._host in ("", "0.0.0.0", "::") else (self._host, 0)
                    _, self._writer = await asyncio.open_connection(
                        route.host, route.port, local_addr=source
                    )
                return True
            except (OSError, TimeoutError) as error:
                self.connect_failures += 1
                log.info("%s: media connect %d/%d to %s:%d failed: %r", self._label, attempt,
                         settings.connect_attempts, route.host, route.port, error)  # fmt: skip
                self._on_change()
            if attempt < settings.connect_attempts:
                await asyncio.sleep(settings.connect_interval)
        log.warning("%s: giving up connecting media to %s:%d", self._label, route.host, route.port)
        self._set_state(SenderState.FAILED)
        return False

    async def _stream(self) -> None:
        """Send each frame when it is due, until cancelled or `stop_after` is reached."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        stop_after = self._settings.stop_after
        stop_at = start + stop_after if stop_after is not None else None
        pacer = self._pacer = self._new_pacer(start)
        self._set_state(SenderState.SENDING)
        was_finished = False
        while stop_at is None or loop.time() < stop_at:
            for due in pacer.due(loop.time()):
                packets = self._packetizer.packetize(due.ps_packet(), due.pts)
                self._send(self._shaper.shape(packets))
            if self._writer is not None:
                async with asyncio.timeout(self._settings.write_timeout):
                    await self._writer.drain()
            if pacer.is_finished and not was_finished:
                self._send(self._shaper.flush())
                self._on_finished()
            was_finished = pacer.is_finished
            wake = pacer.next_deadline
            if stop_at is not None:
                wake = stop_at if wake is None else min(wake, stop_at)
            await self._wait(None if wake is None else wake - loop.time())
        self._send(self._shaper.flush())
        log.info("%s: stopped sending after %.1f s (call kept)", self._label, stop_after)
        self._set_state(SenderState.STOPPED)

    def _new_pacer(self, start: float) -> FramePacer:
        if self._pacer_factory is not None:
            return self._pacer_factory(start)
        restart = self._settings.restart_timestamps
        return FrameScheduler(
            self._media,
            start,
            restart_every=round(restart * RTP_CLOCK_RATE) if restart is not None else None,
        )

    async def _wait(self, seconds: float | None) -> None:
        """Until `seconds` have passed (None: no limit) or `wake()` is called."""
        if seconds is not None and seconds <= 0:
            await asyncio.sleep(0)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._woken.wait()
        self._woken.clear()

    def _send(self, packets: list[bytes]) -> None:
        if not packets:
            return
        if self._writer is not None:
            self._writer.write(b"".join(rfc4571_frame(packet) for packet in packets))
        elif self._udp is not None:
            destination = (self._route.host, self._route.port)
            for packet in packets:
                self._udp.sendto(packet, destination)
        self.packets_sent += len(packets)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The platform connected to the listening port: one connection per stream."""
        if self._writer is not None or self._state is SenderState.CLOSED:
            writer.close()
            return
        log.info("%s: platform connected for media from %s", self._label,
                 writer.get_extra_info("peername"))  # fmt: skip
        self._writer = writer
        if self._server is not None:
            self._server.close()
        self._peer_connected.set()
        self._on_change()

    def _set_state(self, state: SenderState) -> None:
        if state is not self._state:
            self._state = state
            self._on_change()


class _IgnoreIncoming(asyncio.DatagramProtocol):
    """The sending socket: whatever comes back (RTCP, ICMP errors) is ignored."""

    def error_received(self, exc: Exception) -> None:
        log.debug("media socket error: %r", exc)
