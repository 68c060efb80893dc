"""Voice broadcast MANSCDP (gb28181.md §4.13): the Notify we send, the device's Response, and the
device's audio INVITE read and answered."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.gb.audio_sdp import (
    AUDIO_MEDIA_FORMAT,
    AudioFormat,
    build_audio_answer,
    build_audio_offer,
    read_audio_offer,
)
from farmwatch.sipserver.gb.manscdp import BroadcastNotify, CmdType, ControlResponse, ResultCode
from farmwatch.sipserver.gb.manscdp_build import build_broadcast_notify, build_control_response
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.sdp import Direction, SdpError, Setup, parse_sdp

PLATFORM = "34020000002000000001"
CHANNEL = "34020000001320000001"


def test_the_notify_is_the_standards_body_and_reads_back() -> None:
    body = build_broadcast_notify(17, PLATFORM, CHANNEL)
    text = body.decode("gb2312")
    assert text.splitlines()[1:] == [
        "<Notify>",
        "<CmdType>Broadcast</CmdType>",
        "<SN>17</SN>",
        f"<SourceID>{PLATFORM}</SourceID>",
        f"<TargetID>{CHANNEL}</TargetID>",
        "</Notify>",
    ]
    assert "DeviceID" not in text
    assert parse_manscdp(body) == BroadcastNotify("", 17, PLATFORM, CHANNEL)


def test_a_notify_with_the_device_id_some_platforms_add_still_reads() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Notify><CmdType>Broadcast</CmdType><SN>3</SN>'
        f"<DeviceID>{CHANNEL}</DeviceID><SourceID>{PLATFORM}</SourceID>"
        f"<TargetID>{CHANNEL}</TargetID></Notify>"
    ).encode()
    assert parse_manscdp(body) == BroadcastNotify(CHANNEL, 3, PLATFORM, CHANNEL)


@pytest.mark.parametrize("result", [ResultCode.OK, ResultCode.ERROR])
def test_the_devices_response_is_a_broadcast_result(result: ResultCode) -> None:
    body = build_control_response(CHANNEL, 17, CmdType.BROADCAST, result,
                                  charset=ManscdpCharset.UTF8)  # fmt: skip
    assert parse_manscdp(body) == ControlResponse(CHANNEL, 17, CmdType.BROADCAST, result)


def _invite(media: str, *, extra: str = "", ssrc: str = "y=0100000001\r\n") -> bytes:
    return (
        f"v=0\r\no={CHANNEL} 0 0 IN IP4 192.168.1.64\r\ns=Play\r\nc=IN IP4 192.168.1.64\r\n"
        f"t=0 0\r\n{media}{extra}{ssrc}f=v/////a/1/8/1\r\n"
    ).encode()


def test_raw_pcma_over_udp_as_the_standard_shows_it() -> None:
    offer = parse_sdp(_invite("m=audio 8000 RTP/AVP 8\r\na=recvonly\r\na=rtpmap:8 PCMA/8000\r\n"))
    audio = read_audio_offer(offer)
    assert (audio.host, audio.port, audio.transport, audio.setup) == (
        "192.168.1.64", 8000, Transport.UDP, None)  # fmt: skip
    assert (audio.audio_format, audio.payload_type, audio.ssrc) == (
        AudioFormat.PCMA, 8, 100000001)  # fmt: skip
    answer = build_audio_answer(offer, audio, sender_id=PLATFORM, media_ip="10.0.0.5",
                                port=30000, ssrc="0100000001")  # fmt: skip
    assert answer.serialise().decode().split("\r\n") == [
        "v=0",
        f"o={PLATFORM} 0 0 IN IP4 10.0.0.5",
        "s=Play",
        "c=IN IP4 10.0.0.5",
        "t=0 0",
        "m=audio 30000 RTP/AVP 8",
        "a=sendonly",
        "a=rtpmap:8 PCMA/8000",
        "y=0100000001",
        f"f={AUDIO_MEDIA_FORMAT}",
        "",
    ]


def test_pcma_without_an_rtpmap_is_payload_type_8() -> None:
    audio = read_audio_offer(parse_sdp(_invite("m=audio 8000 RTP/AVP 8\r\n", ssrc="")))
    assert (audio.audio_format, audio.payload_type, audio.ssrc) == (AudioFormat.PCMA, 8, None)


def test_ps_over_tcp_where_the_device_connects() -> None:
    offer = parse_sdp(_invite(
        "m=audio 9 TCP/RTP/AVP 96\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\n"
        "a=setup:active\r\na=connection:new\r\n"
    ))  # fmt: skip
    audio = read_audio_offer(offer)
    assert (audio.transport, audio.setup, audio.we_listen) == (Transport.TCP, Setup.ACTIVE, True)
    assert (audio.audio_format, audio.payload_type) == (AudioFormat.PS, 96)
    answer = build_audio_answer(offer, audio, sender_id=PLATFORM, media_ip="10.0.0.5",
                                port=30002, ssrc="0100000001")  # fmt: skip
    media = answer.media[0]
    assert (media.kind, media.port, media.direction) == ("audio", 30002, Direction.SENDONLY)
    assert media.setup is Setup.PASSIVE  # we listen: the device connects
    assert [str(m) for m in media.rtpmaps] == ["96 PS/90000"]
    assert "a=connection:new" in answer.to_text()


@pytest.mark.parametrize("setup_line", ["a=setup:passive\r\n", "", "a=setup:actpass\r\n"])
def test_tcp_where_the_device_listens_we_connect(setup_line: str) -> None:
    offer = parse_sdp(_invite(f"m=audio 7000 TCP/RTP/AVP 8\r\n{setup_line}"))
    audio = read_audio_offer(offer)
    assert (audio.setup, audio.we_listen) == (Setup.PASSIVE, False)
    answer = build_audio_answer(offer, audio, sender_id=PLATFORM, media_ip="10.0.0.5",
                                port=30004, ssrc="0100000001")  # fmt: skip
    assert answer.media[0].setup is Setup.ACTIVE


def test_the_device_listing_order_decides_between_ps_and_pcma() -> None:
    both = "m=audio 8000 RTP/AVP 96 8\r\na=rtpmap:96 PS/90000\r\na=rtpmap:8 PCMA/8000\r\n"
    assert read_audio_offer(parse_sdp(_invite(both))).audio_format is AudioFormat.PS
    reverse = "m=audio 8000 RTP/AVP 8 96\r\na=rtpmap:96 PS/90000\r\n"
    assert read_audio_offer(parse_sdp(_invite(reverse))).audio_format is AudioFormat.PCMA


def test_the_audio_section_is_taken_after_a_video_one() -> None:
    offer = parse_sdp(_invite("m=video 6000 RTP/AVP 96\r\na=rtpmap:96 PS/90000\r\n"
                              "m=audio 8002 RTP/AVP 8\r\n"))  # fmt: skip
    audio = read_audio_offer(offer)
    assert (audio.media_index, audio.port, audio.audio_format) == (1, 8002, AudioFormat.PCMA)


def test_an_offer_of_other_codecs_is_488() -> None:
    offer = parse_sdp(_invite("m=audio 8000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
    with pytest.raises(SdpError) as raised:
        read_audio_offer(offer)
    assert raised.value.status_hint == 488


def test_our_answer_refuses_a_bad_ssrc() -> None:
    offer = parse_sdp(_invite("m=audio 8000 RTP/AVP 8\r\n"))
    with pytest.raises(LocalProtocolError):
        build_audio_answer(offer, read_audio_offer(offer), sender_id=PLATFORM,
                           media_ip="10.0.0.5", port=1, ssrc="12345")  # fmt: skip


def test_our_offer_to_an_upper_is_a_devices_and_reads_back() -> None:
    """The cascade INVITEs an upper for its broadcast's audio as a device would (§4.13)."""
    offer = build_audio_offer(CHANNEL, media_ip="10.0.0.7", port=31000, ssrc="0000012345",
                              tcp=False)  # fmt: skip
    text = offer.serialise().decode("ascii")
    assert text.splitlines() == [
        "v=0", f"o={CHANNEL} 0 0 IN IP4 10.0.0.7", "s=Play", "c=IN IP4 10.0.0.7", "t=0 0",
        "m=audio 31000 RTP/AVP 8", "a=recvonly", "a=rtpmap:8 PCMA/8000", "y=0000012345",
        f"f={AUDIO_MEDIA_FORMAT}",
    ]  # fmt: skip
    audio = read_audio_offer(parse_sdp(text.encode()))
    assert (audio.host, audio.port, audio.transport) == ("10.0.0.7", 31000, Transport.UDP)
    assert (audio.audio_format, audio.payload_type, audio.ssrc) == (AudioFormat.PCMA, 8, 12345)


def test_our_offer_over_tcp_listens_for_the_upper() -> None:
    offer = build_audio_offer(CHANNEL, media_ip="10.0.0.7", port=31000, ssrc="0000012345",
                              tcp=True)  # fmt: skip
    parsed = parse_sdp(offer.serialise())
    assert parsed.media[0].direction is Direction.RECVONLY
    audio = read_audio_offer(parsed)
    # The upper reads a passive device: it connects to us.
    assert (audio.transport, audio.setup, audio.we_listen) == (Transport.TCP, Setup.PASSIVE,
                                                               False)  # fmt: skip


@pytest.mark.parametrize(("ssrc", "port"), [("12345", 31000), ("0000012345", 0)])
def test_an_offer_with_a_bad_ssrc_or_port_is_not_built(ssrc: str, port: int) -> None:
    with pytest.raises(LocalProtocolError):
        build_audio_offer(CHANNEL, media_ip="10.0.0.7", port=port, ssrc=ssrc, tcp=False)
