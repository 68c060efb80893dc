"""TCP media deframing (RFC 4571, `$`-interleave; gb28181.md §6.5, §10 item 5)."""

from __future__ import annotations

import pytest

from farmwatch.media import Framing, FramingError, Rfc4571Deframer, RtpPacket, frame


def rtp(sequence: int, size: int) -> bytes:
    return RtpPacket(96, sequence, 90000, 1, payload=bytes([sequence]) * size).serialize()


PACKETS = [rtp(1, 10), rtp(2, 0), rtp(3, 300), rtp(4, 1)]


def interleaved(packet: bytes, channel: int = 0) -> bytes:
    return b"$" + bytes([channel]) + len(packet).to_bytes(2, "big") + packet


def deframe_split(stream: bytes, cut: int) -> tuple[list[bytes], Framing | None]:
    deframer = Rfc4571Deframer()
    packets = deframer.feed(stream[:cut]) + deframer.feed(stream[cut:])
    return packets, deframer.framing


def test_rfc4571_at_every_split_point() -> None:
    stream = b"".join(frame(p) for p in PACKETS)
    for cut in range(len(stream) + 1):
        assert deframe_split(stream, cut) == (PACKETS, Framing.RFC4571), cut


def test_interleaved_detected_and_deframed_at_every_split_point() -> None:
    rtcp = bytes.fromhex("80c80000")
    stream = b"".join(interleaved(p) for p in PACKETS) + interleaved(rtcp, 1)
    for cut in range(len(stream) + 1):
        assert deframe_split(stream, cut) == ([*PACKETS, rtcp], Framing.INTERLEAVED), cut


def test_rfc4571_length_starting_with_dollar_byte_is_not_mistaken() -> None:
    big = rtp(9, 0x2400 - 12)
    assert len(big) == 0x2400
    packets, framing = deframe_split(frame(big) + frame(PACKETS[0]), 3)
    assert (packets, framing) == ([big, PACKETS[0]], Framing.RFC4571)


def test_oversized_frame_raises_before_buffering_it() -> None:
    deframer = Rfc4571Deframer(max_frame_size=1500)
    with pytest.raises(FramingError):
        deframer.feed(b"\x10\x00" + b"\x80" * 10)
    assert len(frame(b"x" * 1500)) == 1502
    with pytest.raises(FramingError):
        frame(b"x" * 70000)


def test_interleaved_stream_losing_sync_raises() -> None:
    deframer = Rfc4571Deframer()
    assert deframer.feed(interleaved(PACKETS[0])) == [PACKETS[0]]
    with pytest.raises(FramingError):
        deframer.feed(b"\x00\x0a" + PACKETS[0])


def test_buffer_holds_only_the_incomplete_frame() -> None:
    deframer = Rfc4571Deframer()
    stream = frame(PACKETS[2])
    assert deframer.feed(stream[:-1]) == []
    assert deframer.buffered == len(stream) - 1
    assert deframer.feed(stream[-1:]) == [PACKETS[2]]
    assert deframer.buffered == 0


def test_a_large_read_is_handed_out_a_bounded_number_of_packets_at_a_time() -> None:
    stream = b"".join(frame(rtp(i % 256, 20)) for i in range(1000))
    deframer = Rfc4571Deframer()
    batches = [deframer.feed(stream, max_packets=128, max_bytes=64 * 1024)]
    while deframer.has_packet:
        batches.append(deframer.feed(b"", max_packets=128, max_bytes=1000))
    assert [len(b) for b in batches] == [128] + [32] * 27 + [8]  # 32 packets: 1024 bytes
    assert [p for b in batches for p in b] == [rtp(i % 256, 20) for i in range(1000)]
    assert deframer.buffered == 0
