"""RTP packetiser, checked with aiortc's RTP parser as the independent reader."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.media.rtp_packetizer import RTP_HEADER_SIZE, RtpPacketizer

SSRC = 200_000_001  # y=0200000001 (gb28181.md §6.3)


def test_frame_is_cut_with_one_timestamp_and_marker_on_the_last() -> None:
    frame = bytes(range(256)) * 20  # 5120 bytes → 4 packets of ≤ 1400
    wire = RtpPacketizer(SSRC).packetize(frame, 90000)
    packets = [RtpPacket.parse(data) for data in wire]
    assert [len(data) - RTP_HEADER_SIZE for data in wire] == [1400, 1400, 1400, 920]
    assert [p.marker for p in packets] == [0, 0, 0, 1]
    assert {(p.version, p.payload_type, p.ssrc, p.timestamp) for p in packets} == {
        (2, 96, SSRC, 90000)
    }
    assert [p.sequence_number for p in packets] == [0, 1, 2, 3]
    assert b"".join(p.payload for p in packets) == frame


def test_sequence_runs_on_across_frames_and_wraps() -> None:
    packetizer = RtpPacketizer(SSRC, payload_type=96, max_payload=100, first_sequence=65534)
    first = [RtpPacket.parse(d) for d in packetizer.packetize(b"a" * 250, 0)]
    second = [RtpPacket.parse(d) for d in packetizer.packetize(b"b" * 50, 3600)]
    assert [p.sequence_number for p in first] == [65534, 65535, 0]
    assert [p.sequence_number for p in second] == [1]
    assert second[0].marker == 1 and second[0].timestamp == 3600
    assert packetizer.next_sequence == 2


def test_timestamp_wraps_at_32_bits_and_exact_multiple_leaves_no_empty_packet() -> None:
    wire = RtpPacketizer(SSRC, max_payload=100).packetize(b"x" * 300, (1 << 32) + 5)
    assert len(wire) == 3
    assert {RtpPacket.parse(d).timestamp for d in wire} == {5}
    assert RtpPacketizer(SSRC).packetize(b"", 0) == []


@pytest.mark.parametrize(
    ("ssrc", "payload_type", "max_payload", "first_sequence"),
    [(-1, 96, 1400, 0), (1 << 32, 96, 1400, 0), (1, 128, 1400, 0), (1, 96, 0, 0), (1, 96, 65524, 0),
     (1, 96, 1400, 65536)],
)  # fmt: skip
def test_invalid_arguments_are_rejected(
    ssrc: int, payload_type: int, max_payload: int, first_sequence: int
) -> None:
    with pytest.raises(ValueError):
        RtpPacketizer(ssrc, payload_type, max_payload, first_sequence)


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=5),
    max_payload=st.integers(min_value=1, max_value=1500),
    first_sequence=st.integers(min_value=0, max_value=0xFFFF),
)
def test_reassembly_gives_every_frame_back(
    frames: list[bytes], max_payload: int, first_sequence: int
) -> None:
    packetizer = RtpPacketizer(SSRC, max_payload=max_payload, first_sequence=first_sequence)
    expected_sequence = first_sequence
    for number, frame in enumerate(frames):
        packets = [RtpPacket.parse(d) for d in packetizer.packetize(frame, 3600 * number)]
        assert all(len(p.payload) <= max_payload for p in packets)
        assert [p.marker for p in packets] == [0] * (len(packets) - 1) + [1]
        assert {p.timestamp for p in packets} == {3600 * number}
        for packet in packets:
            assert packet.sequence_number == expected_sequence
            expected_sequence = (expected_sequence + 1) & 0xFFFF
        assert b"".join(p.payload for p in packets) == frame
