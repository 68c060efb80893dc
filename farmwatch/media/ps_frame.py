"""A frame's PS bytes as received, for outputs that re-send them unchanged (the RTP relay).

Owns `PsFrame`, what a device stream hands a relay instead of elementary-stream frames: the
program-stream bytes of one frame exactly as the device sent them (pack header, on key frames
the system header and PSM, the PES packets), with the RTP timestamp they came under. A stream
nobody watches is not demultiplexed (`frame_batch.py`), and a relay does not change that: it
gets these bytes, told key or not from their first bytes (`ps_keyframe.py`). When packets
were lost inside a frame, the bytes before the gap come as one `PsFrame` that is not
complete, and the rest (after the gap) as another with `after_loss`, under the same
timestamp; so a relay re-sends what came, and shows the gap.

`PsGopCache` is the stream's start for a new relay, as the GOP cache is for a new viewer:
the PS frames since the last whole key frame, bounded. `video_pts` reads a frame's PTS from
its first video PES header, so a stream only relayed still tells how far its media has come
(`stream_progress`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.media.pes_header import decode_timestamp, parse_pes_header

__all__ = ["PsFrame", "PsGopCache", "video_pts"]

_START = b"\x00\x00\x01"
_PACK = 0xBA
_PACK_START = _START + bytes([_PACK])
_FIRST_VIDEO, _LAST_VIDEO = 0xE0, 0xEF


@dataclass(frozen=True, slots=True)
class PsFrame:
    """The PS bytes of one frame (or of its part before or after a loss)."""

    data: bytes
    timestamp: int
    """The RTP timestamp (90 kHz, 32 bits) the source sent the frame under."""
    is_keyframe: bool
    """A whole key frame (system header, PSM, parameter sets and an IDR/IRAP picture)."""
    is_complete: bool = True
    """The bytes run to the frame's end (False: packets were lost after them)."""
    after_loss: bool = False
    """Packets were lost just before these bytes."""


class PsGopCache:
    """The PS frames since the last whole key frame; emptied when the GOP outgrows the bounds
    (a new relay then waits for the next key frame)."""

    __slots__ = ("_bytes", "_frames", "_max_bytes", "_max_frames")

    def __init__(self, *, max_frames: int, max_bytes: int) -> None:
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._frames: list[PsFrame] = []
        self._bytes = 0

    @property
    def frames(self) -> list[PsFrame]:
        """A copy: the key frame first."""
        return list(self._frames)

    def add(self, frame: PsFrame) -> None:
        if frame.is_keyframe:
            self._frames.clear()
            self._bytes = 0
        elif not self._frames:
            return
        self._frames.append(frame)
        self._bytes += len(frame.data)
        if len(self._frames) > self._max_frames or self._bytes > self._max_bytes:
            self.clear()

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0


def video_pts(data: bytes, limit: int = 4096) -> int | None:
    """The 33-bit PTS of the first video PES of a frame's PS bytes (a pack header first), or
    None: no video PES with a PTS within `limit` bytes (an audio packet, a frame's tail)."""
    if not data.startswith(_PACK_START):
        return None
    end = min(len(data), limit)
    # The usual P-frame: an MPEG-2 pack header, then the video PES with its PTS, read here
    # without the walk (every frame of a recorded or relayed stream comes this way).
    if end >= 28 and data[4] >> 6 == 1:
        at = 14 + (data[13] & 0x07)
        if (
            end >= at + 14
            and data[at : at + 3] == _START
            and _FIRST_VIDEO <= data[at + 3] <= _LAST_VIDEO
            and data[at + 6] & 0xC0 == 0x80
            and data[at + 7] >> 6 >= 2
            and data[at + 8] >= 5
        ):
            length = data[at + 4] << 8 | data[at + 5]
            if not length or length >= 3 + data[at + 8]:
                return decode_timestamp(data, at + 9)
    return walk_to_video_pts(data, end)


def walk_to_video_pts(data: bytes, end: int) -> int | None:
    """`video_pts` the general way: pack headers, system header and PSM walked over by their
    lengths up to the first video PES, within `end` bytes (exposed for the tests)."""
    position = 0
    while 0 <= position <= end - 14:
        code = data[position + 3]
        if code == _PACK:
            if data[position + 4] >> 6 == 1:  # MPEG-2: 14 bytes and the stuffing
                position += 14 + (data[position + 13] & 0x07)
            else:  # MPEG-1: 12 bytes
                position += 12
        elif code >= 0xBB:  # system header, PSM, PES: their length follows
            length = int.from_bytes(data[position + 4 : position + 6], "big")
            if _FIRST_VIDEO <= code <= _LAST_VIDEO:
                header = parse_pes_header(data, position, length)
                return None if header is None else header.pts
            position += 6 + length
        else:
            return None  # not a PS structure where one belongs
        if data[position : position + 3] != _START:
            return None
    return None
