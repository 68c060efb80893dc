"""MPEG-2 Program Stream muxer: one access unit or audio frame in, one PS packet out.

Owns the producing side of GB/T 28181-2016 Annex C.1 (gb28181.md §8.2 layout, §8.3 producing
PS): a pack header with SCR = PTS, and for key frames the system header and the Program Stream
Map (with its CRC-32/MPEG-2) before the first PES; video PES 0xE0 and audio PES 0xC0, each at
most 65 535 bytes (ISO/IEC 13818-1 §2.5.3, §2.4.3.6), the first one of a frame carrying the PTS
(and the DTS when it differs). Pure: bytes and 90 kHz integers in, bytes out.

Timestamps are 33-bit 90 kHz values and wrap modulo 2**33. `PsPacket.shifted` re-stamps an
already muxed packet by a constant offset (SCR, PTS and DTS alike), so a looped source can be
muxed once and replayed with ever-increasing timestamps at the cost of one copy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "PS_TIMESTAMP_MODULUS",
    "PsMuxer",
    "PsMuxerConfig",
    "PsPacket",
    "StreamType",
    "crc32_mpeg2",
]

PS_TIMESTAMP_MODULUS = 1 << 33
"""PTS, DTS and SCR base are 33-bit counters of the 90 kHz clock."""

_MAX_PES_PACKET_LENGTH = 0xFFFF
_PES_FIXED_HEADER = 3  # flags byte, PTS_DTS flags byte, PES_header_data_length
_VIDEO_STREAM_ID = 0xE0
_AUDIO_STREAM_ID = 0xC0
_PACK_START = b"\x00\x00\x01\xba"
_SYSTEM_HEADER_START = b"\x00\x00\x01\xbb"
_PSM_START = b"\x00\x00\x01\xbc"


class StreamType(enum.IntEnum):
    """PSM stream_type values used by GB/T 28181 (gb28181.md §8.2 table)."""

    H264 = 0x1B
    H265 = 0x24
    G711A = 0x90
    G711U = 0x91

    @property
    def is_video(self) -> bool:
        return self in (StreamType.H264, StreamType.H265)


@dataclass(frozen=True, slots=True)
class PsMuxerConfig:
    """What the muxer declares; the defaults reproduce the worked bytes of gb28181.md §8.2.

    `mux_rate` and `rate_bound` are in units of 50 bytes/s; the P-STD buffer sizes are in units
    of 1024 bytes (video, scale 1) and 128 bytes (audio, scale 0).
    """

    video: StreamType | None = StreamType.H264
    audio: StreamType | None = None
    mux_rate: int = 6106
    rate_bound: int = 26234
    video_buffer_size_kib: int = 400
    audio_buffer_size_128: int = 32

    def __post_init__(self) -> None:
        if self.video is not None and not self.video.is_video:
            raise ValueError(f"video: {self.video!r} is not a video stream type")
        if self.audio is not None and self.audio.is_video:
            raise ValueError(f"audio: {self.audio!r} is not an audio stream type")
        if self.video is None and self.audio is None:
            raise ValueError("at least one of video and audio must be declared")
        if not 0 < self.mux_rate < 1 << 22 or not 0 < self.rate_bound < 1 << 22:
            raise ValueError("mux_rate and rate_bound must fit in 22 bits and be > 0")


@dataclass(frozen=True, slots=True)
class PsPacket:
    """One muxed PS packet plus where its timestamps sit, for cheap re-stamping.

    `scr_offset` is the position of the 6-byte SCR field (byte 4 of the pack header);
    `pts_offsets` / `dts_offsets` the positions of the 5-byte PTS / DTS fields.
    """

    data: bytes
    scr_offset: int
    pts_offsets: tuple[int, ...]
    dts_offsets: tuple[int, ...]
    pts: int
    dts: int

    def shifted(self, delta: int) -> bytes:
        """Return the packet with SCR, PTS and DTS all moved by `delta` 90 kHz ticks."""
        if delta % PS_TIMESTAMP_MODULUS == 0:
            return self.data
        out = bytearray(self.data)
        pts = (self.pts + delta) % PS_TIMESTAMP_MODULUS
        dts = (self.dts + delta) % PS_TIMESTAMP_MODULUS
        out[self.scr_offset : self.scr_offset + 6] = _encode_scr(dts)
        for offset in self.pts_offsets:
            prefix = out[offset] >> 4
            out[offset : offset + 5] = _encode_timestamp(prefix, pts)
        for offset in self.dts_offsets:
            out[offset : offset + 5] = _encode_timestamp(0b0001, dts)
        return bytes(out)


class PsMuxer:
    """Builds PS packets for the streams declared in its `PsMuxerConfig`.

    The header bytes that never change (system header, PSM) are built once. The muxer keeps no
    per-frame state, so one instance can serve any number of streams.
    """

    def __init__(self, config: PsMuxerConfig | None = None) -> None:
        self._config = config if config is not None else PsMuxerConfig()
        self._system_header = build_system_header(self._config)
        self._psm = build_program_stream_map(self._config)

    @property
    def config(self) -> PsMuxerConfig:
        return self._config

    def mux_video(
        self, access_unit: bytes, pts: int, dts: int | None = None, *, is_keyframe: bool
    ) -> PsPacket:
        """One access unit (Annex-B bytes) → one PS packet; SCR = DTS (= PTS without B-frames)."""
        if self._config.video is None:
            raise ValueError("this muxer declares no video stream")
        return self._mux(_VIDEO_STREAM_ID, access_unit, pts, dts, with_headers=is_keyframe)

    def mux_audio(self, frame: bytes, pts: int, *, with_headers: bool = False) -> PsPacket:
        """One audio frame (G.711 samples) → its own PS packet: pack header + PES 0xC0;
        `with_headers` puts the system header and PSM before it (an audio-only stream, as a
        voice broadcast is, needs the PSM now and then to declare its codec)."""
        if self._config.audio is None:
            raise ValueError("this muxer declares no audio stream")
        return self._mux(_AUDIO_STREAM_ID, frame, pts, None, with_headers=with_headers)

    def _mux(
        self, stream_id: int, payload: bytes, pts: int, dts: int | None, *, with_headers: bool
    ) -> PsPacket:
        pts %= PS_TIMESTAMP_MODULUS
        dts = pts if dts is None else dts % PS_TIMESTAMP_MODULUS
        parts = [build_pack_header(dts, self._config.mux_rate)]
        if with_headers:
            parts += [self._system_header, self._psm]
        position = sum(len(part) for part in parts)
        pts_offsets: list[int] = []
        dts_offsets: list[int] = []
        for pes in build_pes_packets(stream_id, payload, pts, dts):
            pts_offsets += [position + offset for offset in pes.pts_offsets]
            dts_offsets += [position + offset for offset in pes.dts_offsets]
            parts.append(pes.data)
            position += len(pes.data)
        return PsPacket(
            data=b"".join(parts),
            scr_offset=4,
            pts_offsets=tuple(pts_offsets),
            dts_offsets=tuple(dts_offsets),
            pts=pts,
            dts=dts,
        )


@dataclass(frozen=True, slots=True)
class _Pes:
    data: bytes
    pts_offsets: tuple[int, ...]
    dts_offsets: tuple[int, ...]


def build_pack_header(scr: int, mux_rate: int) -> bytes:
    """MPEG-2 pack header (14 bytes, no stuffing), SCR extension 0 (ISO 13818-1 §2.5.3.3)."""
    rate = (mux_rate << 2) | 0b11
    return _PACK_START + _encode_scr(scr) + rate.to_bytes(3, "big") + b"\xf8"


def build_system_header(config: PsMuxerConfig) -> bytes:
    """System header (ISO 13818-1 §2.5.3.5) declaring the configured streams."""
    entries = b""
    if config.video is not None:
        bound = 0xC000 | 0x2000 | config.video_buffer_size_kib  # '11', scale 1, size
        entries += bytes([_VIDEO_STREAM_ID]) + bound.to_bytes(2, "big")
    if config.audio is not None:
        bound = 0xC000 | config.audio_buffer_size_128  # '11', scale 0, size
        entries += bytes([_AUDIO_STREAM_ID]) + bound.to_bytes(2, "big")
    audio_bound = 1 if config.audio is not None else 0
    video_bound = 1 if config.video is not None else 0
    body = (
        ((1 << 23) | (config.rate_bound << 1) | 1).to_bytes(3, "big")
        + bytes([audio_bound << 2])  # fixed_flag 0, CSPS_flag 0
        + bytes([0xE0 | video_bound])  # audio lock, video lock, marker
        + b"\x7f"  # packet_rate_restriction_flag 0, reserved
        + entries
    )
    return _SYSTEM_HEADER_START + len(body).to_bytes(2, "big") + body


def build_program_stream_map(config: PsMuxerConfig) -> bytes:
    """Program Stream Map (ISO 13818-1 §2.5.4) with its CRC-32/MPEG-2, version 0."""
    entries = b""
    if config.video is not None:
        entries += bytes([config.video, _VIDEO_STREAM_ID, 0, 0])
    if config.audio is not None:
        entries += bytes([config.audio, _AUDIO_STREAM_ID, 0, 0])
    body = (
        b"\xe0\xff"  # current_next 1, single_extension_stream 1, reserved, version 0; marker
        + b"\x00\x00"  # program_stream_info_length
        + len(entries).to_bytes(2, "big")
        + entries
    )
    length = len(body) + 4
    head = _PSM_START + length.to_bytes(2, "big") + body
    return head + crc32_mpeg2(head).to_bytes(4, "big")


def build_pes_packets(stream_id: int, payload: bytes, pts: int, dts: int) -> list[_Pes]:
    """Split `payload` into PES packets ≤ 65 535 bytes; only the first carries PTS (and DTS)."""
    has_dts = dts != pts
    if has_dts:
        first_header = (
            b"\x80\xc0\x0a" + _encode_timestamp(0b0011, pts) + _encode_timestamp(0b0001, dts)
        )
    else:
        first_header = b"\x80\x80\x05" + _encode_timestamp(0b0010, pts)
    packets: list[_Pes] = []
    start = 0
    header = first_header
    while True:
        room = _MAX_PES_PACKET_LENGTH - len(header)
        chunk = payload[start : start + room]
        length = len(header) + len(chunk)
        data = b"\x00\x00\x01" + bytes([stream_id]) + length.to_bytes(2, "big") + header + chunk
        is_first = start == 0
        packets.append(
            _Pes(
                data=data,
                pts_offsets=(9,) if is_first else (),
                dts_offsets=(14,) if is_first and has_dts else (),
            )
        )
        start += len(chunk)
        if start >= len(payload):
            return packets
        header = b"\x80\x00\x00"  # continuation: no PTS, no header data


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2: polynomial 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final XOR."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _build_crc_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _build_crc_table()


def _encode_timestamp(prefix: int, value: int) -> bytes:
    """5-byte PTS/DTS field: prefix(4) ts[32..30] 1 | ts[29..15] 1 | ts[14..0] 1."""
    value %= PS_TIMESTAMP_MODULUS
    return bytes(
        [
            (prefix << 4) | (((value >> 30) & 0x07) << 1) | 1,
            (value >> 22) & 0xFF,
            (((value >> 15) & 0x7F) << 1) | 1,
            (value >> 7) & 0xFF,
            ((value & 0x7F) << 1) | 1,
        ]
    )


def _encode_scr(scr: int) -> bytes:
    """6 SCR bytes of the pack header ('01' prefix, markers, extension 0)."""
    scr %= PS_TIMESTAMP_MODULUS
    return bytes(
        [
            0x40 | (((scr >> 30) & 0x07) << 3) | 0x04 | ((scr >> 28) & 0x03),
            (scr >> 20) & 0xFF,
            (((scr >> 15) & 0x1F) << 3) | 0x04 | ((scr >> 13) & 0x03),
            (scr >> 5) & 0xFF,
            ((scr & 0x1F) << 3) | 0x04,  # SCR_ext[8..7] = 0
            0x01,  # SCR_ext[6..0] = 0, marker
        ]
    )
