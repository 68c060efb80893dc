"""Program Stream Map parsing (ISO/IEC 13818-1 §2.5.4, gb28181.md §8.2 "Program Stream Map").

Owns the lenient reading of the PSM that GB/T 28181 devices send on key frames: the map from
elementary_stream_id to stream_type. Devices get elementary_stream_map_length wrong and put
raw avcC bytes or unknown descriptors in the ES info, so the entries are walked inside
program_stream_map_length, each ES info skipped by its own declared length, and the CRC is
not checked. At most `_MAX_ENTRIES` entries are read (a real map has one or two; a 64 KiB
map of 16 000 entries must not cost the event loop milliseconds). Pure.
"""

from __future__ import annotations

__all__ = ["parse_program_stream_map"]

_CRC_SIZE = 4
_MAX_ENTRIES = 64  # there are only 48 audio and video stream ids (0xC0-0xEF)


def parse_program_stream_map(packet: bytes) -> dict[int, int] | None:
    """stream_id → stream_type from a whole PSM packet (`00 00 01 BC` + length + body).

    Returns None when the packet is too short to hold a PSM body (the previous map stays).
    """
    end = 6 + (packet[4] << 8 | packet[5])
    if len(packet) < end or end < 6 + 6:
        return None
    info_length = packet[8] << 8 | packet[9]
    at = 10 + info_length
    if at + 2 > end:
        return None
    declared_end = at + 2 + (packet[at] << 8 | packet[at + 1])
    at += 2
    # Trust program_stream_map_length: the map ends before the CRC unless the declared
    # elementary_stream_map_length says exactly that the CRC is missing.
    entries_end = end if declared_end == end else end - _CRC_SIZE
    stream_types: dict[int, int] = {}
    for _ in range(_MAX_ENTRIES):
        if at + 4 > entries_end:
            break
        stream_type, stream_id = packet[at], packet[at + 1]
        at += 4 + (packet[at + 2] << 8 | packet[at + 3])
        if at > end:
            break
        if 0xC0 <= stream_id <= 0xEF and stream_type:
            stream_types[stream_id] = stream_type
    return stream_types
