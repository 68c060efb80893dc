"""The platform's side of a live-video call, for simulator tests (gb28181.md §6, §8, §11.4-11.5).

Independent of the platform's live-view code: a plain `SipEndpoint` that INVITEs a simulated
device, ACKs and BYEs (`Caller`), and raw loopback sockets that receive its RTP (UDP, TCP
listening or TCP connecting) into an `RtpCollector`, which reassembles the PS stream in
sequence order and decodes it with PyAV.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import BytesIO

import av

from farmwatch.media.rfc4571 import Rfc4571Deframer
from farmwatch.media.rtp import RtpPacket
from farmwatch.simulator import SimulatedDevice
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.headers import Headers, Via
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup, parse_sdp
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_play_offer
from farmwatch.sipserver.sip.transaction_effects import new_branch

PLATFORM_ID = "34020000002000000001"
DOMAIN = "3402000000"
HOST = "127.0.0.1"


class RtpCollector:
    """Every RTP packet received, in arrival order; waits without sleeping."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []
        self._changed = asyncio.Event()

    def add(self, data: bytes) -> None:
        self.packets.append(RtpPacket.parse(data))
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[RtpCollector], bool]) -> None:
        """Bound it with `asyncio.timeout`."""
        while not predicate(self):
            await self._changed.wait()

    async def wait_frames(self, count: int) -> None:
        """Until `count` frames ended (marker bits) arrived."""
        await self.wait_for(lambda c: c.marker_count >= count)

    @property
    def marker_count(self) -> int:
        return sum(1 for packet in self.packets if packet.marker)

    def in_sequence_order(self) -> list[RtpPacket]:
        """Sorted by the 16-bit sequence number unwrapped from the first packet on."""
        if not self.packets:
            return []
        first = self.packets[0].sequence_number
        return sorted(self.packets, key=lambda p: (p.sequence_number - first + 0x8000) & 0xFFFF)

    def ps_stream(self) -> bytes:
        return b"".join(packet.payload for packet in self.in_sequence_order())


@dataclass(frozen=True, slots=True)
class DecodedVideo:
    codec: str
    sizes: set[tuple[int, int]]
    frames: int


def decode_ps(ps: bytes) -> DecodedVideo:
    """Demux the PS bytes with FFmpeg's MPEG-PS demuxer and decode every picture."""
    with av.open(BytesIO(ps), mode="r", format="mpeg") as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        sizes = set()
        count = 0
        for picture in container.decode(stream):
            sizes.add((picture.width, picture.height))
            count += 1
    return DecodedVideo(codec, sizes, count)


# -- receivers ------------------------------------------------------------------------------


class _UdpReceiver(asyncio.DatagramProtocol):
    def __init__(self, collector: RtpCollector) -> None:
        self._collector = collector

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._collector.add(data)


@asynccontextmanager
async def udp_receiver() -> AsyncIterator[tuple[RtpCollector, int]]:
    collector = RtpCollector()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UdpReceiver(collector), local_addr=(HOST, 0)
    )
    try:
        yield collector, int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


async def _read_into(reader: asyncio.StreamReader, collector: RtpCollector) -> None:
    deframer = Rfc4571Deframer()
    while data := await reader.read(65536):
        for packet in deframer.feed(data):
            collector.add(packet)


