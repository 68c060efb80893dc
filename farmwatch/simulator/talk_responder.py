"""A simulated camera's two-way talk (对讲): it answers the platform's `s=Talk` INVITE
(gb28181.md §4.13 item 3).

An INVITE whose offer says `s=Talk` comes here rather than to the video calls. A camera that
talks (`settings.supported`) answers 100, then 200 with `build_talk_answer`: the first
format of the offer it takes (`settings.codecs`: PCMA, PCMU), `a=sendrecv`, the TCP role
opposite to the platform's (it connects when the platform listens, listens when the
platform connects), `y=` the offer's SSRC. One that does not answers `settings.refusal`
(488 by default; 415 or 501 as some firmware do); an unknown channel 404. From the ACK on
it **speaks**: a sine tone of `settings.tone` Hz as 20 ms G.711 frames in the answered
format (or wrapped in PS with `settings.sends_ps`, as cameras that say PCMA and send PS do),
with the SSRC of its `y=`, paced by the loop clock; and **listens**: what the platform
sends is counted and decoded as for a voice broadcast (`AudioReception`). A BYE from the
platform ends it (200); `hang_up()` BYEs from the camera.

Everything lands in `TalkState` (`device.talk`), the inspection hook of tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from farmwatch.media.audio_transcode import alaw_to_ulaw, tone_alaw
from farmwatch.media.g711_packetizer import FRAME_SAMPLES, SAMPLE_RATE, G711Framing, G711Packetizer
from farmwatch.simulator.broadcast_receiver import (
    AudioMedia,
    AudioReception,
    BroadcastMode,
    BroadcastTransport,
)
from farmwatch.simulator.channels import ChannelTable
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.talk_sdp import TalkCodec, build_talk_answer, read_talk_offer
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import build_request, new_tag
from farmwatch.sipserver.sip.sdp import SdpError, Setup, parse_sdp

__all__ = ["TalkCall", "TalkResponder", "TalkSettings", "TalkState"]

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
TONE_SECONDS = 1.0
"""The tone is cut from a one-second loop (a whole number of periods for whole Hz)."""


@dataclass(frozen=True, slots=True)
class TalkSettings:
    supported: bool = True
    """False: a camera without `s=Talk`, answering `refusal`."""
    refusal: int = 488
    codecs: tuple[TalkCodec, ...] = (TalkCodec.PCMA, TalkCodec.PCMU)
    """What it takes, the offer's order deciding."""
    tone: float = 800.0
    """The pitch of what it says (Hz); 0: it stays silent."""
    sends_ps: bool = False
    """Wraps its voice in PS whatever the answer said."""


@dataclass(slots=True)
class TalkCall:
    """One talk: what the camera heard (`reception`) and said."""

    reception: AudioReception
    codec: TalkCodec
    invite: SipRequest
    source: Address
    local_party: str
    """Our To of the 200 (with our tag): the From of our BYE."""
    offer: str
    packets_sent: int = 0
    g711_bytes_sent: int = 0
    local_cseq: int = 0

    @property
    def call_id(self) -> str:
        return self.reception.call_id


@dataclass(slots=True)
class TalkState:
    settings: TalkSettings = field(default_factory=TalkSettings)
    calls: list[TalkCall] = field(default_factory=list)
    invites: int = 0
    refused: list[int] = field(default_factory=list)
    """The status of each talk INVITE refused."""

    @property
    def last(self) -> TalkCall | None:
        return self.calls[-1] if self.calls else None


@dataclass(slots=True)
class _Running:
    call: TalkCall
    media: AudioMedia
    speaker: asyncio.Task[None] | None = None


