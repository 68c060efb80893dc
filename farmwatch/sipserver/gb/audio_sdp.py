"""The device's audio INVITE of a voice broadcast, read and answered (gb28181.md §4.13, §6.5).

After Notify/Broadcast the device INVITEs the platform for audio: `m=audio <port> RTP/AVP 8`
(or `TCP/RTP/AVP`), `a=recvonly`, `a=rtpmap:8 PCMA/8000` or `96 PS/90000`, `y=` SSRC,
`f=v/////a/1/8/1`. Devices differ, so reading is lenient: the audio section (else the first),
PCMA as payload type 8 or any rtpmap named PCMA, PS as any rtpmap named PS, whichever the
device lists first; TCP with `a=setup` active (it connects to us), passive (it listens; also
what a missing or actpass setup means, as for video). The answer is strict: `s=` echoed,
`m=audio` with the one chosen format, `a=sendonly`, the TCP role opposite to the device's
with `a=connection:new`, `y=` ten digits, `f=v/////a/1/8/1` (wvp's answer).

`build_audio_offer` is the device's side, for a platform that INVITEs an upper platform
for the audio of the upper's broadcast (the cascade): PCMA, `a=recvonly`, over UDP or TCP
where the upper connects (`a=setup:passive`: we listen). Pure.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.sdp import (
    Connection,
    ConnectionMode,
    Direction,
    MediaDescription,
    MediaProtocol,
    Origin,
    RtpMap,
    SdpError,
    SessionDescription,
    Setup,
)

__all__ = [
    "AUDIO_MEDIA_FORMAT",
    "AudioFormat",
    "AudioOffer",
    "build_audio_answer",
    "build_audio_offer",
    "read_audio_offer",
]

PCMA_PAYLOAD_TYPE = 8
AUDIO_MEDIA_FORMAT = "v/////a/1/8/1"
"""`f=`: no video; audio G.711 (1), 8 kHz (… /8/), 1 … as wvp answers (2016 Annex F)."""
_SSRC_TEXT = re.compile(r"[0-9]{10}")


class AudioFormat(enum.StrEnum):
    """How G.711A travels: raw RTP (payload type 8) or wrapped in PS (PSM stream type 0x90)."""

    PCMA = "pcma"
    PS = "ps"


@dataclass(frozen=True, slots=True)
class AudioOffer:
    """What the device's INVITE asks for: where to send, in which form, with which SSRC."""

    host: str
    port: int
    transport: Transport
    setup: Setup | None
    """TCP only: the device's role (ACTIVE: it connects to us); None for UDP."""
    audio_format: AudioFormat
    payload_type: int
    ssrc: int | None
    """The device's `y=` as a number, None when absent or not a 32-bit decimal."""
    media_index: int
    """Which `m=` section of the offer is the audio."""

    @property
    def we_listen(self) -> bool:
        """TCP and the device connects (`a=setup:active`): we listen on our answer's port."""
        return self.transport is Transport.TCP and self.setup is Setup.ACTIVE


def read_audio_offer(offer: SessionDescription) -> AudioOffer:
    """The audio the device asks for; `SdpError` (488) when it offers neither PCMA nor PS."""
    index = next((i for i, media in enumerate(offer.media) if media.kind.lower() == "audio"), 0)
    media = offer.media[index]
    chosen = _first_usable(media)
    if chosen is None:
        raise SdpError("the audio offer has neither PCMA (8) nor PS", 488)
    audio_format, payload_type = chosen
    connection = media.connection or offer.connection
    if connection is None:
        raise SdpError("the audio offer has no connection address", 400)
    is_tcp = media.transport is Transport.TCP
    if not is_tcp and not 0 < media.port < 65536:
        raise SdpError(f"the audio offer's port {media.port} is not usable", 488)
    setup = None
    if is_tcp:
        setup = Setup.ACTIVE if media.setup is Setup.ACTIVE else Setup.PASSIVE
    return AudioOffer(
        host=connection.address,
        port=media.port,
        transport=media.transport,
        setup=setup,
        audio_format=audio_format,
        payload_type=payload_type,
        ssrc=offer.ssrc_value,
        media_index=index,
    )


