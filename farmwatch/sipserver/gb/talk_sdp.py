"""The SDP of two-way talk (对讲): `s=Talk`, one `m=audio` both ways (gb28181.md §4.13 item 3).

GB/T 28181-2016 Annex F knows a fourth session name beside Play, Playback and Download:
`s=Talk`. The platform INVITEs the channel with one audio section it both sends and receives
on (`a=sendrecv`): `m=audio <port> RTP/AVP 8 0` (or `TCP/RTP/AVP` with `a=setup` and
`a=connection:new`), `a=rtpmap:8 PCMA/8000` first (what voice broadcast uses), PCMU
accepted, `y=` the SSRC, `f=v/////a/1/8/1`. The device answers with the one format it takes
and where it sends from and receives on.

Both sides live here, as `audio_sdp` holds both of broadcast's: the platform builds the offer
(`build_talk_offer`) and reads the answer (`read_talk_answer`); the simulated camera reads the
offer (`read_talk_offer`) and builds the answer (`build_talk_answer`). Reading is lenient (the
audio section, else the first; PCMA or PCMU by static payload type or rtpmap name, PS by
rtpmap name; a missing direction is sendrecv), building strict. Pure.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from farmwatch.sipserver.gb.audio_sdp import AUDIO_MEDIA_FORMAT
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
    SessionName,
    Setup,
)

__all__ = [
    "TalkCodec",
    "TalkMedia",
    "build_talk_answer",
    "build_talk_offer",
    "read_talk_answer",
    "read_talk_offer",
]

_SSRC_TEXT = re.compile(r"[0-9]{10}")
DISCARD_PORT = 9
"""The port a connecting TCP side names (RFC 4145 §4.1): it listens on none."""


class TalkCodec(enum.StrEnum):
    """How the voice travels: G.711A or G.711µ as raw RTP, or G.711A wrapped in PS."""

    PCMA = "pcma"
    PCMU = "pcmu"
    PS = "ps"

    @property
    def rtpmap(self) -> RtpMap:
        return _RTPMAPS[self]


_RTPMAPS = {
    TalkCodec.PCMA: RtpMap(8, "PCMA", 8000),
    TalkCodec.PCMU: RtpMap(0, "PCMU", 8000),
    TalkCodec.PS: RtpMap(96, "PS", 90000),
}
OFFER_CODECS = (TalkCodec.PCMA, TalkCodec.PCMU)
"""What the platform offers, in its order of preference."""


@dataclass(frozen=True, slots=True)
class TalkMedia:
    """The other side's audio as its SDP says: where it is, its one format, its SSRC."""

    host: str
    port: int
    transport: Transport
    setup: Setup | None
    """TCP only: the role of the SDP's author (ACTIVE: it connects); None for UDP."""
    codec: TalkCodec
    payload_type: int
    direction: Direction
    ssrc: int | None
    """`y=` as a number; None when absent or not a 32-bit decimal."""
    media_index: int

    @property
    def sends(self) -> bool:
        """The author sends audio (sendrecv or sendonly)."""
        return self.direction in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self.direction in (Direction.SENDRECV, Direction.RECVONLY)


def build_talk_offer(
    *,
    sender_id: str,
    media_ip: str,
    port: int,
    transport: Transport,
    setup: Setup = Setup.PASSIVE,
    ssrc: str,
    codecs: tuple[TalkCodec, ...] = OFFER_CODECS,
) -> SessionDescription:
    """The platform's `s=Talk` offer: we send and receive on `media_ip`:`port` (TCP: `setup`
    is our role; a connecting side names the discard port)."""
    if not codecs:
        raise LocalProtocolError("a talk offer needs at least one codec")
    is_tcp = transport is Transport.TCP
    if is_tcp and setup is Setup.ACTIVE:
        port = DISCARD_PORT
    rtpmaps = tuple(codec.rtpmap for codec in codecs)
    media = MediaDescription(
        port=port,
        protocol=MediaProtocol.for_transport(transport),
        payload_types=tuple(m.payload_type for m in rtpmaps),
        kind="audio",
        rtpmaps=rtpmaps,
        direction=Direction.SENDRECV,
        setup=setup if is_tcp else None,
        connection_mode=ConnectionMode.NEW if is_tcp else None,
    )
    return _description(sender_id, media_ip, port, media, ssrc)


