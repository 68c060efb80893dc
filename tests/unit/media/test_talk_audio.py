"""Reading a camera's voice in two-way talk: raw A/µ-law RTP, PS-wrapped G.711A, over UDP or
RFC 4571 TCP in any chunking, and what it must not take."""

from __future__ import annotations

from farmwatch.media.frames import Codec
from farmwatch.media.g711_packetizer import G711Framing, G711Packetizer
from farmwatch.media.rfc4571 import frame as rfc4571_frame
from farmwatch.media.rtp import RtpPacket
from farmwatch.media.talk_audio import MAX_CHUNK, G711Chunk, TalkAudioReader

SSRC = 100000001


def _frames(count: int) -> list[bytes]:
    return [bytes([index % 256]) * 160 for index in range(count)]


def _packets(framing: G711Framing, payload_type: int, count: int) -> list[bytes]:
    packetizer = G711Packetizer(SSRC, framing, payload_type)
    return [p for frame in _frames(count) for p in packetizer.packetize(frame)]


def test_raw_pcma_and_pcmu_are_taken_by_their_static_types() -> None:
    reader = TalkAudioReader(answered=Codec.G711A, payload_type=8, is_ps=False)
    chunks = [c for p in _packets(G711Framing.PCMA, 8, 3) for c in reader.feed_datagram(p)]
    assert chunks == [G711Chunk(Codec.G711A, frame) for frame in _frames(3)]
    ulaw = [c for p in _packets(G711Framing.PCMA, 0, 2) for c in reader.feed_datagram(p)]
    assert [c.law for c in ulaw] == [Codec.G711U, Codec.G711U]
    assert (reader.stats.packets, reader.stats.chunks, reader.stats.g711_bytes) == (5, 5, 800)


def test_a_dynamic_type_is_the_answered_law_and_anything_else_is_foreign() -> None:
    reader = TalkAudioReader(answered=Codec.G711U, payload_type=110, is_ps=False)
    assert reader.feed_datagram(_packets(G711Framing.PCMA, 110, 1)[0])[0].law is Codec.G711U
    assert reader.feed_datagram(_packets(G711Framing.PCMA, 111, 1)[0]) == []
    assert reader.feed_datagram(b"\x80\x08short") == []
    assert reader.feed_datagram(bytes([0x81, 200]) + bytes(26)) == []  # RTCP: skipped
    assert (reader.stats.foreign, reader.stats.broken, reader.stats.packets) == (1, 1, 2)


def test_ps_is_recognised_even_when_the_answer_said_raw() -> None:
    reader = TalkAudioReader(answered=Codec.G711A, payload_type=96, is_ps=False)
    chunks = [c for p in _packets(G711Framing.PS, 96, 4) for c in reader.feed_datagram(p)]
    assert reader.is_ps
    # A PS frame is complete when the next one starts: all but the last are out.
    assert chunks[:3] == [G711Chunk(Codec.G711A, frame) for frame in _frames(3)]


def test_tcp_in_any_chunking_gives_the_same_audio() -> None:
    stream = b"".join(rfc4571_frame(p) for p in _packets(G711Framing.PCMA, 8, 6))
    whole = TalkAudioReader(answered=Codec.G711A, payload_type=8, is_ps=False)
    expected = whole.feed_stream(stream)
    for size in (1, 7, 171, 1000):
        reader = TalkAudioReader(answered=Codec.G711A, payload_type=8, is_ps=False)
        chunks = [
            c for i in range(0, len(stream), size) for c in reader.feed_stream(stream[i : i + size])
        ]
        assert chunks == expected and len(chunks) == 6


def test_a_lying_length_or_an_oversized_payload_is_not_trusted() -> None:
    reader = TalkAudioReader(answered=Codec.G711A, payload_type=8, is_ps=False)
    # A length prefix claiming more than a frame may hold ends the stream's reading.
    assert reader.feed_stream(b"\xff\xff" + bytes(100)) == []
    assert reader.feed_stream(rfc4571_frame(_packets(G711Framing.PCMA, 8, 1)[0])) == []
    assert reader.stats.broken == 1
    huge = RtpPacket(8, 1, 0, SSRC, payload=bytes(MAX_CHUNK + 1)).serialize()
    fresh = TalkAudioReader(answered=Codec.G711A, payload_type=8, is_ps=False)
    assert fresh.feed_datagram(huge) == [] and fresh.stats.foreign == 1
