"""A relay's RTP: our sequence numbers, SSRC and payload type; markers, payload sizes and
timestamps continuous from the source's; read back with aiortc's RTP parser and our RFC 4571
deframer (independent readers of the wire)."""

from __future__ import annotations

from aiortc.rtp import RtpPacket
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.relay.packetizer import RelayPacketizer, RelayTimeline
from farmwatch.media.rfc4571 import Framing, Rfc4571Deframer

SSRC = 100_000_123  # the upper's y=


def frame(size: int, timestamp: int, *, key: bool = False, **flags: bool) -> PsFrame:
    return PsFrame(bytes(index % 251 for index in range(size)), timestamp, key, **flags)


def parse(wire: list[bytes]) -> list[RtpPacket]:
    return [RtpPacket.parse(data) for data in wire]


def test_a_frame_is_cut_into_payloads_of_1400_with_the_marker_on_the_last() -> None:
    packetizer = RelayPacketizer(SSRC, first_sequence=7)
    ps = frame(5000, 3600)
    packets = parse(packetizer.packets(ps))
    assert [len(p.payload) for p in packets] == [1400, 1400, 1400, 800]
    assert [p.marker for p in packets] == [0, 0, 0, 1]
    assert {(p.version, p.payload_type, p.ssrc, p.timestamp) for p in packets} == {
        (2, 96, SSRC, 3600)
    }
    assert [p.sequence_number for p in packets] == [7, 8, 9, 10]
    assert b"".join(p.payload for p in packets) == ps.data


def test_sequence_numbers_are_ours_and_run_on_across_frames_and_the_wrap() -> None:
    packetizer = RelayPacketizer(SSRC, 98, first_sequence=65534)
    first = parse(packetizer.packets(frame(2000, 0, key=True)))
    second = parse(packetizer.packets(frame(100, 3600)))
    assert [p.sequence_number for p in first + second] == [65534, 65535, 0]
    assert {p.payload_type for p in first + second} == {98}
    assert packetizer.next_sequence == 1


def test_bytes_ending_at_a_loss_have_no_marker_and_the_gap_shows_in_the_sequence() -> None:
    packetizer = RelayPacketizer(SSRC, first_sequence=100)
    before = parse(packetizer.packets(frame(1500, 3600, is_complete=False)))
    after = parse(packetizer.packets(frame(700, 3600, after_loss=True)))
    assert [p.marker for p in before] == [0, 0]
    assert [(p.sequence_number, p.marker, p.timestamp) for p in after] == [(103, 1, 3600)]


def test_a_loss_before_the_first_frame_sent_leaves_no_gap() -> None:
    packetizer = RelayPacketizer(SSRC, first_sequence=5)
    (packet,) = parse(packetizer.packets(frame(10, 0, key=True, after_loss=True)))
    assert packet.sequence_number == 5


def test_over_tcp_each_packet_has_its_rfc_4571_length_in_one_buffer_per_frame() -> None:
    udp, tcp = RelayPacketizer(SSRC, first_sequence=9), RelayPacketizer(SSRC, first_sequence=9)
    frames = [frame(4000, 0, key=True), frame(1400, 3600), frame(1, 7200)]
    deframer = Rfc4571Deframer(framing=Framing.RFC4571)
    for ps in frames:
        data, count = tcp.framed(ps)
        datagrams = udp.packets(ps)
        assert deframer.feed(data) == datagrams  # the same packets, framed
        assert count == len(datagrams)
    assert tcp.framed(PsFrame(b"", 10800, False)) == (b"", 0)


def test_timestamps_follow_the_source_and_stay_continuous_across_its_jumps() -> None:
    timeline = RelayTimeline()
    source = [1000, 4600, 4600, 8200, 7000, 11800]  # audio a little behind, the source's
    assert [timeline.map(ts) for ts in source] == source
    # The source's clock jumps (a new dialog, a seek): ours goes on one frame later.
    assert timeline.map(500_000_000) == 11800 + 3600
    assert timeline.map(500_003_600) == 11800 + 7200
    assert timeline.map(100) == 11800 + 10800  # backwards, far: a jump too
    assert timeline.map(3700) == 11800 + 14400


def test_the_32_bit_wrap_of_the_source_is_no_jump() -> None:
    timeline = RelayTimeline()
    assert timeline.map(0xFFFFFFFF - 1799) == 0xFFFFFFFF - 1799
    assert timeline.map(1800) == 1800


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=20_000), min_size=1, max_size=20),
    first=st.integers(min_value=0, max_value=0xFFFF),
)
def test_any_frames_give_continuous_sequences_one_marker_each_and_the_same_bytes(
    sizes: list[int], first: int
) -> None:
    packetizer = RelayPacketizer(SSRC, first_sequence=first)
    frames = [frame(size, number * 3600) for number, size in enumerate(sizes)]
    packets = parse([data for ps in frames for data in packetizer.packets(ps)])
    assert [p.sequence_number for p in packets] == [
        (first + index) & 0xFFFF for index in range(len(packets))
    ]
    assert sum(p.marker for p in packets) == len(frames)
    assert all(0 < len(p.payload) <= 1400 for p in packets)
    assert b"".join(p.payload for p in packets) == b"".join(ps.data for ps in frames)
