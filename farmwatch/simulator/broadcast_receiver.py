"""A simulated camera's loudspeaker: the device side of a voice broadcast (gb28181.md §4.13).

On Notify/Broadcast (after the 200 its MESSAGE got) the device answers Response/Broadcast
with `Result OK` (or `settings.result`), then, unless `settings.invites` is off (a device
that never INVITEs), INVITEs the SourceID (the platform) for audio the way `settings` says:
raw PCMA (`m=audio … 8`, `a=rtpmap:8 PCMA/8000`) or PS (`96 PS/90000`), over UDP or TCP
where the device connects (`a=setup:active`) or listens (`a=setup:passive`), `a=recvonly`,
`y=` SSRC, `f=v/////a/1/8/1`. It ACKs the 200, takes the audio (RFC 4571 over TCP),
demuxes PS, and **counts**: RTP packets, G.711 frames and bytes, those that decode (PS with
a PSM declaring G.711A; raw with payload type 8 and the SSRC of `y=`) and their linear
samples (`AudioReception.samples`), for tests to measure the tone's pitch and loudness.
BYE from the platform ends the reception; `hang_up()` BYEs from the device.

Everything lands in `BroadcastState`, the inspection hook tests read (`device.broadcast`).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import enum
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from farmwatch.media.errors import FramingError, RtpParseError
from farmwatch.media.frames import Codec
from farmwatch.media.g711 import decode_alaw, decode_ulaw
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.rfc4571 import Rfc4571Deframer
from farmwatch.media.rfc4571 import frame as rfc4571_frame
from farmwatch.media.rtp import RtpPacket, is_rtcp
from farmwatch.simulator.outbox import Outbox
from farmwatch.sipserver.device_requests import Originator
from farmwatch.sipserver.dialog import build_invite
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp import BroadcastNotify, CmdType, ResultCode
from farmwatch.sipserver.gb.manscdp_build import build_control_response
from farmwatch.sipserver.invite_session import InviteSession, SendAck, SendBye
from farmwatch.sipserver.register_client import DeviceIdentity
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipResponse, build_response
from farmwatch.sipserver.sip.sdp import SdpError, parse_sdp

__all__ = [
    "AudioMedia",
    "AudioReception",
    "BroadcastMode",
    "BroadcastReceiver",
    "BroadcastSettings",
    "BroadcastState",
    "BroadcastTransport",
]

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], object]


class BroadcastMode(enum.StrEnum):
    PCMA = "pcma"
    PS = "ps"


class BroadcastTransport(enum.StrEnum):
    UDP = "udp"
    TCP_ACTIVE = "tcp-active"
    """The device connects to the platform's answer (`a=setup:active`)."""
    TCP_PASSIVE = "tcp-passive"
    """The device listens on its offer's port (`a=setup:passive`)."""


@dataclass(frozen=True, slots=True)
class BroadcastSettings:
    mode: BroadcastMode = BroadcastMode.PCMA
    transport: BroadcastTransport = BroadcastTransport.UDP
    invites: bool = True
    """False: answers the Notify but never INVITEs (the platform must time out)."""
    result: ResultCode = ResultCode.OK


@dataclass(slots=True)
class AudioReception:
    """One audio INVITE dialog of the device and what arrived in it."""

    call_id: str
    source_id: str
    target_id: str
    mode: BroadcastMode
    transport: BroadcastTransport
    ssrc: int
    answer: str = ""
    """The platform's SDP answer, as sent."""
    payload_type: int = 8
    """Raw form: the negotiated RTP payload type (8 PCMA; 0 PCMU in a talk)."""
    packets: int = 0
    frames: int = 0
    """G.711 frames (raw: RTP payloads; PS: audio PES frames)."""
    g711_bytes: int = 0
    frames_decoded: int = 0
    """Frames recognised as G.711A (the PSM's stream type 0x90, or PT 8 and our SSRC)."""
    foreign_packets: int = 0
    """Packets with another SSRC or payload type than negotiated."""
    samples: array.array[int] = field(default_factory=lambda: array.array("h"))
    ended_by: str | None = None
    """"platform" (its BYE) or "device" (ours); None while running."""

    @property
    def seconds(self) -> float:
        return self.g711_bytes / 8000


@dataclass(slots=True)
class BroadcastState:
    """What the device was told and heard: the inspection hook of tests."""

    settings: BroadcastSettings = field(default_factory=BroadcastSettings)
    notifies: list[BroadcastNotify] = field(default_factory=list)
    receptions: list[AudioReception] = field(default_factory=list)
    invite_statuses: list[int] = field(default_factory=list)
    """The final status of each audio INVITE the device sent."""

    @property
    def last(self) -> AudioReception | None:
        return self.receptions[-1] if self.receptions else None

    @property
    def g711_bytes(self) -> int:
        return sum(r.g711_bytes for r in self.receptions)

    @property
    def active(self) -> int:
        return sum(1 for r in self.receptions if r.ended_by is None)


