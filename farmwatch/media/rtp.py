"""RTP and RTCP packets (RFC 3550 §5.1, §5.3.1, §6.4, §6.5, §6.6): parse and serialise.

Owns the wire form of what GB/T 28181 media uses (gb28181.md §8.1): RTP with CSRCs, one
header extension and padding; RTCP sender/receiver reports, SDES CNAME and BYE, enough to
read what devices send and to build the receiver report + SDES compound packet we send back.
Pure; values are frozen dataclasses, errors `RtpParseError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from farmwatch.media.errors import RtpParseError

__all__ = [
    "RTCP_PACKET_TYPES",
    "ReportBlock",
    "RtcpBye",
    "RtcpPacket",
    "RtcpReceiverReport",
    "RtcpSenderReport",
    "RtcpSourceDescription",
    "RtpHeaderExtension",
    "RtpPacket",
    "build_receiver_report",
    "is_rtcp",
    "parse_rtcp",
]

_RTP_VERSION = 2
_SR, _RR, _SDES, _BYE = 200, 201, 202, 203
RTCP_PACKET_TYPES = frozenset(range(192, 224))
"""Second-byte values that mark RTCP when RTP and RTCP share a port (RFC 5761 §4)."""
_SDES_CNAME = 1


@dataclass(frozen=True, slots=True)
class RtpHeaderExtension:
    """The one header extension of RFC 3550 §5.3.1: a profile word and 32-bit words."""

    profile: int
    data: bytes

    def __post_init__(self) -> None:
        if len(self.data) % 4 or len(self.data) > 0xFFFF * 4 or not 0 <= self.profile <= 0xFFFF:
            raise ValueError("RTP header extension: profile 16 bits, data whole 32-bit words")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1)."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpHeaderExtension | None = None
    padding_size: int = 0
    """Bytes of padding after the payload (0 = no P bit); the last one holds the count."""

    def __post_init__(self) -> None:
        if not (0 <= self.payload_type < 128 and 0 <= self.sequence_number <= 0xFFFF):
            raise ValueError("RTP payload type is 7 bits, sequence number 16 bits")
        if not (0 <= self.timestamp <= 0xFFFFFFFF and 0 <= self.ssrc <= 0xFFFFFFFF):
            raise ValueError("RTP timestamp and SSRC are 32 bits")
        if len(self.csrc) > 15 or not 0 <= self.padding_size <= 255:
            raise ValueError("at most 15 CSRCs and 255 padding bytes")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet; raises `RtpParseError` when malformed."""
        if len(data) < 12:
            raise RtpParseError(f"RTP packet too short: {len(data)} bytes")
        first, second, sequence, timestamp, ssrc = struct.unpack_from("!BBHII", data)
        if first >> 6 != _RTP_VERSION:
            raise RtpParseError(f"RTP version {first >> 6}, expected 2")
        at = 12 + 4 * (first & 0x0F)
        if len(data) < at:
            raise RtpParseError("RTP packet shorter than its CSRC list")
        csrc = struct.unpack_from(f"!{first & 0x0F}I", data, 12)
        extension = None
        if first & 0x10:
            if len(data) < at + 4:
                raise RtpParseError("RTP header extension truncated")
            profile, words = struct.unpack_from("!HH", data, at)
            if len(data) < at + 4 + 4 * words:
                raise RtpParseError("RTP header extension truncated")
            extension = RtpHeaderExtension(profile, bytes(data[at + 4 : at + 4 + 4 * words]))
            at += 4 + 4 * words
        end = len(data)
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or end - padding < at:
                raise RtpParseError(f"RTP padding count {padding} is invalid")
            end -= padding
        return cls(
            payload_type=second & 0x7F,
            sequence_number=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[at:end]),
            marker=bool(second & 0x80),
            csrc=tuple(csrc),
            extension=extension,
            padding_size=padding,
        )

    def serialize(self) -> bytes:
        """The wire bytes of this packet."""
        first = _RTP_VERSION << 6 | len(self.csrc)
        first |= 0x20 if self.padding_size else 0
        first |= 0x10 if self.extension is not None else 0
        second = self.payload_type | (0x80 if self.marker else 0)
        parts = [
            struct.pack("!BBHII", first, second, self.sequence_number, self.timestamp, self.ssrc),
            struct.pack(f"!{len(self.csrc)}I", *self.csrc),
        ]
        if self.extension is not None:
            ext = self.extension
            parts.append(struct.pack("!HH", ext.profile, len(ext.data) // 4) + ext.data)
        parts.append(self.payload)
        if self.padding_size:
            parts.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)


def is_rtcp(data: bytes) -> bool:
    """True when a packet on a shared RTP/RTCP port is RTCP (RFC 5761 §4)."""
    return len(data) >= 2 and data[1] in RTCP_PACKET_TYPES


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int
    """Lost fraction since the last report, in 1/256."""
    packets_lost: int
    """Cumulative number of packets lost (24-bit signed)."""
    highest_sequence: int
    """Extended highest sequence number received (cycles << 16 | sequence)."""
    jitter: int
    last_sr: int
    """Middle 32 bits of the NTP timestamp of the last SR received, or 0."""
    delay_since_last_sr: int
    """In units of 1/65536 s."""

    def serialize(self) -> bytes:
        lost = self.packets_lost & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (self.fraction_lost & 0xFF) << 24 | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        )

    @classmethod
    def parse(cls, data: bytes, at: int) -> ReportBlock:
        ssrc, lost_word, highest, jitter, last_sr, delay = struct.unpack_from("!IIIIII", data, at)
        lost = lost_word & 0xFFFFFF
        lost = lost - (1 << 24) if lost & 0x800000 else lost
        return cls(ssrc, lost_word >> 24, lost, highest, jitter, last_sr, delay)