class TcpMediaServer:
    """The platform listening for the device's media connection (offer `a=setup:passive`)."""

    def __init__(self) -> None:
        self.collector = RtpCollector()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def listen(self, sock: socket.socket | None = None) -> int:
        """Listen on a new port, or on `sock` (bound earlier, so its port was refused)."""
        if sock is not None:
            self._server = await asyncio.start_server(self._accepted, sock=sock)
        else:
            self._server = await asyncio.start_server(self._accepted, HOST, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await _read_into(reader, self.collector)
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()


@asynccontextmanager
async def tcp_server(
    sock: socket.socket | None = None,
) -> AsyncIterator[tuple[TcpMediaServer, int]]:
    server = TcpMediaServer()
    port = await server.listen(sock)
    try:
        yield server, port
    finally:
        await server.close()


@asynccontextmanager
async def tcp_client(host: str, port: int) -> AsyncIterator[RtpCollector]:
    """The platform connecting to a listening device (offer `a=setup:active`)."""
    collector = RtpCollector()
    reader, writer = await asyncio.open_connection(host, port)
    task = asyncio.get_running_loop().create_task(_read_into(reader, collector))
    try:
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()


# -- signalling -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    invite: SipRequest
    response: SipResponse

    @property
    def answer(self) -> SessionDescription:
        return parse_sdp(self.response.body)


def play_offer(
    port: int,
    *,
    ssrc: str = "0200000001",
    transport: Transport = Transport.UDP,
    setup: Setup = Setup.PASSIVE,
) -> SessionDescription:
    return build_play_offer(
        sender_id=PLATFORM_ID, endpoint=MediaEndpoint(HOST, port, transport, setup), ssrc=ssrc
    )


class Caller:
    """The platform's SIP side: INVITE, ACK, BYE, and the device's BYEs answered 200."""

    def __init__(self) -> None:
        self.endpoint = SipEndpoint(SipSettings(host=HOST, port=0, id=PLATFORM_ID, domain=DOMAIN))
        self.byes: list[SipRequest] = []
        self.last_invite: SipRequest | None = None
        self._bye_received = asyncio.Event()

    async def start(self) -> None:
        for _ in range(8):  # the TCP twin of an ephemeral UDP port may be taken
            try:
                await self.endpoint.start()
                break
            except OSError:
                continue
        self.endpoint.add_handler("BYE", self._on_bye)

    async def _on_bye(self, incoming: IncomingRequest) -> SipResponse:
        self.byes.append(incoming.request)
        self._bye_received.set()
        return build_response(incoming.request, 200)

    async def wait_bye(self) -> SipRequest:
        await self._bye_received.wait()
        return self.byes[-1]

    async def invite(
        self,
        device: SimulatedDevice,
        channel_id: str,
        offer: SessionDescription | bytes,
        *,
        subject: str | None = None,
    ) -> Call:
        dest = Address(HOST, device.endpoint.port)
        uri = f"sip:{channel_id}@{HOST}:{dest.port}"
        body = offer if isinstance(offer, bytes) else offer.serialise()
        ssrc = parse_sdp(body).ssrc if not isinstance(offer, bytes) else "0"
        request = build_request(
            "INVITE",
            uri,
            from_=f"<sip:{PLATFORM_ID}@{DOMAIN}>;tag={new_tag()}",
            to=f"<{uri}>",
            call_id=new_call_id(HOST),
            cseq=1,
            contact=f"<sip:{PLATFORM_ID}@{HOST}:{self.endpoint.port}>",
            extra=(("Subject", subject or f"{channel_id}:{ssrc},{PLATFORM_ID}:0"),),
            body=body,
            content_type="application/sdp",
        )
        via = Via("UDP", HOST, self.endpoint.port, (("rport", None), ("branch", new_branch())))
        request = request.with_headers(request.headers.prepend("Via", str(via)))
        self.last_invite = request
        response = await self.endpoint.request(request, dest)
        return Call(request, response)

    async def cancel(self, invite: SipRequest, device: SimulatedDevice) -> SipResponse:
        """CANCEL (RFC 3261 §9.1): the INVITE's Via, Call-ID, From, To, CSeq number."""
        pairs = [
            (name, invite.headers.get(name) or "") for name in ("Via", "From", "To", "Call-ID")
        ]
        pairs.append(("CSeq", f"{invite.cseq.number} CANCEL"))
        cancel = SipRequest(method="CANCEL", uri=invite.uri, headers=Headers.of(pairs))
        return await self.endpoint.request(cancel, Address(HOST, device.endpoint.port))

    def ack(self, call: Call) -> None:
        self.endpoint.send_stateless(self._in_dialog("ACK", call, call.invite.cseq.number),
                                     self._dest(call))  # fmt: skip

    async def bye(self, call: Call) -> SipResponse:
        return await self.endpoint.request(self._in_dialog("BYE", call, 2), self._dest(call))

    def _in_dialog(self, method: str, call: Call, cseq: int) -> SipRequest:
        contact = call.response.contact
        assert contact is not None
        return build_request(
            method,
            str(contact.uri),
            from_=call.invite.headers.get("From") or "",
            to=call.response.headers.get("To") or "",
            call_id=call.invite.call_id,
            cseq=cseq,
        )

    def _dest(self, call: Call) -> Address:
        return Address(HOST, call.invite.request_uri.port or 5060)

    async def close(self) -> None:
        await self.endpoint.close()


@asynccontextmanager
async def running_caller() -> AsyncIterator[Caller]:
    caller = Caller()
    await caller.start()
    try:
        yield caller
    finally:
        await caller.close()
