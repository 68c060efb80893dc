"""UDP reorder buffer (gb28181.md §8.1): order, wrap-around, late/duplicate, gap skipping."""

from __future__ import annotations

from farmwatch.media import PacketsLost, ReorderBuffer, RtpPacket


def packet(sequence: int) -> RtpPacket:
    return RtpPacket(96, sequence & 0xFFFF, 0, 1, payload=b"x")


def sequences(items: list[RtpPacket | PacketsLost]) -> list[int | str]:
    return [
        i.sequence_number if isinstance(i, RtpPacket) else f"lost {i.first_sequence}+{i.count}"
        for i in items
    ]


def test_in_order_packets_pass_through_across_the_wrap() -> None:
    buffer = ReorderBuffer()
    out = [item for s in range(65533, 65540) for item in buffer.push(packet(s), 0.0)]
    assert sequences(out) == [65533, 65534, 65535, 0, 1, 2, 3]
    assert buffer.next_deadline() is None


def test_reordered_packets_are_released_in_order_across_the_wrap() -> None:
    buffer = ReorderBuffer()
    out = []
    for s in [65534, 0, 65535, 2, 1]:
        out += buffer.push(packet(s), 0.0)
    assert sequences(out) == [65534, 65535, 0, 1, 2]
    assert buffer.lost == 0


def test_late_and_duplicate_packets_are_dropped() -> None:
    buffer = ReorderBuffer()
    out = buffer.push(packet(10), 0.0) + buffer.push(packet(12), 0.0)
    out += buffer.push(packet(12), 0.0) + buffer.push(packet(9), 0.0) + buffer.push(packet(10), 0)
    out += buffer.push(packet(11), 0.0)
    assert sequences(out) == [10, 11, 12]
    assert (buffer.late, buffer.duplicates) == (2, 1)


def test_gap_is_skipped_after_max_delay_and_reported() -> None:
    buffer = ReorderBuffer(max_delay=0.1)
    assert sequences(buffer.push(packet(65535), 1.0)) == [65535]
    assert buffer.push(packet(2), 1.02) == []
    assert buffer.push(packet(3), 1.05) == []
    assert buffer.next_deadline() == 1.02 + 0.1
    assert buffer.tick(1.1) == []
    assert sequences(buffer.tick(1.13)) == ["lost 0+2", 2, 3]
    assert buffer.lost == 2
    assert buffer.next_deadline() is None
    assert sequences(buffer.push(packet(1), 1.2)) == []  # too late now
    assert sequences(buffer.push(packet(4), 1.2)) == [4]


def test_full_buffer_skips_the_gap_without_waiting() -> None:
    buffer = ReorderBuffer(capacity=3, max_delay=10.0)
    out = buffer.push(packet(100), 0.0)
    for s in [102, 103, 104]:
        out += buffer.push(packet(s), 0.0)
    assert sequences(out) == [100]
    out = buffer.push(packet(106), 0.0)
    assert sequences(out) == ["lost 101+1", 102, 103, 104]
    assert buffer.lost == 1


def test_restarted_sender_is_followed_after_a_run_of_late_packets() -> None:
    buffer = ReorderBuffer(capacity=4)
    buffer.push(packet(30000), 0.0)
    out = []
    for s in range(10, 16):
        out += buffer.push(packet(s), 0.0)
    assert sequences(out)[-1] == 15
    assert buffer.late == 4
