"""RTP/RTCP wire format (RFC 3550 §5.1, §6.4-§6.6): round trips and known bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.media import (
    ReportBlock,
    RtcpBye,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpSourceDescription,
    RtpHeaderExtension,
    RtpPacket,
    RtpParseError,
    build_receiver_report,
    is_rtcp,
    parse_rtcp,
)

u32 = st.integers(0, 0xFFFFFFFF)

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=u32,
    ssrc=u32,
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(u32, max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpHeaderExtension,
        profile=st.integers(0, 0xFFFF),
        data=st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4)),
    ),
    padding_size=st.integers(0, 255).filter(lambda n: n != 1) | st.just(1),
)


@settings(max_examples=200)
@given(packets)
def test_rtp_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(packet.serialize()) == packet


def test_rtp_known_bytes_gb_ps_packet() -> None:
    wire = bytes.fromhex("80e0 0001 00015f90 0bebc201") + b"PS"
    packet = RtpPacket.parse(wire)
    assert (packet.payload_type, packet.marker, packet.sequence_number) == (96, True, 1)
    assert (packet.timestamp, packet.ssrc, packet.payload) == (90000, 200_000_001, b"PS")
    assert packet.serialize() == wire


@pytest.mark.parametrize(
    "wire",
    [
        b"\x80\x60\x00",  # short
        bytes.fromhex("40600001000000000000000a"),  # version 1
        bytes.fromhex("82600001000000000000000a00000001"),  # 2 CSRC, 1 present
        bytes.fromhex("90600001000000000000000abede0002aaaa"),  # extension truncated
        bytes.fromhex("a0600001000000000000000a00"),  # padding count 0
        bytes.fromhex("a0600001000000000000000a0109"),  # padding longer than packet
    ],
)
def test_malformed_rtp_raises(wire: bytes) -> None:
    with pytest.raises(RtpParseError):
        RtpPacket.parse(wire)


blocks = st.builds(
    ReportBlock,
    ssrc=u32,
    fraction_lost=st.integers(0, 255),
    packets_lost=st.integers(-(1 << 23), (1 << 23) - 1),
    highest_sequence=u32,
    jitter=u32,
    last_sr=u32,
    delay_since_last_sr=u32,
)
rtcp_packets = st.one_of(
    st.builds(
        RtcpSenderReport,
        u32,
        st.integers(0, (1 << 64) - 1),
        u32,
        u32,
        u32,
        st.lists(blocks, max_size=3).map(tuple),
    ),
    st.builds(RtcpReceiverReport, u32, st.lists(blocks, max_size=3).map(tuple)),
    st.builds(
        RtcpSourceDescription,
        st.lists(st.tuples(u32, st.text(min_size=1, max_size=40)), max_size=3).map(tuple),
    ),
    st.builds(RtcpBye, st.lists(u32, max_size=3).map(tuple), st.none() | st.text(max_size=20)),
)


@settings(max_examples=200)
@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_rtcp_compound_round_trip(packets: list) -> None:  # type: ignore[type-arg]
    wire = b"".join(p.serialize() for p in packets)
    assert parse_rtcp(wire) == packets
    assert is_rtcp(wire)


def test_receiver_report_compound_has_rr_then_sdes_cname() -> None:
    block = ReportBlock(0x0BEBC201, 25, 3, 0x10005, 120, 0x12345678, 65536)
    wire = build_receiver_report(0x11223344, (block,), "farmwatch@34020000002000000001")
    assert wire[:8] == bytes.fromhex("81c90007 11223344")
    assert wire[32:34] == bytes.fromhex("81ca")  # RR: 4 + 4 + 24 bytes
    assert len(wire) % 4 == 0
    rr, sdes = parse_rtcp(wire)
    assert rr == RtcpReceiverReport(0x11223344, (block,))
    assert sdes == RtcpSourceDescription(((0x11223344, "farmwatch@34020000002000000001"),))


def test_unknown_rtcp_types_are_skipped_and_truncation_raises() -> None:
    app = bytes.fromhex("80cc0002 00000001 6e616d65")  # APP
    bye = RtcpBye((7,)).serialize()
    assert parse_rtcp(app + bye) == [RtcpBye((7,))]
    with pytest.raises(RtpParseError):
        parse_rtcp(bye[:-1])
    with pytest.raises(RtpParseError):
        parse_rtcp(bytes.fromhex("80c80001 00000001"))  # SR with no sender info
