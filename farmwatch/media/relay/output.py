"""One relay of a stream to an upper platform: a PS sink on the stream, RTP out of a socket.

Owns the life of a relay (gb28181.md §9.2 items 3-5; field-notes §2.4), in two phases
because our port goes into the 200 OK while sending starts after the ACK:

* `open`: the sender takes the relay's port (UDP bound and connected; TCP listening, or
  dialing the upper), and the relay attaches to its stream as a `PsSink`. From then on the
  stream counts it like a viewer (it does not idle-close) yet stays undemultiplexed: the
  relay gets each frame's PS bytes as received. Nothing is sent yet.
* `start`: once the path is up too (UDP at once; TCP when connected or accepted) the relay
  sends the stream's cached start — the PS frames since the last key frame — then each
  live frame, re-packetized under its own sequence numbers, SSRC and payload type
  (`RelayPacketizer`). A stream without PS (a recording played from files) is relayed by
  muxing its frames (`EsToPs`), from its cached start on as for any sink.
* `close` (the platform: BYE from the upper), or the relay ends by itself and says why
  through `on_ended`: the stream ended, the TCP connection closed, ICMP unreachable or RTCP
  silence (`RelayLiveness`), a TCP upper that never connected.

A socket that cannot keep up makes the relay drop frames up to the next key frame
(`RelayFlow`), never buffer without bound, never block the loop; other relays and viewers
of the stream never notice. One loop timer follows `RelayLiveness.next_deadline()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from farmwatch.media.errors import RtpParseError
from farmwatch.media.frames import EsFrame
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.relay.es_muxing import EsToPs
from farmwatch.media.relay.flow import RelayFlow
from farmwatch.media.relay.liveness import RelayLiveness
from farmwatch.media.relay.packetizer import RelayPacketizer
from farmwatch.media.relay.sender import RelaySender
from farmwatch.media.relay.spec import (
    RelayEndReason,
    RelaySpec,
    RelayState,
    RelayStats,
    RelayTransport,
)
from farmwatch.media.relay.tcp_sender import TcpConnectSender, TcpListenSender
from farmwatch.media.relay.udp_sender import UdpRelaySender
from farmwatch.media.rtp import RtcpBye, parse_rtcp
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import PsSubscription, Stream, Subscription

__all__ = ["RelayOutput"]

log = logging.getLogger(__name__)

_RTP_HEADER_SIZE = 12


class RelayOutput:
    """One relay; see the module docstring."""

    def __init__(
        self,
        relay_id: str,
        spec: RelaySpec,
        stream: Stream,
        settings: MediaSettings,
        *,
        local_host: str,
        local_port: int,
        first_sequence: int,
        on_ended: Callable[[RelayOutput, RelayEndReason], None],
    ) -> None:
        self.relay_id = relay_id
        self.spec = spec
        self._stream = stream
        self._settings = settings
        self._on_ended = on_ended
        self._label = f"relay {relay_id} of {stream.key} to {spec.host}:{spec.port}"
        self._loop = asyncio.get_running_loop()
        self._packetizer = RelayPacketizer(
            spec.ssrc, spec.payload_type, first_sequence=first_sequence
        )
        self._flow = RelayFlow(max_backlog=settings.relay_backlog_bytes)
        self._liveness = RelayLiveness(
            rtcp_timeout=settings.relay_rtcp_timeout,
            unreachable_timeout=settings.relay_unreachable_timeout,
        )
        self._is_udp = spec.transport is RelayTransport.UDP
        self._sender = self._new_sender(local_host, local_port)
        self._subscription: PsSubscription | None = None
        self._es_subscription: Subscription | None = None
        self._muxing: EsToPs | None = None
        self._is_started = self._is_connected = self._is_sending = self._is_closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.packets_sent = 0
        self.bytes_sent = 0

    @property
    def local_port(self) -> int:
        return self._sender.local_port

    @property
    def state(self) -> RelayState:
        if self._is_closed:
            return RelayState.CLOSED
        if self._is_sending:
            return RelayState.SENDING
        return RelayState.WAITING if self._is_started else RelayState.OPEN

    def stats(self) -> RelayStats:
        return RelayStats(
            self.relay_id, self.packets_sent, self.bytes_sent, self._flow.frames_dropped,
            self.state.value,
        )  # fmt: skip

    # ---- lifecycle ----

    async def open(self) -> None:
        """Take the port and attach to the stream; raises `OSError` (port taken) or
        `StreamClosedError`."""
        await self._sender.open()
        try:
            self._subscription = self._stream.attach_ps(self)
        except BaseException:
            await self._sender.close()
            raise
        log.info("%s: open on port %d (%s)", self._label, self.local_port, self.spec.transport)

    def start(self) -> None:
        """Send from now on (once the TCP connection is up)."""
        if self._is_started or self._is_closed:
            return
        self._is_started = True
        if self.spec.transport is RelayTransport.TCP_LISTEN and not self._is_connected:
            self._liveness.expect_connection(
                self._loop.time(), self._settings.relay_connect_timeout
            )
            self._arm()
        self._go()

    async def close(self) -> None:
        """Stop sending, detach, close the socket; idempotent. `on_ended` is not called."""
        self._is_closed = True
        self._let_go()
        await self._sender.close()

    # ---- PsSink ----

    def offer_ps(self, frame: PsFrame) -> None:
        if self._is_sending:
            self._send_isolated(frame)

    def end(self, reason: str) -> None:
        """The stream ended: so does the relay."""
        self._finish(RelayEndReason.STREAM_ENDED)

    @property
    def is_closed(self) -> bool:
        return self._is_closed

    @property
    def is_waiting_for_keyframe(self) -> bool:
        return self._flow.is_dropping

    # ---- SenderListener ----

    def sender_connected(self) -> None:
        self._is_connected = True
        self._liveness.connected()
        self._go()

    def sender_refused(self) -> None:
        reason = self._liveness.refused(self._loop.time())
        if reason is not None:
            self._finish(reason)

    def sender_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except RtpParseError:
            return
        if any(isinstance(packet, RtcpBye) for packet in packets):
            log.info("%s: RTCP BYE from the upper", self._label)
            self._finish(RelayEndReason.PEER_CLOSED)
            return
        self._liveness.rtcp_received(self._loop.time())
        self._arm()

    def sender_ended(self, reason: RelayEndReason) -> None:
        self._finish(reason)

    # ---- internals ----

    def _new_sender(self, local_host: str, local_port: int) -> RelaySender:
        spec, settings = self.spec, self._settings
        match spec.transport:
            case RelayTransport.UDP:
                return UdpRelaySender(
                    spec.host, spec.port, local_host=local_host, local_port=local_port,
                    listener=self, label=self._label,
                )  # fmt: skip
            case RelayTransport.TCP_CONNECT:
                return TcpConnectSender(
                    spec.host, spec.port, local_host=local_host, local_port=local_port,
                    listener=self, label=self._label, attempts=settings.tcp_connect_attempts,
                    interval=settings.tcp_connect_interval,
                )  # fmt: skip
            case RelayTransport.TCP_LISTEN:
                return TcpListenSender(
                    spec.host, spec.port, local_host=local_host, local_port=local_port,
                    listener=self, label=self._label,
                )  # fmt: skip

    def _go(self) -> None:
        """Started and connected: the stream's cached start, then its live frames."""
        if not (self._is_started and self._is_connected) or self._is_sending or self._is_closed:
            return
        self._is_sending = True
        log.info("%s: sending", self._label)
        stream = self._stream
        if stream.has_ps_source:
            for frame in stream.ps_cached_start():
                self._send_isolated(frame)
            return
        self._muxing = EsToPs()
        self._es_subscription = stream.attach(_EsFeed(self))  # offered its cached start

    def es_frame(self, frame: EsFrame) -> None:
        """A frame of a stream without PS (`_EsFeed`): muxed, then sent as any."""
        muxing = self._muxing
        if self._is_sending and muxing is not None:
            try:
                ps = muxing.mux(frame)
            except Exception:
                log.exception("%s: muxing a frame failed", self._label)
                self._finish(RelayEndReason.FAILED)
                return
            if ps is not None:
                self._send_isolated(ps)

    def _send_isolated(self, frame: PsFrame) -> None:
        """Send one frame; a failure ends this relay alone (isolation boundary, STYLE B8)."""
        if not self._is_sending:
            return  # ended meanwhile (while sending the cached start)
        try:
            self._send(frame)
        except Exception:
            log.exception("%s: sending a frame failed", self._label)
            self._finish(RelayEndReason.FAILED)

    def _send(self, frame: PsFrame) -> None:
        sender = self._sender
        if not self._flow.admit(frame.is_keyframe, sender.backlog):
            return
        if self._is_udp:
            packets = self._packetizer.packets(frame)
            sent = sender.send_packets(packets)
            if sent == len(packets):
                self.bytes_sent += len(frame.data) + _RTP_HEADER_SIZE * sent
            else:
                self.bytes_sent += sum(len(packet) for packet in packets[:sent])
                self._flow.send_failed()
            self.packets_sent += sent
            return
        data, count = self._packetizer.framed(frame)
        sender.write(data)
        self.packets_sent += count
        self.bytes_sent += len(data) - 2 * count

    def _finish(self, reason: RelayEndReason) -> None:
        """The relay ended by itself."""
        if self._is_closed:
            return
        log.info("%s: ended (%s)", self._label, reason)
        self._is_closed = True
        self._let_go()
        self._on_ended(self, reason)

    def _let_go(self) -> None:
        self._is_sending = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        if self._subscription is not None:
            self._stream.detach_ps(self._subscription)
            self._subscription = None
        if self._es_subscription is not None:
            self._stream.detach(self._es_subscription)
            self._es_subscription = None

    def _arm(self) -> None:
        """Keep one timer no later than the liveness deadline (moved only when earlier)."""
        deadline = self._liveness.next_deadline()
        if self._is_closed or deadline is None:
            return
        if self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        reason = self._liveness.tick(self._loop.time())
        if reason is not None:
            self._finish(reason)
        else:
            self._arm()


class _EsFeed:
    """The `Sink` a relay attaches to a stream without PS: frames go to `es_frame`."""

    def __init__(self, relay: RelayOutput) -> None:
        self._relay = relay

    def offer(self, frame: EsFrame) -> None:
        self._relay.es_frame(frame)

    def end(self, reason: str) -> None:
        self._relay.end(reason)

    async def close(self) -> None:
        """The relay's owner closes the relay (`NodeRelays`)."""

    @property
    def is_closed(self) -> bool:
        return self._relay.is_closed

    @property
    def frames_dropped(self) -> int:
        return self._relay.stats().frames_dropped

    @property
    def is_waiting_for_keyframe(self) -> bool:
        return self._relay.is_waiting_for_keyframe
