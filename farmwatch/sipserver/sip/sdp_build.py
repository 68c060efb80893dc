"""Builders of the SDP bodies we send (gb28181.md §6.2, §6.5, §6.8, §6.9, §11.4-11.7).

Offers (we invite a device or lower platform; `a=recvonly`, we receive):
`build_play_offer`, `build_playback_offer`, `build_download_offer`. The answer we give as the
called side of a cascade (`a=sendonly`, we send): `build_answer`. The offers are kept short,
as devices refuse long ones: `m=video <port> RTP/AVP 96 97 98` with PS, MPEG4 and H264
rtpmaps (`OFFER_RTPMAPS_H265` adds `99 H265/90000`); TCP adds `a=setup` and
`a=connection:new` (RFC 4571/4145). `y=` must be exactly 10 digits (Hikvision ignores
anything else), so a bad SSRC is a `LocalProtocolError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.sdp import (
    Attribute,
    Connection,
    ConnectionMode,
    Direction,
    MediaDescription,
    MediaProtocol,
    Origin,
    RtpMap,
    SessionDescription,
    SessionName,
    Setup,
    StreamStyle,
)

PS_RTPMAP = RtpMap(96, "PS", 90000)
OFFER_RTPMAPS = (PS_RTPMAP, RtpMap(97, "MPEG4", 90000), RtpMap(98, "H264", 90000))
OFFER_RTPMAPS_H265 = (*OFFER_RTPMAPS, RtpMap(99, "H265", 90000))
PLAYBACK_URI_PARAMETER = 0
"""`u=<channel>:0` — record type 0 (all), what every implementation sends."""

_SSRC_TEXT_RE = re.compile(r"[0-9]{10}")


@dataclass(frozen=True, slots=True)
class MediaEndpoint:
    """Our media address for one stream: where we receive (offer) or send from (answer)."""

    ip: str
    port: int
    transport: Transport = Transport.UDP
    setup: Setup = Setup.PASSIVE
    """TCP only: PASSIVE = our media server listens (the GB default), ACTIVE = it connects."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise LocalProtocolError(f"media port out of range: {self.port}")
        if not self.ip:
            raise LocalProtocolError("media endpoint without an IP address")


@dataclass(frozen=True, slots=True)
class StreamSelection:
    """Main (0) or sub (1, 2...) stream, written in the style the channel understands."""

    number: int
    style: StreamStyle = StreamStyle.STREAMNUMBER

    @property
    def attribute(self) -> Attribute:
        if self.style is StreamStyle.STREAM_MODE:
            return Attribute(self.style.value, "MAIN" if self.number == 0 else "SUB")
        return Attribute(self.style.value, str(self.number))


def build_play_offer(
    *,
    sender_id: str,
    endpoint: MediaEndpoint,
    ssrc: str,
    rtpmaps: tuple[RtpMap, ...] = OFFER_RTPMAPS,
    stream: StreamSelection | None = None,
) -> SessionDescription:
    """`s=Play`, `t=0 0` (§6.2, §11.4, §11.5)."""
    extra = (stream.attribute,) if stream is not None else ()
    return _build_offer(SessionName.PLAY, sender_id, endpoint, ssrc, rtpmaps, extra)


def build_playback_offer(
    *,
    sender_id: str,
    endpoint: MediaEndpoint,
    ssrc: str,
    channel_id: str,
    start: int,
    stop: int,
    rtpmaps: tuple[RtpMap, ...] = OFFER_RTPMAPS,
) -> SessionDescription:
    """`s=Playback`, `u=<channel>:0`, `t=<start> <stop>` in Unix seconds (§6.8, §11.6)."""
    return _build_offer(
        SessionName.PLAYBACK,
        sender_id,
        endpoint,
        ssrc,
        rtpmaps,
        (),
        uri=f"{channel_id}:{PLAYBACK_URI_PARAMETER}",
        times=_check_times(start, stop),
    )