class TalkResponder:
    """The camera side of two-way talk for one simulated device."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        channels: ChannelTable,
        *,
        host: str,
        on_change: Callable[[], None],
        request_timeout: float,
    ) -> None:
        self._endpoint = endpoint
        self._channels = channels
        self._host = host
        self._on_change = on_change
        self._request_timeout = request_timeout
        self.state = TalkState()
        self._running: dict[str, _Running] = {}

    @staticmethod
    def is_talk(request: SipRequest) -> bool:
        """An initial INVITE whose offer says `s=Talk`."""
        if request.to.tag or not request.body:
            return False
        try:
            return parse_sdp(request.body).session_name.strip().lower() == "talk"
        except SdpError:
            return False

    def owns(self, call_id: str) -> bool:
        return call_id in self._running

    async def handle_invite(self, incoming: IncomingRequest) -> SipResponse:
        request = incoming.request
        settings = self.state.settings
        self.state.invites += 1
        self._endpoint.respond(build_response(request, 100))
        channel_id = request.request_uri.user or ""
        if channel_id not in self._channels:
            return self._refuse(request, 404)
        if not settings.supported:
            return self._refuse(request, settings.refusal)
        try:
            offer = parse_sdp(request.body)
            asked = read_talk_offer(offer, accepted=settings.codecs)
        except SdpError as error:
            return self._refuse(request, error.status_hint or 488)
        given = offer.ssrc_value
        ssrc = given if given and given < 10**10 else 1 + secrets.randbelow(10**9 - 1)
        is_ps = asked.codec is TalkCodec.PS
        reception = AudioReception(
            request.call_id, request.from_.uri.user or "", channel_id,
            BroadcastMode.PS if is_ps else BroadcastMode.PCMA,
            _transport(asked.transport, asked.setup), ssrc, payload_type=asked.payload_type,
        )  # fmt: skip
        media = AudioMedia(reception, self._on_change)
        host = self._endpoint.local_host_for(incoming.source)
        try:
            if asked.transport is Transport.UDP:
                await media.open_udp(self._host)
                media.peer = (asked.host, asked.port)
            elif asked.setup is Setup.ACTIVE:  # the platform connects: we listen
                await media.listen_tcp(self._host)
        except OSError as error:
            log.warning("channel %s: talk media not opened: %s", channel_id, error)
            return self._refuse(request, 500)
        answer = build_talk_answer(offer, asked, sender_id=channel_id, media_ip=host,
                                   port=media.port, ssrc=f"{ssrc:010d}").serialise()  # fmt: skip
        response = build_response(
            request, 200, to_tag=new_tag(), body=answer, content_type="application/sdp",
            extra=(("Contact", f"<sip:{channel_id}@{host}:{self._endpoint.port}>"),
                   ("User-Agent", self._endpoint.settings.user_agent)),
        )  # fmt: skip
        reception.answer = answer.decode("ascii")
        call = TalkCall(reception, asked.codec, request, incoming.source,
                        response.headers.get("To") or "",
                        request.body.decode("ascii", "replace"))  # fmt: skip
        self.state.calls.append(call)
        running = _Running(call, media)
        self._running[request.call_id] = running
        if asked.transport is Transport.TCP and asked.setup is not Setup.ACTIVE:
            # The platform listens (it opened before its offer): connect now.
            try:
                await media.connect_tcp(asked.host, asked.port)
            except OSError as error:
                log.warning("channel %s: cannot connect for talk: %s", channel_id, error)
        log.info("channel %s: talk %s answered, %s over %s", channel_id, request.call_id,
                 asked.codec.value, reception.transport.value)  # fmt: skip
        self._on_change()
        return response

    def handle_ack(self, request: SipRequest) -> None:
        running = self._running.get(request.call_id)
        if running is None or running.speaker is not None:
            return
        if self.state.settings.tone > 0:
            running.speaker = asyncio.get_running_loop().create_task(self._speak(running))

    async def handle_bye(self, incoming: IncomingRequest) -> SipResponse:
        request = incoming.request
        running = self._running.pop(request.call_id, None)
        if running is None:
            return build_response(request, 481)
        await self._end(running, "platform")
        return build_response(request, 200)

    async def hang_up(self) -> int:
        """BYE every talk from the camera; how many."""
        running = list(self._running.values())
        self._running.clear()
        for entry in running:
            await self._end(entry, "device")
            await self._bye(entry.call)
        return len(running)

    async def close(self) -> None:
        for entry in list(self._running.values()):
            await self._end(entry, "device")
        self._running.clear()

    # -- speaking ----------------------------------------------------------------------------

    async def _speak(self, running: _Running) -> None:
        call, media, settings = running.call, running.media, self.state.settings
        framing = G711Framing.PS if settings.sends_ps or call.codec is TalkCodec.PS else (
            G711Framing.PCMA)  # fmt: skip
        payload_type = 96 if settings.sends_ps else call.reception.payload_type
        tone = await asyncio.to_thread(tone_alaw, settings.tone, TONE_SECONDS)
        if call.codec is TalkCodec.PCMU:
            tone = alaw_to_ulaw(tone)
        packetizer = G711Packetizer(call.reception.ssrc, framing, payload_type)
        loop = asyncio.get_running_loop()
        next_at, offset, first = loop.time(), 0, True
        while True:
            if media.can_send:
                frame = tone[offset : offset + FRAME_SAMPLES]
                offset = (offset + FRAME_SAMPLES) % len(tone)
                for packet in packetizer.packetize(frame, talk_spurt=first):
                    media.send(packet)
                    call.packets_sent += 1
                call.g711_bytes_sent += len(frame)
                first = False
            next_at += FRAME_SECONDS
            await asyncio.sleep(max(0.0, next_at - loop.time()))  # the 20 ms audio clock

    async def _end(self, running: _Running, by: str) -> None:
        if running.speaker is not None:
            running.speaker.cancel()
            try:
                await running.speaker
            except asyncio.CancelledError:
                pass  # the cancel above
            except Exception:
                # Isolation boundary: the camera's voice failing must not fail the BYE.
                log.exception("talk %s: the camera's voice failed", running.call.call_id)
        running.media.close()
        reception = running.call.reception
        reception.ended_by = by
        log.info("talk %s ended by the %s (heard %d G.711 bytes, said %d)", reception.call_id,
                 by, reception.g711_bytes, running.call.g711_bytes_sent)  # fmt: skip
        self._on_change()

    async def _bye(self, call: TalkCall) -> None:
        invite = call.invite
        contact = invite.contact
        call.local_cseq += 1
        request = build_request(
            "BYE", str(contact.uri) if contact is not None else str(invite.from_.uri),
            from_=call.local_party, to=invite.headers.get("From") or "", call_id=call.call_id,
            cseq=call.local_cseq, user_agent=self._endpoint.settings.user_agent,
        )  # fmt: skip
        with contextlib.suppress(SipError, TimeoutError):
            async with asyncio.timeout(self._request_timeout):
                await self._endpoint.request(request, call.source)

    def _refuse(self, request: SipRequest, status: int) -> SipResponse:
        self.state.refused.append(status)
        log.info("talk INVITE %s refused %d", request.call_id, status)
        self._on_change()
        return build_response(request, status, to_tag=new_tag())


def _transport(transport: Transport, setup: Setup | None) -> BroadcastTransport:
    """The camera's role, in the broadcast's names (TCP_ACTIVE: the camera connects)."""
    if transport is Transport.UDP:
        return BroadcastTransport.UDP
    return (
        BroadcastTransport.TCP_PASSIVE if setup is Setup.ACTIVE else BroadcastTransport.TCP_ACTIVE
    )
