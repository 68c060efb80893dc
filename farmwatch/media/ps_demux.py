"""MPEG-2 Program Stream demuxer for GB/T 28181 RTP payloads: PS bytes in, `EsFrame`s out.

Owns the receiving side of GB/T 28181-2016 Annex C.1 (gb28181.md §8.2, §10 item 19): a
start-code scanner over ISO/IEC 13818-1 §2.5 program streams. Pack headers (MPEG-2 14 bytes
plus stuffing, MPEG-1 12 bytes), system headers and private/padding streams (0xBB, 0xBD-0xBF,
0xF0-0xFF) are skipped by their lengths; the Program Stream Map gives stream_id → stream_type
(trusting program_stream_map_length, ignoring the CRC, kept until the next PSM); PES packets
(MPEG-2 and MPEG-1 headers, PES_packet_length 0 = up to the next start code) feed one
assembler per stream (`access_unit.py`). Incremental: the payload may be cut at any byte.
Resynchronises on garbage; the caller reports RTP loss with `mark_loss()`, which emits the
frame that lost bytes marked damaged. With `max_units_per_feed` the work of one `feed` is
bounded whatever the bytes hold (the event loop never stalls, issue 13 item 6): headers,
NAL units and frames draw on a budget, and a payload that exhausts it is dropped from there
on with its partial frame (`overloads`). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from farmwatch.media.access_unit import (
    FRAME_COST,
    AudioAssembler,
    TimestampUnwrapper,
    VideoAssembler,
)
from farmwatch.media.frames import Codec, EsFrame, MediaKind
from farmwatch.media.pes_header import MPEG1_HEADER_MAX, PesHeader, parse_pes_header
from farmwatch.media.psm import parse_program_stream_map

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "DemuxStats", "PsDemuxer", "STREAM_TYPE_CODECS"]

DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024

STREAM_TYPE_CODECS: Mapping[int, Codec] = MappingProxyType(
    {
        0x0F: Codec.AAC,
        0x10: Codec.MPEG4,
        0x1B: Codec.H264,
        0x24: Codec.H265,
        0x80: Codec.SVAC,
        0x90: Codec.G711A,
        0x91: Codec.G711U,
        0x92: Codec.G722_1,
        0x93: Codec.G723_1,
        0x99: Codec.G729,
        0x9B: Codec.SVAC_AUDIO,
    }
)
"""PSM stream_type → codec (gb28181.md §8.2 table). Other values: codec sniffed."""

_START = b"\x00\x00\x01"
_PACK_START = b"\x00\x00\x01\xba"
_PACK = 0xBA
_PROGRAM_END = 0xB9
_PSM = 0xBC
_UNBOUNDED = 1 << 62

_Handler = Callable[[bytes, int, list[EsFrame]], int]


@dataclass(frozen=True, slots=True)
class DemuxStats:
    """Counters of one demuxer since it was created."""

    bytes_fed: int
    frames: int
    garbage_bytes: int
    """Bytes skipped while looking for a start code (resynchronisation)."""
    frames_dropped: int
    """Video frames dropped: broken by loss, oversized, or before the first key frame."""
    oversize_frames: int
    bad_pes_lengths: int
    """PES packets whose declared length ran into the next pack header."""
    losses: int
    frames_damaged: int = 0
    """Video frames emitted although bytes of them were lost (`EsFrame.is_damaged`)."""
    overloads: int = 0
    """Payloads cut short because they held more work than `max_units_per_feed`."""


class PsDemuxer:
    """Incremental PS demuxer: `feed()` RTP payloads, get complete `EsFrame`s back.

    `rtp_timestamp` and `marker` are optional frame-boundary hints from the RTP layer: a
    timestamp change or the marker bit completes the pending video frames at once; without
    them a frame is complete when the next one starts (or at `flush()`).
    """

    def __init__(
        self, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE, max_units_per_feed: int | None = None
    ) -> None:
        self._max_frame_size = max_frame_size
        self._max_units = _UNBOUNDED if max_units_per_feed is None else max_units_per_feed
        self._budget = self._max_units  # what the current feed may still spend
        # The state is the handler of the next bytes: _on_scan (looking for a start code),
        # _on_header (a start code is at the position), _on_payload (inside a PES of known
        # length), _on_unbounded (PES length 0: up to the next start code), _on_skip.
        self._state: _Handler = self._on_scan
        self._pending = b""  # unparsed tail of the previous feed (a split header)
        self._code = 0
        self._remaining = 0
        self._video: VideoAssembler | None = None  # target of the current PES payload
        self._audio: AudioAssembler | None = None
        self._audio_pieces: list[bytes | memoryview] = []
        self._audio_size = 0
        self._pes_ts: tuple[int, int] | None = None
        self._videos: dict[int, VideoAssembler] = {}
        self._audios: dict[int, AudioAssembler] = {}
        self._stream_types: dict[int, int] = {}
        self._unwrapper = TimestampUnwrapper()
        self._rtp_timestamp: int | None = None
        self._bytes_fed = self._frames = self._garbage = self._bad_lengths = self._losses = 0
        self._overloads = 0
        self._dropped = self._oversize = self._damaged = 0  # from assemblers that were replaced

    @property
    def stream_types(self) -> Mapping[int, int]:
        """stream_id → stream_type of the last Program Stream Map (empty before one)."""
        return MappingProxyType(self._stream_types)

    @property
    def stats(self) -> DemuxStats:
        videos = self._videos.values()
        return DemuxStats(
            bytes_fed=self._bytes_fed,
            frames=self._frames,
            garbage_bytes=self._garbage,
            frames_dropped=self._dropped + sum(v.frames_dropped for v in videos),
            oversize_frames=self._oversize + sum(v.oversize_frames for v in videos),
            bad_pes_lengths=self._bad_lengths,
            losses=self._losses,
            frames_damaged=self._damaged + sum(v.frames_damaged for v in videos),
            overloads=self._overloads,
        )

    def feed(
        self,
        payload: bytes,
        *,
        rtp_timestamp: int | None = None,
        marker: bool = False,
        units: int | None = None,
    ) -> list[EsFrame]:
        """Demux the next bytes of the PS stream (one RTP payload, several joined, or any
        piece of one); `units` overrides `max_units_per_feed` for this call (several
        payloads joined may spend the budget of each)."""
        out: list[EsFrame] = []
        self._bytes_fed += len(payload)
        if rtp_timestamp is not None:
            if self._rtp_timestamp is not None and rtp_timestamp != self._rtp_timestamp:
                self._end_frames(out)
            self._rtp_timestamp = rtp_timestamp
        data = bytes(payload) if type(payload) is not bytes else payload
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pos, end = 0, len(data)
        self._budget = self._max_units if units is None else units
        while pos < end:
            pos = self._state(data, pos, out)
            self._budget -= 1
            if self._budget < 0:
                self._overload()
                break
        if marker:
            self._end_frames(out)
        self._frames += len(out)
        return out

    def flush(self) -> list[EsFrame]:
        """End of stream: complete the frames still buffered."""
        out: list[EsFrame] = []
        self._budget = self._max_units
        if self._state == self._on_unbounded:
            self._push(self._pending, 0, len(self._pending), out)
            self._end_pes(out)
        self._pending = b""
        self._end_frames(out)
        self._frames += len(out)
        return out

    def mark_loss(self) -> list[EsFrame]:
        """RTP packets were lost: resynchronise on the next PS start code.

        Returns the video frames that were being assembled, marked damaged: what arrived of
        them is passed on, decoders conceal the rest. The bytes after the gap are skipped up
        to the next PS header and access unit start (where they belong is unknown); a
        partial audio frame is dropped.
        """
        self._losses += 1
        self._resynchronise()
        out: list[EsFrame] = []
        for video in self._videos.values():
            out.extend(video.end_damaged_frame())
        self._frames += len(out)
        return out

    def _overload(self) -> None:
        """The budget of this feed ran out: drop the rest and the partial frames."""
        self._overloads += 1
        self._resynchronise()
        for video in self._videos.values():
            video.abandon()

    def _resynchronise(self) -> None:
        self._pending = b""
        self._state = self._on_scan
        self._video = self._audio = None
        self._audio_pieces = []
        self._audio_size = 0

    def _end_frames(self, out: list[EsFrame]) -> None:
        for video in self._videos.values():
            out.extend(video.end_frame())

    def _need_more(self, data: bytes, pos: int) -> int:
        self._pending = data[pos:]
        return len(data)

    def _on_scan(self, data: bytes, pos: int, out: list[EsFrame]) -> int:
        found = data.find(_START, pos)
        if found < 0:
            keep = max(pos, len(data) - 2)
            self._garbage += keep - pos
            return self._need_more(data, keep)
        if found + 3 >= len(data):
            self._garbage += found - pos
            return self._need_more(data, found)
        if data[found + 3] < _PROGRAM_END:  # an elementary-stream start code: not ours
            self._garbage += found + 3 - pos
            return found + 3
        self._garbage += found - pos
        self._code = data[found + 3]
        self._state = self._on_header
        return found

    def _on_header(self, data: bytes, pos: int, out: list[EsFrame]) -> int:
        code = self._code
        if code == _PACK:
            return self._on_pack_header(data, pos)
        if code == _PROGRAM_END:
            self._state = self._on_scan
            return pos + 4
        if len(data) - pos < 6:
            return self._need_more(data, pos)
        length = data[pos + 4] << 8 | data[pos + 5]
        if 0xC0 <= code <= 0xEF:
            return self._on_pes_header(data, pos, length, out)
        if code == _PSM:
            if len(data) - pos < 6 + length:
                return self._need_more(data, pos)
            self._apply_program_stream_map(parse_program_stream_map(data[pos : pos + 6 + length]))
        self._remaining = length
        self._state = self._on_skip
        return pos + 6

    def _on_pack_header(self, data: bytes, pos: int) -> int:
        if len(data) - pos < 14:
            return self._need_more(data, pos)
        mode = data[pos + 4]
        if mode & 0xC0 == 0x40:  # MPEG-2: 14 bytes + pack_stuffing_length
            self._remaining = 14 + (data[pos + 13] & 0x07)
        elif mode & 0xF0 == 0x20:  # MPEG-1: 12 bytes
            self._remaining = 12
        else:
            self._garbage += 4
            self._state = self._on_scan
            return pos + 4
        self._state = self._on_skip
        return pos

    def _on_pes_header(self, data: bytes, pos: int, length: int, out: list[EsFrame]) -> int:
        available = len(data) - pos
        if available < 9:
            return self._need_more(data, pos)
        if data[pos + 6] & 0xC0 == 0x80:  # MPEG-2: 9 bytes + PES_header_data_length
            need = 9 + data[pos + 8]
        else:  # MPEG-1: stuffing, STD buffer and timestamps of variable size
            need = min(MPEG1_HEADER_MAX, 6 + length) if length else MPEG1_HEADER_MAX
        if available < need:
            return self._need_more(data, pos)
        header = parse_pes_header(data, pos, length)
        if header is None:
            self._garbage += 4
            self._state = self._on_scan
            return pos + 4
        self._open_pes(data[pos + 3], header, out)
        return pos + header.size

    def _open_pes(self, stream_id: int, header: PesHeader, out: list[EsFrame]) -> None:
        timestamps = None
        if header.pts is not None:
            pts = self._unwrapper.extend(header.pts)
            dts = pts if header.dts is None else self._unwrapper.extend(header.dts)
            timestamps = (pts, dts)
        self._video = self._audio = None
        if stream_id >= 0xE0:
            self._video = self._video_stream(stream_id)
            out.extend(self._video.begin_pes(timestamps))
        else:
            self._audio = self._audio_stream(stream_id)
            self._pes_ts = timestamps
            self._audio_pieces = []
            self._audio_size = 0
        if header.payload_length is None:
            self._state = self._on_unbounded
        else:
            self._remaining = header.payload_length
            self._state = self._on_payload
            if not header.payload_length:
                self._end_pes(out)

    def _on_payload(self, data: bytes, pos: int, out: list[EsFrame]) -> int:
        end = min(len(data), pos + self._remaining)
        if self._video is not None:
            pack = data.find(_PACK_START, pos, end)
            if pack >= 0:  # the declared length runs into the next pack: trust the pack
                self._bad_lengths += 1
                self._push(data, pos, pack, out)
                self._end_pes(out)
                return pack
        self._push(data, pos, end, out)
        self._remaining -= end - pos
        if not self._remaining:
            self._end_pes(out)
        return end

    def _on_unbounded(self, data: bytes, pos: int, out: list[EsFrame]) -> int:
        search = pos
        while True:
            self._budget -= 1
            if self._budget < 0:
                return len(data)  # the feed loop sees the budget spent
            found = data.find(_START, search)
            if found < 0 or found + 3 >= len(data):
                keep = max(pos, len(data) - 2) if found < 0 else found
                self._push(data, pos, keep, out)
                return self._need_more(data, keep)
            if data[found + 3] >= _PROGRAM_END:
                self._push(data, pos, found, out)
                self._end_pes(out)
                return found
            search = found + 3

    def _on_skip(self, data: bytes, pos: int, out: list[EsFrame]) -> int:
        end = min(len(data), pos + self._remaining)
        self._remaining -= end - pos
        if not self._remaining:
            self._state = self._on_scan
        return end

    def _push(self, data: bytes, start: int, end: int, out: list[EsFrame]) -> None:
        if start >= end:
            return
        video = self._video
        if video is not None:
            spent = video.work_done
            out.extend(video.push(memoryview(data)[start:end], max_units=self._budget))
            self._budget -= video.work_done - spent
        elif self._audio is not None and self._audio_size + end - start <= self._max_frame_size:
            self._audio_pieces.append(memoryview(data)[start:end])
            self._audio_size += end - start

    def _end_pes(self, out: list[EsFrame]) -> None:
        self._state = self._on_scan
        if self._audio is not None and self._audio_pieces:
            data = b"".join(self._audio_pieces)
            out.append(self._audio.frame(data, self._pes_ts))
            self._budget -= FRAME_COST
        self._audio_pieces = []
        self._audio_size = 0
        self._video = self._audio = None

    def _video_stream(self, stream_id: int) -> VideoAssembler:
        codec = STREAM_TYPE_CODECS.get(self._stream_types.get(stream_id, -1))
        if codec is not None and codec.kind is not MediaKind.VIDEO:
            codec = None
        video = self._videos.get(stream_id)
        if video is None or video.declared_codec is not codec:
            if video is not None:
                self._dropped += video.frames_dropped
                self._oversize += video.oversize_frames
                self._damaged += video.frames_damaged
            video = VideoAssembler(stream_id, codec, max_frame_size=self._max_frame_size)
            self._videos[stream_id] = video
        return video

    def _audio_stream(self, stream_id: int) -> AudioAssembler:
        codec = STREAM_TYPE_CODECS.get(self._stream_types.get(stream_id, -1))
        if codec is not None and codec.kind is not MediaKind.AUDIO:
            codec = None
        audio = self._audios.get(stream_id)
        if audio is None or audio.codec is not codec:
            audio = self._audios[stream_id] = AudioAssembler(stream_id, codec)
        return audio

    def _apply_program_stream_map(self, stream_types: dict[int, int] | None) -> None:
        if stream_types is not None:
            self._stream_types = stream_types
