"""Voice to a device's loudspeaker: G.711A frames as RTP, paced in real time (gb28181.md §4.13).

Owns the sending side of a voice broadcast: `AudioSender` opens the socket the device's audio
INVITE asked for (reusing the relay's senders: UDP to its `c=`:`m=`, TCP connecting to it
when it listens, TCP listening when it connects; RFC 4571 framing over TCP), takes A-law
bytes from its source (`feed`; a file all at once, a microphone as it speaks) and sends one
20 ms frame every 20 ms of the loop clock (`G711Packetizer`: raw PT 8 or PS-in-RTP). A
source that runs dry stops the clock; the next bytes start a new talk spurt. A live source
is kept at most `max_backlog` bytes behind (older sound is dropped: a voice must not lag).
`end_of_input` and the last frame sent complete `drained`. The socket's end (the device
closed TCP, never connected — `CONNECT_TIMEOUT` when it should connect to us) is reported
to the `AudioSenderListener`. In two-way talk the same socket carries the device's voice
back: `on_received` gets it as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from farmwatch.media.g711_packetizer import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    G711Framing,
    G711Packetizer,
    frames_of,
)
from farmwatch.media.relay.sender import RelaySender
from farmwatch.media.relay.spec import RelayEndReason, RelayTransport
from farmwatch.media.relay.tcp_sender import TcpConnectSender, TcpListenSender
from farmwatch.media.relay.udp_sender import UdpRelaySender
from farmwatch.media.rfc4571 import frame as rfc4571_frame

__all__ = ["AudioSender", "AudioSenderListener", "AudioTarget", "SenderState"]

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
CONNECT_ATTEMPTS = 3
CONNECT_INTERVAL = 1.0
CONNECT_TIMEOUT = 10.0
"""Seconds a listening sender waits for the device's connection once started."""


class SenderState(enum.StrEnum):
    OPEN = "open"
    SENDING = "sending"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class AudioTarget:
    """The device's audio INVITE, as media needs it."""

    host: str
    port: int
    transport: RelayTransport
    ssrc: int
    framing: G711Framing
    payload_type: int


class AudioSenderListener(Protocol):
    def audio_sender_ended(self, reason: RelayEndReason) -> None:
        """The socket ended by itself (the device closed TCP, never connected...)."""
        ...


