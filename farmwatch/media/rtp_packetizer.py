"""RTP packetiser for PS (and any other frame-per-packet payload) on the sending side.

Owns cutting one PS packet (one frame) into RTP packets as GB/T 28181-2016 Annex C and
RFC 2250 want it (gb28181.md §8.1, §8.3): the PS bytes are simply cut into payloads of at most
`max_payload` bytes, every packet of a frame carries the same 32-bit timestamp, the marker bit is
set on the last one, and the 16-bit sequence number runs on across frames and wraps at 65 535.
The SSRC is the negotiated `y=` value (§6.3). Over TCP the caller adds the RFC 4571 length prefix
(§6.5) with `farmwatch.media.rfc4571.frame`. Pure: no sockets, no clock.
"""

from __future__ import annotations

import struct

__all__ = ["RTP_HEADER_SIZE", "RtpPacketizer"]

RTP_HEADER_SIZE = 12
_VERSION_BYTE = 0x80  # V=2, no padding, no extension, no CSRC
_MAX_TCP_RTP_PAYLOAD = 0xFFFF - RTP_HEADER_SIZE
_HEADER = struct.Struct("!BBHII")


class RtpPacketizer:
    """Turns frames into ready-to-send RTP packets for one SSRC.

    Holds only the next sequence number. `max_payload` defaults to 1400 bytes for UDP; over
    TCP callers may raise it up to 65 523 so each packet still fits the 2-byte length prefix.
    """

    def __init__(
        self,
        ssrc: int,
        payload_type: int = 96,
        max_payload: int = 1400,
        first_sequence: int = 0,
    ) -> None:
        if not 0 <= ssrc <= 0xFFFFFFFF:
            raise ValueError(f"ssrc: expected 0..2**32-1, got {ssrc}")
        if not 0 <= payload_type <= 127:
            raise ValueError(f"payload_type: expected 0..127, got {payload_type}")
        if not 1 <= max_payload <= _MAX_TCP_RTP_PAYLOAD:
            raise ValueError(f"max_payload: expected 1..{_MAX_TCP_RTP_PAYLOAD}, got {max_payload}")
        if not 0 <= first_sequence <= 0xFFFF:
            raise ValueError(f"first_sequence: expected 0..65535, got {first_sequence}")
        self._ssrc = ssrc
        self._payload_type = payload_type
        self._max_payload = max_payload
        self._next_sequence = first_sequence

    @property
    def ssrc(self) -> int:
        return self._ssrc

    @property
    def next_sequence(self) -> int:
        """Sequence number the next packet will carry."""
        return self._next_sequence

    def packetize(self, frame: bytes, timestamp: int) -> list[bytes]:
        """Cut one frame into RTP packets sharing `timestamp` (taken modulo 2**32).

        The marker bit is set on the last packet only. An empty frame yields no packet.
        """
        timestamp &= 0xFFFFFFFF
        step = self._max_payload
        count = -(-len(frame) // step)
        packets: list[bytes] = []
        sequence = self._next_sequence
        view = memoryview(frame)
        for index in range(count):
            marker = 0x80 if index == count - 1 else 0
            header = _HEADER.pack(
                _VERSION_BYTE, marker | self._payload_type, sequence, timestamp, self._ssrc
            )
            packets.append(header + view[index * step : (index + 1) * step])
            sequence = (sequence + 1) & 0xFFFF
        self._next_sequence = sequence
        return packets
