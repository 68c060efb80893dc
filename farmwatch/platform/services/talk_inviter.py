"""Two-way talk's call (对讲): the platform INVITEs the camera with `s=Talk` (gb28181.md §4.13
item 3; issue 12 item 5).

`TalkInviter.open` makes one talk's audio path. It opens our side first (UDP: a port kept
bound; TCP where we listen: the listening socket, taking only the device's registered host;
TCP where we connect: nothing yet, the offer names the discard port), INVITEs the channel
with the `s=Talk` offer (`build_talk_offer`: `a=sendrecv`, PCMA then PCMU, `y=` our SSRC),
reads the device's answer (`read_talk_answer`) and then sends on its terms: the format it
took (raw PCMA/PCMU or PS), the SSRC of its `y=` (else ours), to its `c=`:`m=`. Its voice
comes back on the same socket (the TCP connection, or the UDP port, connected to the
answer's address) and is read by a `TalkAudioReader` into the `DeviceVoice` the operator's
WebRTC connection plays. The call is kept by its real Call-ID (`TalkLeg.call_id`); `close`
BYEs it unless the device ended it.

Failures are the platform's errors, nothing left open: not registered → `DeviceOffline`;
488/415/501/606 to the INVITE (a camera that does not know `s=Talk`) → `NotSupported`
naming the fallback, mode "broadcast"; other refusals and an unusable answer →
`DeviceRefused`; no answer within the invite timeout → `DeviceTimeout`.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from farmwatch.media.audio_sender import AudioSender, AudioSenderListener, AudioTarget
from farmwatch.media.device_voice import DeviceVoice
from farmwatch.media.frames import Codec
from farmwatch.media.g711_packetizer import G711Framing
from farmwatch.media.manager import MediaTransport
from farmwatch.media.relay.spec import RelayTransport
from farmwatch.media.talk_audio import TalkAudioReader
from farmwatch.platform.errors import DeviceOffline, DeviceRefused, DeviceTimeout, NotSupported
from farmwatch.sipserver.call_types import CallRefused, CallTimeout, EstablishedCall, InvalidAnswer
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceUnavailable
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.ssrc import Ssrc, SsrcAllocator, SsrcKind
from farmwatch.sipserver.gb.talk_sdp import TalkCodec, TalkMedia, build_talk_offer, read_talk_answer
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.sdp import SdpError, Setup

__all__ = ["TALK_UNSUPPORTED", "TalkInviter", "TalkLeg"]

log = logging.getLogger(__name__)

TALK_UNSUPPORTED = frozenset({415, 488, 501, 606})
"""Answers of a camera that does not know `s=Talk` (or its SDP): talk is not for it."""
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


@dataclass(slots=True)
class TalkLeg:
    """One talk's call and its audio, both ways."""

    call: EstablishedCall
    media: TalkMedia
    sender: AudioSender
    reader: TalkAudioReader
    voice: DeviceVoice
    ssrc: Ssrc

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def law(self) -> Codec:
        """The G.711 law the camera takes (PS carries A-law)."""
        return Codec.G711U if self.media.codec is TalkCodec.PCMU else Codec.G711A

    @property
    def transport(self) -> RelayTransport:
        return self.sender.target.transport


class _Receiving:
    """What the talk's socket hears, read into the voice; the reader is set once answered."""

    def __init__(self, voice: DeviceVoice) -> None:
        self.voice = voice
        self.reader = TalkAudioReader(answered=Codec.G711A, payload_type=8, is_ps=False)
        self.is_stream = False

    def received(self, data: bytes) -> None:
        reader = self.reader
        chunks = reader.feed_stream(data) if self.is_stream else reader.feed_datagram(data)
        for chunk in chunks:
            self.voice.push(chunk)