class AudioSender:
    """See the module docstring; one per device audio dialog."""

    def __init__(
        self,
        target: AudioTarget,
        *,
        local_host: str,
        listener: AudioSenderListener,
        label: str,
        local_port: int = 0,
        max_backlog: int | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        on_received: Callable[[bytes], None] | None = None,
    ) -> None:
        """`on_received` takes what the device sends on the socket (two-way talk: its voice;
        datagrams over UDP, the raw byte stream over TCP)."""
        self.target = target
        self._on_received = on_received
        self._listener = listener
        self._label = label
        self._packetizer = G711Packetizer(target.ssrc, target.framing, target.payload_type)
        self._sender = self._new_sender(local_host, local_port)
        self._max_backlog = max_backlog
        self._connect_timeout = connect_timeout
        self._buffer = bytearray()
        self._has_input = asyncio.Event()
        self._connected = asyncio.Event()
        self._input_ended = False
        self.drained = asyncio.Event()
        """Set once `end_of_input` was called and every byte fed was sent."""
        self._task: asyncio.Task[None] | None = None
        self._connect_timer: asyncio.TimerHandle | None = None
        self.state = SenderState.OPEN
        self.frames_sent = 0
        self.bytes_sent = 0
        """A-law bytes sent (the audio, without RTP, PS or framing)."""
        self.bytes_dropped = 0

    @property
    def local_port(self) -> int:
        return self._sender.local_port

    @property
    def is_stream(self) -> bool:
        return self.target.transport is not RelayTransport.UDP

    async def open(self) -> int:
        """Bind (and listen, or start connecting); the local port for the answer's `m=`."""
        await self._sender.open()
        return self._sender.local_port

    def start(self) -> None:
        """Start the clock: frames go out as the source feeds them."""
        if self._task is None and self.state is SenderState.OPEN:
            self.state = SenderState.SENDING
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run())
            if self.target.transport is RelayTransport.TCP_LISTEN:
                self._connect_timer = loop.call_later(self._connect_timeout, self._connect_missing)

    def set_format(self, ssrc: int, framing: G711Framing, payload_type: int) -> None:
        """Before `start`: how frames go out. Two-way talk listens (TCP) before the device's
        answer says which format it takes."""
        if self.state is not SenderState.OPEN:
            raise RuntimeError("the audio format is fixed once sending started")
        self.target = replace(self.target, ssrc=ssrc, framing=framing, payload_type=payload_type)
        self._packetizer = G711Packetizer(ssrc, framing, payload_type)

    def set_max_backlog(self, max_backlog: int | None) -> None:
        """Keep a live source at most `max_backlog` bytes behind (None: no bound)."""
        self._max_backlog = max_backlog

    def feed(self, alaw: bytes) -> None:
        if self.state is SenderState.CLOSED or self._input_ended or not alaw:
            return
        self._buffer += alaw
        if self._max_backlog is not None and len(self._buffer) > self._max_backlog:
            excess = len(self._buffer) - self._max_backlog
            del self._buffer[:excess]
            self.bytes_dropped += excess
        self._has_input.set()

    def end_of_input(self) -> None:
        """The source has nothing more: `drained` once the buffer is sent."""
        self._input_ended = True
        self._has_input.set()
        if not self._buffer:
            self.drained.set()

    async def close(self) -> None:
        if self.state is SenderState.CLOSED:
            return
        self.state = SenderState.CLOSED
        if self._connect_timer is not None:
            self._connect_timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._sender.close()
        self.drained.set()

    # -- SenderListener (the socket's reports) ------------------------------------------

    def sender_connected(self) -> None:
        self._connected.set()

    def _connect_missing(self) -> None:
        if not self._connected.is_set() and self.state is not SenderState.CLOSED:
            log.info("%s: the device did not connect in %g s", self._label,
                     self._connect_timeout)  # fmt: skip
            self._listener.audio_sender_ended(RelayEndReason.CONNECT_TIMEOUT)

    def sender_refused(self) -> None:
        log.info("%s: the device refused a datagram (ICMP port unreachable)", self._label)

    def sender_rtcp(self, data: bytes) -> None:
        """RTCP from the device: nothing to do with it (the dialog says whether it listens)."""

    def sender_ended(self, reason: RelayEndReason) -> None:
        log.info("%s: audio connection ended (%s)", self._label, reason.value)
        if self.state is not SenderState.CLOSED:
            self._listener.audio_sender_ended(reason)

    # -- the clock ------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        await self._connected.wait()
        next_at: float | None = None
        talk_spurt = True
        while True:
            if len(self._buffer) < FRAME_SAMPLES and not (self._input_ended and self._buffer):
                if self._input_ended:
                    self.drained.set()
                    return
                self._has_input.clear()
                await self._has_input.wait()
                next_at, talk_spurt = None, True  # a pause: the next sound starts anew
                continue
            now = loop.time()
            if next_at is None or next_at < now - 5 * FRAME_SECONDS:
                next_at = now  # start, or the loop was held up: do not burst to catch up
            if next_at > now:
                await asyncio.sleep(next_at - now)  # the 20 ms pacing of the audio clock
            chunk = bytes(self._buffer[:FRAME_SAMPLES])
            del self._buffer[:FRAME_SAMPLES]
            frame = frames_of(chunk)[0]
            self._send(self._packetizer.packetize(frame, talk_spurt=talk_spurt))
            self.frames_sent += 1
            self.bytes_sent += len(frame)
            talk_spurt = False
            next_at += FRAME_SECONDS

    def _send(self, packets: list[bytes]) -> None:
        if self.is_stream:
            self._sender.write(b"".join(rfc4571_frame(packet) for packet in packets))
        else:
            self._sender.send_packets(packets)

    def _new_sender(self, local_host: str, local_port: int) -> RelaySender:
        target, label = self.target, self._label
        match target.transport:
            case RelayTransport.UDP:
                return UdpRelaySender(
                    target.host, target.port, local_host=local_host, local_port=local_port,
                    listener=self, label=label, on_data=self._on_received,
                )  # fmt: skip
            case RelayTransport.TCP_CONNECT:
                return TcpConnectSender(
                    target.host, target.port, local_host=local_host, local_port=local_port,
                    listener=self, label=label, attempts=CONNECT_ATTEMPTS,
                    interval=CONNECT_INTERVAL, on_data=self._on_received,
                )  # fmt: skip
            case RelayTransport.TCP_LISTEN:
                return TcpListenSender(
                    target.host, target.port, local_host=local_host, local_port=local_port,
                    listener=self, label=label, on_data=self._on_received,
                )  # fmt: skip
