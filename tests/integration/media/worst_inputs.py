"""The worst media a device can send, for the loop-lag tests (issue 13 item 6).

Each builder returns PS bytes of one "frame" (one RTP timestamp) meant to make a parser do as
much work as possible per byte: a 64 KiB SPS whose size parse used to be quadratic, key frames
of a million tiny NAL units, a million tiny access units, PS packs stuffed with empty PES
packets and a Program Stream Map of 16 000 entries, and a frame at the 4 MiB cap.
"""

from __future__ import annotations

from collections.abc import Iterator

from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, build_pack_header
from farmwatch.simulator.test_pattern import EncodedLoop
from tests.unit.media.sps_samples import sps_bomb

MAX_FRAME = 4 * 1024 * 1024 - 4096  # under `MediaSettings.max_frame_size` with PS overhead
START = b"\x00\x00\x01"
_MUXER = PsMuxer(PsMuxerConfig())


def split_keyframe(loop: EncodedLoop) -> tuple[bytes, bytes, bytes]:
    """(SPS, PPS, IDR slice) NAL units with start codes, from the loop's first key frame."""
    data = loop.frames[0].data
    sps, pps, idr = (data.find(START + bytes([h])) for h in (0x67, 0x68, 0x65))
    assert 0 <= sps < pps < idr, "the test pattern key frame starts SPS, PPS, IDR"
    return data[sps:pps], data[pps:idr], data[idr:]


def ps_frame(access_unit: bytes, pts: int, *, is_keyframe: bool) -> bytes:
    """One GB/T 28181 PS packet (pack header, PSM on key frames, PES) for `access_unit`."""
    return _MUXER.mux_video(access_unit, pts, is_keyframe=is_keyframe).data


def bomb_keyframe(loop: EncodedLoop) -> bytes:
    """A key frame whose SPS is the 64 KiB `sps_bomb`."""
    _, pps, idr = split_keyframe(loop)
    return b"\x00" + START + sps_bomb() + pps + idr


def tiny_nal_keyframe(loop: EncodedLoop) -> bytes:
    """SPS, PPS, an IDR slice, then 4-byte NAL units (`00 00 01 41`) up to the 4 MiB cap."""
    sps, pps, idr = split_keyframe(loop)
    head = sps + pps + idr
    return head + (START + b"\x41") * ((MAX_FRAME - len(head)) // 4)


def tiny_access_units() -> bytes:
    """One PES stream of 5-byte access units: `00 00 01 41 80` is a P slice starting a picture."""
    return (START + b"\x41\x80") * (MAX_FRAME // 5)


def huge_keyframe(loop: EncodedLoop) -> bytes:
    """A key frame at the size cap: SPS, PPS and one IDR slice of ~4 MiB without start codes."""
    sps, pps, _ = split_keyframe(loop)
    return sps + pps + START + b"\x65\x88" + b"\x55" * (MAX_FRAME - len(sps) - len(pps) - 5)


def pathological_ps(pts: int, *, pes_count: int = 60_000, psm_entries: int = 16_000) -> bytes:
    """Pack headers with maximal stuffing, a 64 KiB PSM of `psm_entries` streams, and
    `pes_count` empty video PES packets (9 bytes each) — per-header work, little data."""
    pack = bytearray(build_pack_header(pts, 6106))
    pack[13] = 0xF8 | 7  # pack_stuffing_length 7
    pack += b"\xff" * 7
    entries = b"".join(
        bytes([0x1B, 0xE0 | (index & 0x0F), 0x00, 0x00]) for index in range(psm_entries)
    )
    body = b"\x80\x01\x00\x00" + len(entries).to_bytes(2, "big") + entries + b"\x00" * 4
    psm = START + b"\xbc" + len(body).to_bytes(2, "big") + body
    empty_pes = START + b"\xe0\x00\x03\x80\x00\x00"
    return bytes(pack) + psm + (bytes(pack) + empty_pes * 64) * (pes_count // 64)


def normal_frames(loop: EncodedLoop, first_pts: int, count: int) -> Iterator[tuple[bytes, int]]:
    """`count` frames of the loop from its first key frame, stamped from `first_pts`."""
    for number in range(count):
        frame = loop.frames[number % len(loop.frames)]
        pts = first_pts + number * 3600
        yield frame.ps.shifted(pts - frame.pts), pts