class TalkInviter:
    def __init__(
        self,
        calls: Calls,
        *,
        platform_id: str,
        media_host: str,
        advertised_host: str = "",
        transport: MediaTransport = MediaTransport.UDP,
        invite_timeout: float = 10.0,
    ) -> None:
        self._calls = calls
        self._ssrc = SsrcAllocator(platform_id)
        self._platform_id = platform_id
        self._media_host = media_host
        self._advertised_host = advertised_host
        self.transport = transport
        self._invite_timeout = invite_timeout

    async def open(
        self,
        device_id: str,
        channel_id: str,
        listener: AudioSenderListener,
        *,
        label: str,
        transport: MediaTransport | None = None,
    ) -> TalkLeg:
        registration = self._calls.access.registration(device_id)
        if registration is None:
            raise DeviceOffline(f"device {device_id} is offline")
        how = transport or self.transport
        ssrc = self._ssrc.allocate(SsrcKind.LIVE)
        receiving = _Receiving(DeviceVoice())
        receiving.is_stream = how is not MediaTransport.UDP
        reserved: socket.socket | None = None
        listening: AudioSender | None = None
        try:
            port = 0
            if how is MediaTransport.UDP:
                reserved, port = self._reserve_udp()
            elif how is MediaTransport.TCP_PASSIVE:
                target = AudioTarget(registration.address.host, 0, RelayTransport.TCP_LISTEN,
                                     ssrc.value, G711Framing.PCMA, 8)  # fmt: skip
                listening = AudioSender(target, local_host=self._media_host, listener=listener,
                                        label=label, on_received=receiving.received)  # fmt: skip
                port = await listening.open()
            host = self._offer_host(registration.address)
            offer = build_talk_offer(
                sender_id=self._platform_id, media_ip=host, port=port,
                transport=Transport.UDP if how is MediaTransport.UDP else Transport.TCP,
                setup=Setup.ACTIVE if how is MediaTransport.TCP_ACTIVE else Setup.PASSIVE,
                ssrc=ssrc.text,
            )  # fmt: skip
            call = await self._invite(device_id, channel_id, offer.serialise())
            try:
                leg = await self._answered(call, how, ssrc, receiving, listener, label,
                                           reserved, listening)  # fmt: skip
            except BaseException:
                await self._calls.bye(call)
                raise
        except BaseException:
            if reserved is not None:
                reserved.close()
            if listening is not None:
                await listening.close()
            self._ssrc.release(ssrc)
            raise
        leg.sender.start()
        log.info("talk %s: call %s to %s/%s, %s over %s, voice back %s", label, leg.call_id,
                 device_id, channel_id, leg.media.codec.value, leg.transport.value,
                 "expected" if leg.media.sends else "not offered")  # fmt: skip
        return leg

    async def close(self, leg: TalkLeg, *, bye: bool) -> None:
        leg.voice.close()
        await leg.sender.close()
        if bye:
            await self._calls.bye(leg.call_id)
        self._ssrc.release(leg.ssrc)

    async def _invite(self, device_id: str, channel_id: str, offer: bytes) -> EstablishedCall:
        try:
            return await self._calls.invite(device_id, channel_id, offer,
                                            timeout=self._invite_timeout)  # fmt: skip
        except DeviceUnavailable as error:
            raise DeviceOffline(f"device {device_id} is offline") from error
        except CallRefused as error:
            if error.status in TALK_UNSUPPORTED:
                raise NotSupported(
                    f"channel {channel_id} refused two-way talk (s=Talk): {error.status} "
                    f'{error.reason}; use mode "broadcast" (voice broadcast, one way) instead'
                ) from error
            raise DeviceRefused(
                f"channel {channel_id} refused the talk INVITE: {error.status} {error.reason}"
            ) from error
        except CallTimeout as error:
            raise DeviceTimeout(f"channel {channel_id} did not answer the talk INVITE within "
                                f"{error.timeout:g} s") from error  # fmt: skip
        except (InvalidAnswer, SipError) as error:
            raise DeviceRefused(f"talk INVITE to {channel_id} failed: {error}") from error

    async def _answered(
        self,
        call: EstablishedCall,
        how: MediaTransport,
        ssrc: Ssrc,
        receiving: _Receiving,
        listener: AudioSenderListener,
        label: str,
        reserved: socket.socket | None,
        listening: AudioSender | None,
    ) -> TalkLeg:
        try:
            media = read_talk_answer(call.answer, transport=Transport.UDP
                                     if how is MediaTransport.UDP else Transport.TCP)  # fmt: skip
        except SdpError as error:
            raise DeviceRefused(
                f"channel {call.channel_id} answered the talk with unusable SDP: {error.reason}"
            ) from error
        sending = Ssrc.from_sdp(call.answer.ssrc) or ssrc  # the device's y= wins (§6.3)
        is_ps = media.codec is TalkCodec.PS
        framing = G711Framing.PS if is_ps else G711Framing.PCMA
        law = Codec.G711U if media.codec is TalkCodec.PCMU else Codec.G711A
        receiving.reader.expect(answered=None if is_ps else law,
                                payload_type=media.payload_type, is_ps=is_ps)  # fmt: skip
        if listening is not None:
            listening.set_format(sending.value, framing, media.payload_type)
            sender = listening
        else:
            kind = RelayTransport.UDP if how is MediaTransport.UDP else RelayTransport.TCP_CONNECT
            target = AudioTarget(media.host, media.port, kind, sending.value, framing,
                                 media.payload_type)  # fmt: skip
            local_port = 0
            if reserved is not None:
                local_port = reserved.getsockname()[1]
                reserved.close()  # handed over to the sender, which binds it at once
            sender = AudioSender(target, local_host=self._media_host, listener=listener,
                                 label=label, local_port=local_port,
                                 on_received=receiving.received)  # fmt: skip
            try:
                await sender.open()
            except OSError as error:
                await sender.close()
                raise DeviceRefused(f"talk audio to {media.host}:{media.port} could not be "
                                    f"opened: {error}") from error  # fmt: skip
        return TalkLeg(call, media, sender, receiving.reader, receiving.voice, ssrc)

    def _reserve_udp(self) -> tuple[socket.socket, int]:
        """A UDP port for the offer, kept bound until the sender takes it over."""
        family = socket.AF_INET6 if ":" in self._media_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((self._media_host, 0))
        except OSError:
            sock.close()
            raise
        return sock, int(sock.getsockname()[1])

    def _offer_host(self, device: Address) -> str:
        host = self._advertised_host or self._media_host
        return self._calls.endpoint.local_host_for(device) if host in _WILDCARDS else host