def _first_usable(media: MediaDescription) -> tuple[AudioFormat, int] | None:
    for payload_type in media.payload_types:
        rtpmap = media.rtpmap(payload_type)
        encoding = rtpmap.encoding.upper() if rtpmap is not None else ""
        if encoding == "PS":
            return AudioFormat.PS, payload_type
        if encoding == "PCMA" or (rtpmap is None and payload_type == PCMA_PAYLOAD_TYPE):
            return AudioFormat.PCMA, payload_type
    return None


def build_audio_answer(
    offer: SessionDescription,
    audio: AudioOffer,
    *,
    sender_id: str,
    media_ip: str,
    port: int,
    ssrc: str,
) -> SessionDescription:
    """Our 200 OK body to the device's audio INVITE: we send (`a=sendonly`) `audio`'s one
    format from `media_ip`:`port` with SSRC `ssrc` (ten digits)."""
    if _SSRC_TEXT.fullmatch(ssrc) is None:
        raise LocalProtocolError(f"y= SSRC must be exactly 10 digits, got {ssrc!r}")
    if not 0 <= port <= 65535 or not media_ip:
        raise LocalProtocolError(f"unusable media address {media_ip!r}:{port}")
    offered = offer.media[audio.media_index]
    if audio.audio_format is AudioFormat.PS:
        rtpmap = RtpMap(audio.payload_type, "PS", 90000)
    else:
        rtpmap = RtpMap(audio.payload_type, "PCMA", 8000)
    is_tcp = audio.transport is Transport.TCP
    media = MediaDescription(
        port=port,
        protocol=offered.protocol,
        payload_types=(audio.payload_type,),
        kind="audio",
        rtpmaps=(rtpmap,),
        direction=Direction.SENDONLY,
        setup=(audio.setup or Setup.PASSIVE).answer if is_tcp else None,
        connection_mode=ConnectionMode.NEW if is_tcp else None,
    )
    address_type = "IP6" if ":" in media_ip else "IP4"
    return SessionDescription(
        origin=Origin(sender_id, "0", "0", media_ip, address_type),
        session_name=offer.session_name or "Play",
        connection=Connection(media_ip, address_type),
        media=(media,),
        ssrc=ssrc,
        media_format=AUDIO_MEDIA_FORMAT,
    )


def build_audio_offer(
    receiver_id: str, *, media_ip: str, port: int, ssrc: str, tcp: bool
) -> SessionDescription:
    """An audio INVITE's offer as a device sends it (§4.13 step 2): `receiver_id` (the
    audio output, our channel) takes G.711A (`8 PCMA/8000`, `a=recvonly`) at
    `media_ip`:`port`, with SSRC `ssrc` (ten digits); over TCP we listen
    (`a=setup:passive`, `a=connection:new`)."""
    if _SSRC_TEXT.fullmatch(ssrc) is None:
        raise LocalProtocolError(f"y= SSRC must be exactly 10 digits, got {ssrc!r}")
    if not 0 < port <= 65535 or not media_ip:
        raise LocalProtocolError(f"unusable media address {media_ip!r}:{port}")
    media = MediaDescription(
        port=port,
        protocol=MediaProtocol.TCP_RTP_AVP if tcp else MediaProtocol.RTP_AVP,
        payload_types=(PCMA_PAYLOAD_TYPE,),
        kind="audio",
        rtpmaps=(RtpMap(PCMA_PAYLOAD_TYPE, "PCMA", 8000),),
        direction=Direction.RECVONLY,
        setup=Setup.PASSIVE if tcp else None,
        connection_mode=ConnectionMode.NEW if tcp else None,
    )
    address_type = "IP6" if ":" in media_ip else "IP4"
    return SessionDescription(
        origin=Origin(receiver_id, "0", "0", media_ip, address_type),
        session_name="Play",
        connection=Connection(media_ip, address_type),
        media=(media,),
        ssrc=ssrc,
        media_format=AUDIO_MEDIA_FORMAT,
    )