class AudioMedia:
    """The reception's socket: a UDP port, a TCP listener, or a TCP connection we make. In a
    two-way talk it also sends (`send`: to the UDP peer, or on the TCP connection)."""

    def __init__(self, reception: AudioReception, on_change: Callable[[], None]) -> None:
        self.reception = reception
        self._on_change = on_change
        self._demuxer = PsDemuxer() if reception.mode is BroadcastMode.PS else None
        self._deframer = Rfc4571Deframer()
        self._closers: list[Callable[[], None]] = []
        self._datagrams: asyncio.DatagramTransport | None = None
        self._stream: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        """UDP: where `send` sends."""
        self.port = 0

    async def open_udp(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(host, 0)
        )
        self.port = int(transport.get_extra_info("sockname")[1])
        self._datagrams = transport
        self._closers.append(transport.close)

    @property
    def can_send(self) -> bool:
        return self._stream is not None or (self._datagrams is not None and self.peer is not None)

    def send(self, packet: bytes) -> None:
        if self._stream is not None:
            if not self._stream.is_closing():  # the platform hung up: uvloop would raise
                self._stream.write(rfc4571_frame(packet))
        elif self._datagrams is not None and self.peer is not None:
            self._datagrams.sendto(packet, self.peer)

    def stream_made(self, transport: asyncio.Transport) -> None:
        if self._stream is None:
            self._stream = transport
        self._closers.append(transport.close)

    async def listen_tcp(self, host: str) -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _Stream(self), host, 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._closers.append(server.close)

    async def connect_tcp(self, host: str, port: int) -> None:
        transport, _ = await asyncio.get_running_loop().create_connection(
            lambda: _Stream(self), host, port
        )
        self._closers.append(transport.close)

    def add_closer(self, close: Callable[[], None]) -> None:
        self._closers.append(close)

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()

    def stream_data(self, data: bytes) -> None:
        try:
            for packet in self._deframer.feed(data):
                self.datagram(bytes(packet))
        except FramingError as error:
            log.warning("broadcast %s: broken TCP framing: %s", self.reception.call_id, error)

    def datagram(self, data: bytes) -> None:
        if is_rtcp(data):
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            return
        reception = self.reception
        reception.packets += 1
        is_raw = self._demuxer is None
        if packet.ssrc != reception.ssrc or (
            is_raw and packet.payload_type != reception.payload_type
        ):
            reception.foreign_packets += 1
        if self._demuxer is None:
            self._raw(packet)
        else:
            frames = self._demuxer.feed(packet.payload, rtp_timestamp=packet.timestamp,
                                        marker=packet.marker)  # fmt: skip
            for frame in frames:
                reception.frames += 1
                reception.g711_bytes += len(frame.data)
                if frame.codec in _G711 and packet.ssrc == reception.ssrc:
                    reception.frames_decoded += 1
                    reception.samples.extend(_G711[frame.codec](frame.data))
        self._on_change()

    def _raw(self, packet: RtpPacket) -> None:
        reception = self.reception
        reception.frames += 1
        reception.g711_bytes += len(packet.payload)
        if packet.payload_type == reception.payload_type and packet.ssrc == reception.ssrc:
            reception.frames_decoded += 1
            decode = decode_ulaw if reception.payload_type == 0 else decode_alaw
            reception.samples.extend(decode(packet.payload))


_G711 = {Codec.G711A: decode_alaw, Codec.G711U: decode_ulaw}


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, media: AudioMedia) -> None:
        self._media = media

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._media.datagram(data)