@dataclass(frozen=True, slots=True)
class RtcpSenderReport:
    """RTCP SR (RFC 3550 §6.4.1)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    def serialize(self) -> bytes:
        body = struct.pack(
            "!IQIII",
            self.ssrc,
            self.ntp_timestamp,
            self.rtp_timestamp,
            self.packet_count,
            self.octet_count,
        )
        return _rtcp(_SR, len(self.reports), body + b"".join(r.serialize() for r in self.reports))


@dataclass(frozen=True, slots=True)
class RtcpReceiverReport:
    """RTCP RR (RFC 3550 §6.4.2)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def serialize(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(r.serialize() for r in self.reports)
        return _rtcp(_RR, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class RtcpSourceDescription:
    """RTCP SDES with one CNAME per source (RFC 3550 §6.5); other items are ignored."""

    chunks: tuple[tuple[int, str], ...]
    """(ssrc, cname) pairs."""

    def serialize(self) -> bytes:
        body = bytearray()
        for ssrc, cname in self.chunks:
            text = cname.encode()[:255]
            body += struct.pack("!IBB", ssrc, _SDES_CNAME, len(text)) + text
            body += bytes(4 - len(body) % 4)  # null item end + pad to 32 bits
        return _rtcp(_SDES, len(self.chunks), bytes(body))


@dataclass(frozen=True, slots=True)
class RtcpBye:
    """RTCP BYE (RFC 3550 §6.6)."""

    sources: tuple[int, ...]
    reason: str | None = None

    def serialize(self) -> bytes:
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            text = self.reason.encode()[:255]
            body += bytes([len(text)]) + text
            body += bytes(-len(body) % 4)
        return _rtcp(_BYE, len(self.sources), body)


RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpSourceDescription | RtcpBye


def _rtcp(packet_type: int, count: int, body: bytes) -> bytes:
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def build_receiver_report(ssrc: int, reports: tuple[ReportBlock, ...], cname: str) -> bytes:
    """The compound RR + SDES CNAME packet a receiver sends (RFC 3550 §6.1)."""
    rr = RtcpReceiverReport(ssrc, reports).serialize()
    return rr + RtcpSourceDescription(((ssrc, cname),)).serialize()


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet; unknown packet types (APP, feedback) are skipped."""
    packets: list[RtcpPacket] = []
    at = 0
    while at < len(data):
        if len(data) - at < 4:
            raise RtpParseError("RTCP header truncated")
        first, packet_type, words = struct.unpack_from("!BBH", data, at)
        end = at + 4 + 4 * words
        if first >> 6 != _RTP_VERSION or end > len(data):
            raise RtpParseError("RTCP packet has a bad version or length")
        end_of_body = end - data[end - 1] if first & 0x20 and words else end  # padding
        parsed = _parse_one(packet_type, first & 0x1F, data[at + 4 : end_of_body])
        if parsed is not None:
            packets.append(parsed)
        at = end
    return packets


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket | None:
    try:
        if packet_type == _SR:
            ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", body)
            blocks = tuple(ReportBlock.parse(body, 24 + 24 * i) for i in range(count))
            return RtcpSenderReport(ssrc, ntp, rtp_ts, packets, octets, blocks)
        if packet_type == _RR:
            (ssrc,) = struct.unpack_from("!I", body)
            blocks = tuple(ReportBlock.parse(body, 4 + 24 * i) for i in range(count))
            return RtcpReceiverReport(ssrc, blocks)
        if packet_type == _SDES:
            return RtcpSourceDescription(_parse_sdes_chunks(body, count))
        if packet_type == _BYE:
            sources = struct.unpack_from(f"!{count}I", body)
            reason = None
            if len(body) > 4 * count:
                size = body[4 * count]
                reason = body[4 * count + 1 : 4 * count + 1 + size].decode(errors="replace")
            return RtcpBye(tuple(sources), reason)
    except struct.error as error:
        raise RtpParseError(f"RTCP packet type {packet_type} truncated") from error
    return None


def _parse_sdes_chunks(body: bytes, count: int) -> tuple[tuple[int, str], ...]:
    chunks: list[tuple[int, str]] = []
    at = 0
    for _ in range(count):
        (ssrc,) = struct.unpack_from("!I", body, at)
        at += 4
        cname = ""
        while at < len(body) and body[at] != 0:
            if at + 2 > len(body) or at + 2 + body[at + 1] > len(body):
                raise RtpParseError("RTCP SDES item truncated")
            item, size = body[at], body[at + 1]
            if item == _SDES_CNAME:
                cname = body[at + 2 : at + 2 + size].decode(errors="replace")
            at += 2 + size
        at = (at // 4 + 1) * 4  # null terminator(s) up to the next 32-bit boundary
        chunks.append((ssrc, cname))
    return tuple(chunks)
