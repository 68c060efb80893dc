"""A relay's RTP packets: PS frames cut into payloads under our sequence numbers and SSRC.

Owns the sending side of one relay's RTP (gb28181.md §8.1, §8.3; RFC 2250, RFC 3550 §5.1):
the PS bytes of a frame are cut into payloads of at most `max_payload` bytes (1,400 over UDP
and TCP alike: uppers that choke on large packets over TCP exist, field-notes §2.3 item 2),
every packet of a frame carries the frame's timestamp, the marker bit is set on the frame's
last packet, and the 16-bit sequence number is ours, running on across frames. A frame whose
bytes end at a loss (`PsFrame.is_complete` False) gets no marker, and the sequence number
skips one where the source lost packets (`after_loss`), so the upper sees the loss as we
did. Timestamps follow the source's (`RelayTimeline`): the same steps, continuous across a
jump of the source's clock (a new dialog, a seek). Over TCP each packet is prefixed with
its RFC 4571 length, one buffer per frame (`framed`). One copy of the frame's bytes per
frame. Pure.
"""

from __future__ import annotations

import struct

from farmwatch.media.ps_frame import PsFrame

__all__ = ["MAX_PAYLOAD", "RelayPacketizer", "RelayTimeline"]

MAX_PAYLOAD = 1400
_HEADER = struct.Struct("!BBHII")
_FRAMED_HEADER = struct.Struct("!HBBHII")  # RFC 4571 length, then the RTP header
_RTP_HEADER_SIZE = 12
_VERSION = 0x80  # V=2, no padding, extension or CSRC
_MASK = 0xFFFFFFFF
_MAX_FORWARD = 10 * 90_000
"""A step forward longer than 10 s is a jump of the source's clock, not a frame interval."""
_MAX_BACKWARD = 90_000
"""Audio stamped a little before the last video frame is the source's, not a jump."""
_DEFAULT_STEP = 3_600  # one frame at 25 fps


class RelayTimeline:
    """Source RTP timestamps → ours: the source's own steps, continuous across its jumps.

    The first frame keeps its timestamp. A step of the source from its latest frame within
    -1 s..+10 s is taken as it is (audio stamped a little behind the video too); a larger
    one (the source's clock jumped) is replaced by the last frame interval, so our clock
    runs on without a jump."""

    __slots__ = ("_front", "_front_out", "_offset", "_step")

    def __init__(self) -> None:
        self._offset = 0
        self._front: int | None = None  # the source's latest (furthest) timestamp
        self._front_out = 0
        self._step = _DEFAULT_STEP

    def map(self, source: int) -> int:
        """Our timestamp for a frame the source stamped `source` (32 bits)."""
        front = self._front
        if front is None:
            self._front = source
        elif source != front:
            step = ((source - front + 0x80000000) & _MASK) - 0x80000000
            if step > _MAX_FORWARD or step < -_MAX_BACKWARD:
                self._offset = (self._front_out + self._step - source) & _MASK
                self._front = source
            elif step > 0:
                self._step = step
                self._front = source
        out = (source + self._offset) & _MASK
        if source == self._front:
            self._front_out = out
        return out


class RelayPacketizer:
    """Turns `PsFrame`s into the RTP packets of one relay; see the module docstring."""

    __slots__ = (
        "_first_byte",
        "_has_sent",
        "_max_payload",
        "_payload_type",
        "_sequence",
        "_ssrc",
        "timeline",
    )

    def __init__(
        self,
        ssrc: int,
        payload_type: int = 96,
        *,
        first_sequence: int = 0,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        if not 0 <= ssrc <= _MASK:
            raise ValueError(f"ssrc: expected 0..2**32-1, got {ssrc}")
        if not 0 <= payload_type <= 127:
            raise ValueError(f"payload_type: expected 0..127, got {payload_type}")
        if not 1 <= max_payload <= 0xFFFF - _RTP_HEADER_SIZE:
            raise ValueError(f"max_payload: expected 1..65523, got {max_payload}")
        self._ssrc = ssrc
        self._payload_type = payload_type
        self._max_payload = max_payload
        self._sequence = first_sequence & 0xFFFF
        self._has_sent = False
        self.timeline = RelayTimeline()

    @property
    def next_sequence(self) -> int:
        return self._sequence

    def packets(self, frame: PsFrame) -> list[bytes]:
        """The frame's RTP packets (UDP): header and payload, at most `max_payload` each."""
        data = frame.data
        if not data:
            return []
        sequence, timestamp, marker = self._begin(frame)
        step = self._max_payload
        count = -(-len(data) // step)
        view = memoryview(data)
        pack = _HEADER.pack
        first, ssrc = _VERSION, self._ssrc
        plain = self._payload_type
        out: list[bytes] = []
        last = count - 1
        for index in range(count):
            second = plain | marker if index == last else plain
            header = pack(first, second, (sequence + index) & 0xFFFF, timestamp, ssrc)
            out.append(header + view[index * step : (index + 1) * step])
        self._sequence = (sequence + count) & 0xFFFF
        return out

    def framed(self, frame: PsFrame) -> tuple[bytes, int]:
        """The frame's RTP packets each behind its RFC 4571 length (TCP), in one buffer;
        with the number of packets."""
        data = frame.data
        if not data:
            return b"", 0
        sequence, timestamp, marker = self._begin(frame)
        step = self._max_payload
        size = len(data)
        count = -(-size // step)
        view = memoryview(data)
        pack = _FRAMED_HEADER.pack
        first, ssrc = _VERSION, self._ssrc
        plain = self._payload_type
        parts: list[bytes | memoryview] = []
        last = count - 1
        for index in range(count):
            payload = view[index * step : (index + 1) * step]
            second = plain | marker if index == last else plain
            length = _RTP_HEADER_SIZE + len(payload)
            parts.append(pack(length, first, second, (sequence + index) & 0xFFFF, timestamp, ssrc))
            parts.append(payload)
        self._sequence = (sequence + count) & 0xFFFF
        return b"".join(parts), count

    def _begin(self, frame: PsFrame) -> tuple[int, int, int]:
        """(first sequence number, timestamp, marker bits) of a frame's packets."""
        if frame.after_loss and self._has_sent:
            self._sequence = (self._sequence + 1) & 0xFFFF  # a gap where the source had one
        self._has_sent = True
        timestamp = self.timeline.map(frame.timestamp & _MASK)
        return self._sequence, timestamp, 0x80 if frame.is_complete else 0