class _Stream(asyncio.Protocol):
    def __init__(self, media: AudioMedia) -> None:
        self._media = media

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._media.stream_made(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        self._media.stream_data(data)


@dataclass(slots=True)
class _Call:
    session: InviteSession
    media: AudioMedia


class BroadcastReceiver:
    """The device side of voice broadcast for one simulated device."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        identity: DeviceIdentity,
        outbox: Outbox,
        spawn: Spawn,
        *,
        host: str,
        on_change: Callable[[], None],
        request_timeout: float,
    ) -> None:
        self._endpoint = endpoint
        self._identity = identity
        self._outbox = outbox
        self._spawn = spawn
        self._host = host
        self._on_change = on_change
        self._request_timeout = request_timeout
        self.state = BroadcastState()
        self._calls: dict[str, _Call] = {}

    def notified(self, message: BroadcastNotify, reply_to: str | None) -> None:
        self.state.notifies.append(message)
        self._spawn(self._answer(message, reply_to))

    def owns(self, call_id: str) -> bool:
        return call_id in self._calls

    async def handle_bye(self, incoming: IncomingRequest) -> SipResponse:
        request = incoming.request
        call = self._calls.pop(request.call_id, None)
        if call is None:
            return build_response(request, 481)
        call.session.bye_received()
        self._ended(call, "platform")
        return build_response(request, 200)

    async def hang_up(self) -> int:
        """BYE every running audio dialog from the device; how many."""
        calls = list(self._calls.items())
        for call_id, call in calls:
            del self._calls[call_id]
            for action in call.session.hang_up():
                if isinstance(action, SendBye):
                    with contextlib.suppress(SipError, TimeoutError):
                        async with asyncio.timeout(self._request_timeout):
                            await self._endpoint.request(action.request, self._identity.server)
            call.session.bye_finished()
            self._ended(call, "device")
        return len(calls)

    async def close(self) -> None:
        for call in self._calls.values():
            call.media.close()
        self._calls.clear()

    # -- the flow --------------------------------------------------------------------------

    async def _answer(self, message: BroadcastNotify, reply_to: str | None) -> None:
        settings = self.state.settings
        target = message.target_id or message.device_id or self._identity.device_id
        body = build_control_response(target, message.sn, CmdType.BROADCAST, settings.result)
        try:
            await self._outbox.send(body, to_id=reply_to)
        except SipError as error:
            log.warning("device %s: Broadcast response lost: %s", self._identity.device_id, error)
            return
        if settings.result is not ResultCode.OK or not settings.invites:
            log.info("device %s: Broadcast answered %s, no INVITE", self._identity.device_id,
                     settings.result.value)  # fmt: skip
            return
        await self._invite(message.source_id or self._identity.server_id, target, settings)

    async def invite_unasked(self, target_id: str | None = None) -> int | None:
        """INVITE the platform for audio with no Broadcast pending (a confused device);
        the final status, None if none came."""
        target = target_id or self._identity.device_id
        return await self._invite(self._identity.server_id, target, self.state.settings)

    async def _invite(
        self, source_id: str, target_id: str, settings: BroadcastSettings
    ) -> int | None:
        identity = self._identity
        ssrc = 100_000_000 + secrets.randbelow(899_999_999)
        reception = AudioReception("", source_id, target_id, settings.mode, settings.transport,
                                   ssrc)  # fmt: skip
        media = AudioMedia(reception, self._on_change)
        if settings.transport is BroadcastTransport.UDP:
            await media.open_udp(self._host)
        elif settings.transport is BroadcastTransport.TCP_PASSIVE:
            await media.listen_tcp(self._host)
        else:
            media.port = 9  # the discard port: a connecting side names none (RFC 4145)
        server = identity.server
        invite = build_invite(
            Originator(target_id, identity.domain, identity.user_agent),
            channel_id=source_id,
            dest=server,
            body=_offer(target_id, self._host, media.port, ssrc, settings),
            subject=f"{source_id}:0,{target_id}:{ssrc:010d}",
            local_host=self._endpoint.local_host_for(server),
            local_port=self._endpoint.port,
        )
        session = InviteSession(invite)
        reception.call_id = invite.call_id
        try:
            async with asyncio.timeout(self._request_timeout):
                response = await self._endpoint.request(invite, server)
        except (SipError, TimeoutError) as error:
            log.warning("device %s: audio INVITE unanswered: %s", identity.device_id, error)
            media.close()
            return None
        self.state.invite_statuses.append(response.status)
        try:
            actions = session.final_received(response)
        except RemoteProtocolError:
            actions = []
        for action in actions:
            if isinstance(action, SendAck):
                self._endpoint.send_stateless(action.request, server)
        if not response.is_success:
            log.info("device %s: audio INVITE refused %d", identity.device_id, response.status)
            media.close()
            self._on_change()
            return response.status
        reception.answer = response.body.decode("ascii", "replace")
        self.state.receptions.append(reception)
        self._calls[invite.call_id] = _Call(session, media)
        if settings.transport is BroadcastTransport.TCP_ACTIVE:
            try:
                answer = parse_sdp(response.body)
                await media.connect_tcp(answer.media_address, answer.media[0].port)
            except (SdpError, OSError) as error:
                log.warning("device %s: cannot connect for audio: %s", identity.device_id, error)
        log.info("device %s: taking %s audio over %s (call %s)", identity.device_id,
                 settings.mode.value, settings.transport.value, invite.call_id)  # fmt: skip
        self._on_change()
        return response.status

    def _ended(self, call: _Call, by: str) -> None:
        call.media.close()
        call.media.reception.ended_by = by
        log.info("device %s: audio call %s ended by the %s (%d G.711 bytes)",
                 self._identity.device_id, call.media.reception.call_id, by,
                 call.media.reception.g711_bytes)  # fmt: skip
        self._on_change()


def _offer(target_id: str, host: str, port: int, ssrc: int, settings: BroadcastSettings) -> bytes:
    tcp = settings.transport is not BroadcastTransport.UDP
    lines = [
        "v=0",
        f"o={target_id} 0 0 IN IP4 {host}",
        "s=Play",
        f"c=IN IP4 {host}",
        "t=0 0",
    ]
    if settings.mode is BroadcastMode.PS:
        lines += [f"m=audio {port} {'TCP/RTP/AVP' if tcp else 'RTP/AVP'} 96",
                  "a=recvonly", "a=rtpmap:96 PS/90000"]  # fmt: skip
    else:
        lines += [f"m=audio {port} {'TCP/RTP/AVP' if tcp else 'RTP/AVP'} 8",
                  "a=recvonly", "a=rtpmap:8 PCMA/8000"]  # fmt: skip
    if tcp:
        active = settings.transport is BroadcastTransport.TCP_ACTIVE
        lines += [f"a=setup:{'active' if active else 'passive'}", "a=connection:new"]
    lines += [f"y={ssrc:010d}", "f=v/////a/1/8/1"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
