"""GB/T 28181 SDP parsing, serialisation and builders (farmwatch.sipserver.sip.sdp, .sdp_build)."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.sdp import (
    Attribute,
    Connection,
    ConnectionMode,
    Direction,
    MediaProtocol,
    Origin,
    RtpMap,
    SdpError,
    SessionDescription,
    SessionName,
    Setup,
    StreamStyle,
    parse_sdp,
)
from farmwatch.sipserver.sip.sdp_build import (
    OFFER_RTPMAPS,
    OFFER_RTPMAPS_H265,
    PS_RTPMAP,
    MediaEndpoint,
    StreamSelection,
    build_answer,
    build_download_offer,
    build_play_offer,
    build_playback_offer,
)

PLATFORM = "34020000002000000001"
CHANNEL = "34020000001310000001"


def crlf(text: str) -> bytes:
    """A body as the reference prints it, with the CRLF line ends of the wire."""
    return "".join(line + "\r\n" for line in text.strip("\n").split("\n")).encode("ascii")


# gb28181.md §11.4 (Content-Length 220) and the device's answer (171).
LIVE_UDP_OFFER = crlf("""
v=0
o=34020000002000000001 0 0 IN IP4 192.168.10.6
s=Play
c=IN IP4 192.168.10.6
t=0 0
m=video 30000 RTP/AVP 96 97 98
a=recvonly
a=rtpmap:96 PS/90000
a=rtpmap:97 MPEG4/90000
a=rtpmap:98 H264/90000
y=0200000001
""")
LIVE_UDP_ANSWER = crlf("""
v=0
o=34020000001310000001 0 0 IN IP4 192.168.20.64
s=Play
c=IN IP4 192.168.20.64
t=0 0
m=video 15060 RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
y=0200000001
f=
""")
# §11.5 (259 / 205).
LIVE_TCP_OFFER = crlf("""
v=0
o=34020000002000000001 0 0 IN IP4 192.168.10.6
s=Play
c=IN IP4 192.168.10.6
t=0 0
m=video 30002 TCP/RTP/AVP 96 97 98
a=recvonly
a=rtpmap:96 PS/90000
a=rtpmap:97 MPEG4/90000
a=rtpmap:98 H264/90000
a=setup:passive
a=connection:new
y=0200000003
""")
LIVE_TCP_ANSWER = crlf("""
v=0
o=34020000001310000001 0 0 IN IP4 192.168.20.64
s=Play
c=IN IP4 192.168.20.64
t=0 0
m=video 15062 TCP/RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
a=setup:active
a=connection:new
y=0200000003
""")
# §11.6 (268 / 189).
PLAYBACK_OFFER = crlf("""
v=0
o=34020000002000000001 0 0 IN IP4 192.168.10.6
s=Playback
u=34020000001310000001:0
c=IN IP4 192.168.10.6
t=1704067200 1704070800
m=video 30004 RTP/AVP 96 97 98
a=recvonly
a=rtpmap:96 PS/90000
a=rtpmap:97 MPEG4/90000
a=rtpmap:98 H264/90000
y=1200000002
""")
PLAYBACK_ANSWER = crlf("""
v=0
o=34020000001310000001 0 0 IN IP4 192.168.20.64
s=Playback
c=IN IP4 192.168.20.64
t=1704067200 1704070800
m=video 15064 RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
y=1200000002
""")
# §11.7 (232).
DOWNLOAD_OFFER = crlf("""
v=0
o=34020000002000000001 0 0 IN IP4 192.168.10.6
s=Download
u=34020000001310000001:0
c=IN IP4 192.168.10.6
t=1704067200 1704070800
m=video 30006 RTP/AVP 96
a=recvonly
a=rtpmap:96 PS/90000
a=downloadspeed:4
y=1200000004
""")


@pytest.mark.parametrize(
    ("body", "length"),
    [
        (LIVE_UDP_OFFER, 220),
        (LIVE_UDP_ANSWER, 171),
        (LIVE_TCP_OFFER, 259),
        (LIVE_TCP_ANSWER, 205),
        (PLAYBACK_OFFER, 268),
        (PLAYBACK_ANSWER, 189),
        (DOWNLOAD_OFFER, 232),
    ],
)
def test_reference_bodies_parse_and_serialise_back_byte_for_byte(body: bytes, length: int) -> None:
    assert len(body) == length  # the fixtures are the reference's bodies
    assert parse_sdp(body).serialise() == body


def test_live_udp_offer_fields() -> None:
    sdp = parse_sdp(LIVE_UDP_OFFER)
    assert sdp.origin == Origin(PLATFORM, "0", "0", "192.168.10.6")
    assert sdp.session_name == SessionName.PLAY and sdp.session_kind is SessionName.PLAY
    assert sdp.connection == Connection("192.168.10.6")
    assert (sdp.start_time, sdp.stop_time) == (0, 0)
    assert sdp.ssrc == "0200000001" and sdp.ssrc_value == 200_000_001
    assert sdp.media_format is None
    video = sdp.video
    assert (video.kind, video.port, video.protocol) == ("video", 30000, MediaProtocol.RTP_AVP)
    assert video.transport is Transport.UDP
    assert video.payload_types == (96, 97, 98)
    assert video.rtpmap(96) == RtpMap(96, "PS", 90000)
    assert video.rtpmap(98) == RtpMap(98, "H264", 90000)
    assert video.direction is Direction.RECVONLY
    assert video.setup is None and video.connection_mode is None
    assert sdp.media_address == "192.168.10.6"


def test_live_udp_answer_has_empty_f_line() -> None:
    sdp = parse_sdp(LIVE_UDP_ANSWER)
    assert sdp.media_format == ""
    assert sdp.video.direction is Direction.SENDONLY
    assert sdp.video.payload_types == (96,)
    assert sdp.media_address == "192.168.20.64"


def test_tcp_offer_and_answer_setup_roles() -> None:
    offer, answer = parse_sdp(LIVE_TCP_OFFER), parse_sdp(LIVE_TCP_ANSWER)
    assert offer.video.transport is answer.video.transport is Transport.TCP
    assert offer.video.setup is Setup.PASSIVE  # our media server listens
    assert answer.video.setup is Setup.ACTIVE  # the device connects
    assert offer.video.connection_mode is answer.video.connection_mode is ConnectionMode.NEW


def test_tcp_active_offer_gets_passive_answer_with_device_address() -> None:
    answer = parse_sdp(
        "v=0\r\no=34020000001310000001 0 0 IN IP4 192.168.20.64\r\ns=Play\r\n"
        "c=IN IP4 192.168.20.64\r\nt=0 0\r\nm=video 15070 TCP/RTP/AVP 96\r\na=sendonly\r\n"
        "a=rtpmap:96 PS/90000\r\na=setup:passive\r\na=connection:new\r\ny=0200000007\r\n"
    )
    assert answer.video.setup is Setup.PASSIVE
    assert (answer.media_address, answer.video.port) == ("192.168.20.64", 15070)


def test_playback_and_download_fields() -> None:
    playback = parse_sdp(PLAYBACK_OFFER)
    assert playback.session_kind is SessionName.PLAYBACK
    assert playback.uri == f"{CHANNEL}:0"
    assert (playback.start_time, playback.stop_time) == (1704067200, 1704070800)
    assert playback.ssrc_value == 1_200_000_002
    download = parse_sdp(DOWNLOAD_OFFER)
    assert download.session_kind is SessionName.DOWNLOAD
    assert download.download_speed == 4
    assert download.video.attributes == (Attribute("downloadspeed", "4"),)


def test_hikvision_platform_answers_with_its_own_ssrc_wvp_127() -> None:
    offer = build_play_offer(
        sender_id=PLATFORM, endpoint=MediaEndpoint("192.168.10.6", 30010), ssrc="0200009319"
    )
    answer = parse_sdp(
        "v=0\r\no=34020000002000000002 0 0 IN IP4 10.1.2.3\r\ns=Play\r\nc=IN IP4 10.1.2.3\r\n"
        "t=0 0\r\nm=video 6000 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\n"
        "y=0703001718\r\nf=\r\n"
    )
    assert offer.ssrc == "0200009319"
    assert answer.ssrc == "0703001718"
    assert answer.ssrc_value == 703_001_718


def test_lenient_device_answer_lf_only_with_extras() -> None:
    body = (
        "v=0\n"
        "o=34020000001310000001 0 0 IN IP4 192.168.20.64\n"
        "s=EmbeddedNetDVR\n"
        "i=VCam Live Video\n"
        "u=34020000001310000001:0\n"
        "c=IN IP4 192.168.20.64\n"
        "b=AS:4096\n"
        "t=0 0\n"
        "m=video 15060 RTP/AVP 96 98\n"
        "a=sendonly\n"
        "a=rtpmap:96 HIKVISION/90000\n"
        "a=rtpmap:98 H264/90000\n"
        "a=filesize:-1\n"
        "a=streamprofile:0\n"
        "garbage line without equals\n"
        "\n"
    )
    sdp = parse_sdp(body.encode())
    assert sdp.session_name == "EmbeddedNetDVR" and sdp.session_kind is None
    assert sdp.ssrc is None and sdp.ssrc_value is None
    assert sdp.video.rtpmap(96) == RtpMap(96, "HIKVISION", 90000)
    assert sdp.video.rtpmap(96) is not None and sdp.video.rtpmap(96).is_vendor_private
    assert sdp.filesize == -1
    assert sdp.stream_number == 0
    assert sdp.uri == f"{CHANNEL}:0"


@pytest.mark.parametrize("y_line", ["", "y=0000000000\r\n", "y=12ab\r\n", "y=99999999999\r\n"])
def test_missing_zero_or_garbage_y_is_kept_raw(y_line: str) -> None:
    body = (
        "v=0\r\no=- 0 0 IN IP4 1.2.3.4\r\ns=Play\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
        "m=video 9 RTP/AVP 96\r\n" + y_line
    )
    sdp = parse_sdp(body)
    raw = y_line[2:-2] if y_line else None
    assert sdp.ssrc == raw
    assert sdp.ssrc_value == (0 if raw == "0000000000" else None)


def test_media_level_connection_and_aliases() -> None:
    sdp = parse_sdp(
        "v=0\r\ns=Play\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8\r\nm=video 9000 rtp/avp/tcp 96\r\n"
        "c=IN IP4 10.0.0.9\r\na=SETUP:Passive\r\na=streamMode:SUB\r\n"
    )
    assert sdp.origin is None and sdp.connection is None
    assert sdp.video.protocol is MediaProtocol.TCP_RTP_AVP
    assert sdp.video.setup is Setup.PASSIVE
    assert sdp.media_address == "10.0.0.9"
    assert sdp.stream_number == 1
    assert len(sdp.media) == 2 and sdp.media[0].kind == "audio"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("", 488),
        ("v=0\r\ns=Play\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n", 488),
        ("v=0\r\ns=Play\r\nt=0 0\r\nm=video 30000 RTP/AVP 96\r\n", 400),
        ("v=0\r\nc=IN IP4\r\nm=video 30000 RTP/AVP 96\r\n", 400),
        ("c=IN IP4 1.2.3.4\r\nm=video abc RTP/AVP 96\r\n", 400),
        ("c=IN IP4 1.2.3.4\r\nm=video 70000 RTP/AVP 96\r\n", 400),
        ("c=IN IP4 1.2.3.4\r\nm=video 30000 RTP/AVP 96 x\r\n", 400),
        ("c=IN IP4 1.2.3.4\r\nm=video 30000 UDP/TLS/RTP/SAVPF 96\r\n", 488),
        ("c=IN IP4 1.2.3.4\r\nt=now later\r\nm=video 30000 RTP/AVP 96\r\n", 400),
    ],
)
def test_unusable_sdp_raises_sdp_error(body: str, status: int) -> None:
    with pytest.raises(SdpError) as raised:
        parse_sdp(body)
    assert raised.value.status_hint == status
    assert raised.value.can_answer


# ---------------------------------------------------------------- builders

ENDPOINT = MediaEndpoint("192.168.10.6", 30000)


def test_builders_reproduce_the_reference_offers_byte_for_byte() -> None:
    assert build_play_offer(
        sender_id=PLATFORM, endpoint=ENDPOINT, ssrc="0200000001"
    ).serialise() == (LIVE_UDP_OFFER)
    tcp = MediaEndpoint("192.168.10.6", 30002, Transport.TCP, Setup.PASSIVE)
    assert build_play_offer(sender_id=PLATFORM, endpoint=tcp, ssrc="0200000003").serialise() == (
        LIVE_TCP_OFFER
    )
    playback = build_playback_offer(
        sender_id=PLATFORM,
        endpoint=MediaEndpoint("192.168.10.6", 30004),
        ssrc="1200000002",
        channel_id=CHANNEL,
        start=1704067200,
        stop=1704070800,
    )
    assert playback.serialise() == PLAYBACK_OFFER
    download = build_download_offer(
        sender_id=PLATFORM,
        endpoint=MediaEndpoint("192.168.10.6", 30006),
        ssrc="1200000004",
        channel_id=CHANNEL,
        start=1704067200,
        stop=1704070800,
        download_speed=4,
        rtpmaps=(PS_RTPMAP,),
    )
    assert download.serialise() == DOWNLOAD_OFFER


def test_offer_options_h265_stream_selection_and_active_tcp() -> None:
    endpoint = MediaEndpoint("10.0.0.1", 40000, Transport.TCP, Setup.ACTIVE)
    offer = build_play_offer(
        sender_id=PLATFORM,
        endpoint=endpoint,
        ssrc="0200000009",
        rtpmaps=OFFER_RTPMAPS_H265,
        stream=StreamSelection(1, StreamStyle.STREAMPROFILE),
    )
    text = offer.serialise().decode()
    assert "m=video 40000 TCP/RTP/AVP 96 97 98 99\r\n" in text
    assert "a=rtpmap:99 H265/90000\r\n" in text
    assert "a=setup:active\r\na=connection:new\r\na=streamprofile:1\r\n" in text
    assert parse_sdp(text).stream_number == 1
    mode = StreamSelection(0, StreamStyle.STREAM_MODE).attribute
    assert str(mode) == "streamMode:MAIN"


@pytest.mark.parametrize("ssrc", ["200000001", "02000000011", "020000000a", "", " 0200000001"])
def test_builders_refuse_a_y_that_is_not_ten_digits(ssrc: str) -> None:
    with pytest.raises(LocalProtocolError):
        build_play_offer(sender_id=PLATFORM, endpoint=ENDPOINT, ssrc=ssrc)


def test_builders_refuse_bad_ranges() -> None:
    with pytest.raises(LocalProtocolError):
        MediaEndpoint("192.168.10.6", 70000)
    with pytest.raises(LocalProtocolError):
        build_playback_offer(
            sender_id=PLATFORM,
            endpoint=ENDPOINT,
            ssrc="1200000002",
            channel_id=CHANNEL,
            start=1704070800,
            stop=1704067200,
        )
    with pytest.raises(LocalProtocolError):
        build_download_offer(
            sender_id=PLATFORM,
            endpoint=ENDPOINT,
            ssrc="1200000002",
            channel_id=CHANNEL,
            start=1,
            stop=2,
            download_speed=0,
        )


@pytest.mark.parametrize(
    ("offer_body", "setup"),
    [(LIVE_UDP_OFFER, None), (LIVE_TCP_OFFER, Setup.ACTIVE)],
)
def test_answer_as_the_called_side(offer_body: bytes, setup: Setup | None) -> None:
    offer = parse_sdp(offer_body)
    answer = build_answer(
        offer,
        sender_id=CHANNEL,
        media_ip="192.168.30.2",
        port=20000,
        ssrc="0200000001",
        media_format="",
    )
    parsed = parse_sdp(answer.serialise())
    assert parsed == answer
    assert parsed.video.direction is Direction.SENDONLY
    assert parsed.video.protocol is offer.video.protocol
    assert parsed.video.setup is setup
    assert parsed.video.payload_types == (96,)
    assert parsed.session_name == offer.session_name
    assert parsed.media_format == ""
    assert parsed.origin == Origin(CHANNEL, "0", "0", "192.168.30.2")


def test_answer_to_an_active_offer_is_passive_and_keeps_times() -> None:
    offer = build_playback_offer(
        sender_id=PLATFORM,
        endpoint=MediaEndpoint("10.0.0.1", 40000, Transport.TCP, Setup.ACTIVE),
        ssrc="1200000002",
        channel_id=CHANNEL,
        start=1704067200,
        stop=1704070800,
    )
    answer = build_answer(
        offer, sender_id=CHANNEL, media_ip="10.0.0.2", port=5000, ssrc="1200000002"
    )
    assert answer.video.setup is Setup.PASSIVE
    assert (answer.start_time, answer.stop_time) == (1704067200, 1704070800)
    assert answer.session_kind is SessionName.PLAYBACK


# ---------------------------------------------------------------- properties

_LINE_ORDER = re.compile(r"vosu?ct(ma*)+yf?")


def _line_kinds(body: bytes) -> str:
    lines = body.decode("ascii").split("\r\n")
    assert lines[-1] == "" and all(lines[:-1])  # CRLF after every line, no blank lines
    return "".join(line[0] for line in lines[:-1])


_IPS = st.sampled_from(["192.168.10.6", "10.0.0.1", "2001:db8::1"])
_SSRCS = st.integers(min_value=0, max_value=1_999_999_999).map(lambda v: f"{v:010d}")
_ENDPOINTS = st.builds(
    MediaEndpoint,
    ip=_IPS,
    port=st.integers(min_value=0, max_value=65535),
    transport=st.sampled_from(Transport),
    setup=st.sampled_from(Setup),
)
_RTPMAPS = st.sampled_from([OFFER_RTPMAPS, OFFER_RTPMAPS_H265, (PS_RTPMAP,)])
_STREAMS = st.none() | st.builds(
    StreamSelection, number=st.integers(0, 3), style=st.sampled_from(StreamStyle)
)
_RANGES = st.tuples(st.integers(1, 2**31), st.integers(1, 2**31)).filter(lambda r: r[0] < r[1])


@st.composite
def _built(draw: st.DrawFn) -> SessionDescription:
    common = {"sender_id": PLATFORM, "endpoint": draw(_ENDPOINTS), "ssrc": draw(_SSRCS)}
    choice = draw(st.sampled_from(["play", "playback", "download", "answer"]))
    if choice == "play":
        return build_play_offer(**common, rtpmaps=draw(_RTPMAPS), stream=draw(_STREAMS))
    start, stop = draw(_RANGES)
    if choice == "playback":
        return build_playback_offer(**common, channel_id=CHANNEL, start=start, stop=stop)
    offer = build_download_offer(
        **common, channel_id=CHANNEL, start=start, stop=stop, download_speed=draw(st.integers(1, 8))
    )
    if choice == "download":
        return offer
    return build_answer(
        offer,
        sender_id=CHANNEL,
        media_ip=draw(_IPS),
        port=draw(st.integers(0, 65535)),
        ssrc=draw(_SSRCS),
        media_format=draw(st.none() | st.just("") | st.just("v/2/5/25/1/4096a///")),
    )


@settings(max_examples=200)
@given(_built())
def test_builder_output_round_trips_in_gb_line_order(sdp: SessionDescription) -> None:
    body = sdp.serialise()
    assert parse_sdp(body) == sdp
    assert _LINE_ORDER.fullmatch(_line_kinds(body)), body
    assert re.search(rb"\r\ny=[0-9]{10}\r\n", body)


@settings(max_examples=300)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_input_raises_only_sdp_error(body: str | bytes) -> None:
    with contextlib.suppress(SdpError):
        parse_sdp(body)


_SDP_LINES = st.sampled_from(
    [
        "v=0",
        "o=a 1 2 IN IP4 1.2.3.4",
        "o=x",
        "s=Play",
        "s=",
        "u=x:0",
        "c=IN IP4 1.2.3.4",
        "c=",
        "t=0 0",
        "t=1",
        "m=video 1 RTP/AVP 96",
        "m=video 1 TCP/RTP/AVP",
        "m=audio 2 RTP/AVP 8 0",
        "a=recvonly",
        "a=rtpmap:96 PS/90000",
        "a=rtpmap:xx",
        "a=setup:active",
        "a=setup:",
        "a=connection:new",
        "a=downloadspeed:x",
        "a=filesize:-1",
        "y=0200000001",
        "y=",
        "f=",
        "i=info",
        "junk",
        "",
    ]
)


@settings(max_examples=300)
@given(st.lists(_SDP_LINES, max_size=20), st.sampled_from(["\r\n", "\n"]))
def test_near_miss_sdp_raises_only_sdp_error_and_reserialises(lines: list[str], eol: str) -> None:
    try:
        sdp = parse_sdp(eol.join(lines))
    except SdpError:
        return
    assert parse_sdp(sdp.serialise()).media == sdp.media
    _ = (sdp.download_speed, sdp.filesize, sdp.stream_number, sdp.ssrc_value, sdp.media_address)