def build_download_offer(
    *,
    sender_id: str,
    endpoint: MediaEndpoint,
    ssrc: str,
    channel_id: str,
    start: int,
    stop: int,
    download_speed: int,
    rtpmaps: tuple[RtpMap, ...] = OFFER_RTPMAPS,
) -> SessionDescription:
    """`s=Download` plus `a=downloadspeed:<n>` (§6.9, §11.7)."""
    if not 1 <= download_speed <= 256:
        raise LocalProtocolError(f"download speed out of range: {download_speed}")
    return _build_offer(
        SessionName.DOWNLOAD,
        sender_id,
        endpoint,
        ssrc,
        rtpmaps,
        (Attribute("downloadspeed", str(download_speed)),),
        uri=f"{channel_id}:{PLAYBACK_URI_PARAMETER}",
        times=_check_times(start, stop),
    )


def build_answer(
    offer: SessionDescription,
    *,
    sender_id: str,
    media_ip: str,
    port: int,
    ssrc: str,
    media_format: str | None = None,
) -> SessionDescription:
    """Our 200 OK body when an upper platform invites us (§6.6, §9.2).

    Echoes the offer's session name, times and transport; answers PS on the offer's PS
    payload type (96 if it has none); for TCP takes the role opposite to the offer's
    `a=setup` (actpass → active: we connect to the upper's media server).
    """
    offered = offer.video
    ps = next((m for m in offered.rtpmaps if m.encoding.upper() == "PS"), PS_RTPMAP)
    is_tcp = offered.transport is Transport.TCP
    media = MediaDescription(
        port=MediaEndpoint(media_ip, port).port,  # validates ip and port
        protocol=offered.protocol,
        payload_types=(ps.payload_type,),
        rtpmaps=(ps,),
        direction=Direction.SENDONLY,
        setup=(offered.setup or Setup.PASSIVE).answer if is_tcp else None,
        connection_mode=ConnectionMode.NEW if is_tcp else None,
    )
    return SessionDescription(
        origin=_origin(sender_id, media_ip),
        session_name=offer.session_name,
        connection=_connection(media_ip),
        media=(media,),
        start_time=offer.start_time,
        stop_time=offer.stop_time,
        ssrc=_check_ssrc(ssrc),
        media_format=media_format,
    )


def _build_offer(
    session_name: SessionName,
    sender_id: str,
    endpoint: MediaEndpoint,
    ssrc: str,
    rtpmaps: tuple[RtpMap, ...],
    attributes: tuple[Attribute, ...],
    *,
    uri: str | None = None,
    times: tuple[int, int] = (0, 0),
) -> SessionDescription:
    if not rtpmaps:
        raise LocalProtocolError("an offer needs at least one rtpmap")
    is_tcp = endpoint.transport is Transport.TCP
    media = MediaDescription(
        port=endpoint.port,
        protocol=MediaProtocol.for_transport(endpoint.transport),
        payload_types=tuple(m.payload_type for m in rtpmaps),
        rtpmaps=rtpmaps,
        direction=Direction.RECVONLY,
        setup=endpoint.setup if is_tcp else None,
        connection_mode=ConnectionMode.NEW if is_tcp else None,
        attributes=attributes,
    )
    return SessionDescription(
        origin=_origin(sender_id, endpoint.ip),
        session_name=session_name,
        connection=_connection(endpoint.ip),
        media=(media,),
        start_time=times[0],
        stop_time=times[1],
        uri=uri,
        ssrc=_check_ssrc(ssrc),
    )


def _address_type(ip: str) -> str:
    return "IP6" if ":" in ip else "IP4"


def _origin(sender_id: str, ip: str) -> Origin:
    """`o=<our ID> 0 0 IN IP4 <ip>` (the standard: the sender's own device ID)."""
    return Origin(sender_id, "0", "0", ip, _address_type(ip))


def _connection(ip: str) -> Connection:
    return Connection(ip, _address_type(ip))


def _check_ssrc(ssrc: str) -> str:
    if _SSRC_TEXT_RE.fullmatch(ssrc) is None:
        raise LocalProtocolError(f"y= SSRC must be exactly 10 digits, got {ssrc!r}")
    return ssrc


def _check_times(start: int, stop: int) -> tuple[int, int]:
    if not 0 < start < stop:
        raise LocalProtocolError(f"playback range must satisfy 0 < start < stop: {start}, {stop}")
    return start, stop