def build_talk_answer(
    offer: SessionDescription,
    asked: TalkMedia,
    *,
    sender_id: str,
    media_ip: str,
    port: int,
    ssrc: str,
) -> SessionDescription:
    """The camera's 200 OK body: the offer's chosen format both ways, the TCP role opposite
    to the offer's, `y=` ten digits."""
    offered = offer.media[asked.media_index]
    is_tcp = asked.transport is Transport.TCP
    setup = (asked.setup or Setup.PASSIVE).answer if is_tcp else None
    rtpmap = RtpMap(asked.payload_type, asked.codec.rtpmap.encoding, asked.codec.rtpmap.clock_rate)
    media = MediaDescription(
        port=DISCARD_PORT if setup is Setup.ACTIVE else port,
        protocol=offered.protocol,
        payload_types=(asked.payload_type,),
        kind="audio",
        rtpmaps=(rtpmap,),
        direction=Direction.SENDRECV,
        setup=setup,
        connection_mode=ConnectionMode.NEW if is_tcp else None,
    )
    return _description(sender_id, media_ip, port, media, ssrc)


def read_talk_answer(answer: SessionDescription, *, transport: Transport) -> TalkMedia:
    """The device's answer to our offer; `SdpError` when it is no talk we can hold: no
    G.711 we offered (488), another transport than offered (488), no address (400)."""
    media = _read(answer, allowed=(*OFFER_CODECS, TalkCodec.PS))
    if media.transport is not transport:
        raise SdpError(
            f"the talk answer is {media.transport.value}, the offer {transport.value}", 488
        )
    if media.transport is Transport.UDP and not 0 < media.port < 65536:
        raise SdpError(f"the talk answer's port {media.port} is not usable", 488)
    return media


def read_talk_offer(
    offer: SessionDescription, *, accepted: tuple[TalkCodec, ...] = OFFER_CODECS
) -> TalkMedia:
    """What the platform's `s=Talk` offer asks, the format being the first of the offer's
    that is `accepted`; `SdpError` (488) when none is."""
    if offer.session_kind is not SessionName.TALK:
        raise SdpError(f"not a talk offer (s={offer.session_name})", 488)
    return _read(offer, allowed=accepted)


def _read(description: SessionDescription, *, allowed: tuple[TalkCodec, ...]) -> TalkMedia:
    index = next(
        (i for i, media in enumerate(description.media) if media.kind.lower() == "audio"), 0
    )
    media = description.media[index]
    chosen = next(
        (
            (codec, payload_type)
            for payload_type in media.payload_types
            if (codec := _codec_of(media, payload_type)) is not None and codec in allowed
        ),
        None,
    )
    if chosen is None:
        names = ", ".join(codec.value for codec in allowed)
        raise SdpError(f"the talk SDP holds none of {names}", 488)
    connection = media.connection or description.connection
    if connection is None:
        raise SdpError("the talk SDP has no connection address", 400)
    is_tcp = media.transport is Transport.TCP
    setup = None
    if is_tcp:
        setup = Setup.ACTIVE if media.setup is Setup.ACTIVE else Setup.PASSIVE
    return TalkMedia(
        host=connection.address,
        port=media.port,
        transport=media.transport,
        setup=setup,
        codec=chosen[0],
        payload_type=chosen[1],
        direction=media.direction or Direction.SENDRECV,
        ssrc=description.ssrc_value,
        media_index=index,
    )


def _codec_of(media: MediaDescription, payload_type: int) -> TalkCodec | None:
    rtpmap = media.rtpmap(payload_type)
    if rtpmap is None:
        return {8: TalkCodec.PCMA, 0: TalkCodec.PCMU}.get(payload_type)
    encoding = rtpmap.encoding.upper()
    return next((codec for codec, known in _RTPMAPS.items() if known.encoding == encoding), None)


def _description(
    sender_id: str, media_ip: str, port: int, media: MediaDescription, ssrc: str
) -> SessionDescription:
    if _SSRC_TEXT.fullmatch(ssrc) is None:
        raise LocalProtocolError(f"y= SSRC must be exactly 10 digits, got {ssrc!r}")
    if not 0 <= port <= 65535 or not media_ip:
        raise LocalProtocolError(f"unusable media address {media_ip!r}:{port}")
    address_type = "IP6" if ":" in media_ip else "IP4"
    return SessionDescription(
        origin=Origin(sender_id, "0", "0", media_ip, address_type),
        session_name=SessionName.TALK,
        connection=Connection(media_ip, address_type),
        media=(media,),
        ssrc=ssrc,
        media_format=AUDIO_MEDIA_FORMAT,
    )
