"""The device's voice in two-way talk (对讲): its RTP read into G.711 (gb28181.md §4.13 item 3).

Owns reading what a camera sends back on a talk's audio socket, raw or wrapped, whatever its
answer said: `TalkAudioReader.feed_datagram(packet)` (UDP) or `feed_stream(bytes)` (TCP,
RFC 4571 framing, incremental) returns `G711Chunk`s — the law (A or µ) and the samples'
bytes. A packet is raw G.711 when its payload type is 8 (A) or 0 (µ), or the negotiated
dynamic type of a raw answer; it is PS when its payload begins with a pack header (from
then on the stream is PS) or the answer said PS — its audio PES frames declared G.711A or
G.711µ by the PSM are taken, any other codec counted as foreign. Nothing the peer sends is
trusted: RTP is parsed and bounded (`RtpPacket.parse`), the TCP framing and the PS frames
by size (`MAX_FRAME`), a payload bigger than `MAX_CHUNK` samples is dropped, RTCP is
skipped. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.media.errors import FramingError, RtpParseError
from farmwatch.media.frames import Codec
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.rfc4571 import Rfc4571Deframer
from farmwatch.media.rtp import RtpPacket, is_rtcp

__all__ = ["G711Chunk", "TalkAudioReader", "TalkReadStats"]

MAX_FRAME = 16 * 1024
"""The longest RFC 4571 frame or PS frame taken (a G.711 frame is 160-1440 bytes)."""
MAX_CHUNK = 8000
"""The most samples taken from one packet or PS frame (1 s; the standard says ≤ 180 ms)."""
_PACK_START = b"\x00\x00\x01\xba"
_STATIC = {8: Codec.G711A, 0: Codec.G711U}
_G711 = frozenset({Codec.G711A, Codec.G711U})


@dataclass(frozen=True, slots=True)
class G711Chunk:
    law: Codec
    """`Codec.G711A` or `Codec.G711U`."""
    data: bytes


@dataclass(slots=True)
class TalkReadStats:
    packets: int = 0
    """RTP packets read (RTCP not counted)."""
    chunks: int = 0
    g711_bytes: int = 0
    foreign: int = 0
    """Packets or PS frames that were no G.711 (another payload type or codec, too big)."""
    broken: int = 0
    """Unparsable RTP, or a broken TCP framing (which ends the stream's reading)."""


class TalkAudioReader:
    """See the module docstring; one per talk."""

    def __init__(self, *, answered: Codec | None, payload_type: int, is_ps: bool) -> None:
        """`answered`: the law of a raw answer (None for PS); `payload_type` its RTP type."""
        self._answered = answered
        self._payload_type = payload_type
        self._demuxer: PsDemuxer | None = PsDemuxer(max_frame_size=MAX_FRAME) if is_ps else None
        self._deframer = Rfc4571Deframer(max_frame_size=MAX_FRAME)
        self._is_stream_broken = False
        self.stats = TalkReadStats()

    def expect(self, *, answered: Codec | None, payload_type: int, is_ps: bool) -> None:
        """The answer came (after the socket opened): read as it says from now on; the
        stream's framing so far is kept."""
        self._answered = answered
        self._payload_type = payload_type
        if is_ps and self._demuxer is None:
            self._demuxer = PsDemuxer(max_frame_size=MAX_FRAME)

    @property
    def is_ps(self) -> bool:
        return self._demuxer is not None

    def feed_stream(self, data: bytes) -> list[G711Chunk]:
        if self._is_stream_broken:
            return []
        try:
            packets = self._deframer.feed(data)
        except FramingError:
            self._is_stream_broken = True  # no resynchronising a broken length prefix
            self.stats.broken += 1
            return []
        return [chunk for packet in packets for chunk in self.feed_datagram(bytes(packet))]

    def feed_datagram(self, data: bytes) -> list[G711Chunk]:
        if is_rtcp(data):
            return []
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            self.stats.broken += 1
            return []
        self.stats.packets += 1
        law = _STATIC.get(packet.payload_type)
        if law is None and self._demuxer is None and packet.payload.startswith(_PACK_START):
            self._demuxer = PsDemuxer(max_frame_size=MAX_FRAME)  # PS whatever was answered
        if law is None and self._demuxer is not None:
            return self._demux(packet)
        if law is None and packet.payload_type == self._payload_type:
            law = self._answered
        if law is None:
            self.stats.foreign += 1
            return []
        return self._take(law, packet.payload)

    def _demux(self, packet: RtpPacket) -> list[G711Chunk]:
        assert self._demuxer is not None
        frames = self._demuxer.feed(packet.payload, rtp_timestamp=packet.timestamp,
                                    marker=packet.marker)  # fmt: skip
        chunks: list[G711Chunk] = []
        for frame in frames:
            if frame.codec in _G711:
                chunks += self._take(frame.codec, frame.data)
            else:
                self.stats.foreign += 1  # the video of a camera that muxes it in, or AAC
        return chunks

    def _take(self, law: Codec, data: bytes) -> list[G711Chunk]:
        if not data:
            return []
        if len(data) > MAX_CHUNK:
            self.stats.foreign += 1
            return []
        self.stats.chunks += 1
        self.stats.g711_bytes += len(data)
        return [G711Chunk(law, bytes(data))]
