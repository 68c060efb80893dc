"""The SDP of two-way talk (`s=Talk`, gb28181.md §4.13 item 3): the platform's offer, the
device's answer, both read back and both refused where they hold no talk."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.gb.talk_sdp import (
    TalkCodec,
    build_talk_answer,
    build_talk_offer,
    read_talk_answer,
    read_talk_offer,
)
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.sdp import Direction, SdpError, Setup, parse_sdp

PLATFORM = "34020000002000000001"
CHANNEL = "34020000001320000001"


def _offer(transport: Transport = Transport.UDP, setup: Setup = Setup.PASSIVE) -> bytes:
    return build_talk_offer(
        sender_id=PLATFORM, media_ip="10.0.0.5", port=30000, transport=transport, setup=setup,
        ssrc="0100000001",
    ).serialise()  # fmt: skip


def test_the_udp_offer_is_a_sendrecv_talk_preferring_pcma() -> None:
    text = _offer().decode("ascii")
    assert text.split("\r\n")[:7] == [
        "v=0",
        f"o={PLATFORM} 0 0 IN IP4 10.0.0.5",
        "s=Talk",
        "c=IN IP4 10.0.0.5",
        "t=0 0",
        "m=audio 30000 RTP/AVP 8 0",
        "a=sendrecv",
    ]
    assert "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n" in text
    assert text.endswith("y=0100000001\r\nf=v/////a/1/8/1\r\n")
    assert "a=setup" not in text


def test_a_tcp_offer_names_our_role_and_a_connecting_side_the_discard_port() -> None:
    passive = _offer(Transport.TCP, Setup.PASSIVE).decode("ascii")
    assert "m=audio 30000 TCP/RTP/AVP 8 0" in passive
    assert "a=setup:passive\r\na=connection:new" in passive
    active = _offer(Transport.TCP, Setup.ACTIVE).decode("ascii")
    assert "m=audio 9 TCP/RTP/AVP 8 0" in active and "a=setup:active" in active


def test_a_bad_ssrc_or_address_is_not_sent() -> None:
    with pytest.raises(LocalProtocolError):
        build_talk_offer(sender_id=PLATFORM, media_ip="10.0.0.5", port=1,
                         transport=Transport.UDP, ssrc="123")  # fmt: skip
    with pytest.raises(LocalProtocolError):
        build_talk_offer(sender_id=PLATFORM, media_ip="", port=1, transport=Transport.UDP,
                         ssrc="0100000001")  # fmt: skip


def test_the_camera_reads_the_offer_and_answers_the_format_it_takes() -> None:
    offer = parse_sdp(_offer(Transport.TCP, Setup.PASSIVE))
    asked = read_talk_offer(offer)
    assert (asked.codec, asked.payload_type, asked.setup) == (TalkCodec.PCMA, 8, Setup.PASSIVE)
    assert (asked.host, asked.port, asked.ssrc) == ("10.0.0.5", 30000, 100000001)
    pcmu = read_talk_offer(offer, accepted=(TalkCodec.PCMU,))
    assert (pcmu.codec, pcmu.payload_type) == (TalkCodec.PCMU, 0)
    answer = build_talk_answer(offer, pcmu, sender_id=CHANNEL, media_ip="10.0.0.9", port=40000,
                               ssrc="0100000001").serialise().decode("ascii")  # fmt: skip
    # The platform listens (passive): the camera connects, naming the discard port.
    assert "m=audio 9 TCP/RTP/AVP 0\r\na=sendrecv\r\na=rtpmap:0 PCMU/8000\r\n" in answer
    assert "a=setup:active" in answer and "s=Talk" in answer


@pytest.mark.parametrize(
    ("body", "codec", "payload_type"),
    [
        # Static payload types without rtpmaps, LF only, no direction: sendrecv.
        ("v=0\no=x 0 0 IN IP4 10.0.0.9\ns=Talk\nc=IN IP4 10.0.0.9\nt=0 0\n"
         "m=audio 40000 RTP/AVP 0\ny=0100000001\n", TalkCodec.PCMU, 0),
        # PS on a dynamic type, a video section first.
        ("v=0\r\no=x 0 0 IN IP4 10.0.0.9\r\ns=Talk\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
         "m=video 0 RTP/AVP 96\r\nm=audio 40000 RTP/AVP 97\r\na=rtpmap:97 ps/90000\r\n"
         "a=sendrecv\r\n", TalkCodec.PS, 97),
    ],
)  # fmt: skip
def test_the_platform_reads_lenient_answers(body: str, codec: TalkCodec, payload_type: int) -> None:
    media = read_talk_answer(parse_sdp(body.encode()), transport=Transport.UDP)
    assert (media.codec, media.payload_type, media.host, media.port) == (
        codec, payload_type, "10.0.0.9", 40000,
    )  # fmt: skip
    assert media.direction is Direction.SENDRECV and media.sends and media.receives


def test_answers_that_hold_no_talk_are_refused() -> None:
    head = "v=0\r\no=x 0 0 IN IP4 10.0.0.9\r\ns=Talk\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    with pytest.raises(SdpError) as no_g711:
        read_talk_answer(parse_sdp(f"{head}m=audio 4000 RTP/AVP 18\r\n".encode()),
                         transport=Transport.UDP)  # fmt: skip
    assert no_g711.value.status_hint == 488
    with pytest.raises(SdpError, match="TCP, the offer UDP"):
        read_talk_answer(parse_sdp(f"{head}m=audio 4000 TCP/RTP/AVP 8\r\n".encode()),
                         transport=Transport.UDP)  # fmt: skip
    with pytest.raises(SdpError, match="port 0"):
        read_talk_answer(parse_sdp(f"{head}m=audio 0 RTP/AVP 8\r\n".encode()),
                         transport=Transport.UDP)  # fmt: skip
    recvonly = read_talk_answer(parse_sdp(f"{head}m=audio 4000 RTP/AVP 8\r\na=recvonly\r\n"
                                          .encode()), transport=Transport.UDP)  # fmt: skip
    assert recvonly.receives and not recvonly.sends


def test_a_play_offer_is_no_talk_for_the_camera() -> None:
    body = _offer().replace(b"s=Talk", b"s=Play")
    with pytest.raises(SdpError, match="not a talk offer"):
        read_talk_offer(parse_sdp(body))
