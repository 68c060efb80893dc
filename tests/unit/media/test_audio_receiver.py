"""The upper's broadcast audio taken apart (issue 12): raw PCMA and PS alike give the A-law
bytes sent; RTCP, other codecs and garbage give nothing."""

from __future__ import annotations

from farmwatch.media.audio_receiver import G711Extractor
from farmwatch.media.g711_packetizer import G711Framing, G711Packetizer
from farmwatch.media.rtp_packetizer import RtpPacketizer

FRAMES = [bytes([0xD5 ^ i]) * 160 for i in range(5)]  # 20 ms each, distinguishable


def _taken(extractor: G711Extractor, packets: list[bytes]) -> bytes:
    return b"".join(piece for packet in packets for piece in extractor.packet(packet))


def test_raw_pcma_gives_each_payload() -> None:
    packetizer = G711Packetizer(1234, G711Framing.PCMA, 8)
    extractor = G711Extractor()
    packets = [p for frame in FRAMES for p in packetizer.packetize(frame)]
    assert _taken(extractor, packets) == b"".join(FRAMES)
    assert (extractor.packets, extractor.alaw_bytes, extractor.ignored) == (5, 800, 0)


def test_ps_gives_the_audio_of_its_pes() -> None:
    packetizer = G711Packetizer(1234, G711Framing.PS, 96)
    extractor = G711Extractor()
    packets = [p for frame in FRAMES for p in packetizer.packetize(frame)]
    # PS audio frames complete when the next starts: all but the last are out.
    assert _taken(extractor, packets) in (b"".join(FRAMES), b"".join(FRAMES[:-1]))
    assert extractor.alaw_bytes >= 4 * 160 and extractor.ignored == 0


def test_rtcp_another_codec_and_garbage_give_nothing() -> None:
    extractor = G711Extractor()
    rtcp = bytes([0x80, 200, 0, 6]) + bytes(24)  # a sender report
    pcmu = RtpPacketizer(1, 0).packetize(b"\xff" * 160, 0)  # PT 0 is no PS: nothing in it
    assert _taken(extractor, [rtcp, b"\x00\x01", *pcmu]) == b""
    assert extractor.alaw_bytes == 0
    assert extractor.ignored >= 1  # the unparsable one
