"""Frame assembly behind the PS demuxer: video access units and audio frames from PES payloads.

Owns the "How a frame is spread over PES packets" rules of gb28181.md §8.2. Video PES
payloads of one stream are concatenated and cut into access units where the NAL units say a
new one starts (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4: AUD, parameter sets, SEI, or the first
slice of a picture), or where the RTP layer says a frame ended (marker bit, timestamp
change). NAL boundaries, not pack headers, decide because muxers split frames across packs
(FFmpeg's MPEG-PS muxer does) and pack several frames into one PES. The PTS of a PES belongs
to the first access unit starting in it (ISO/IEC 13818-1 §2.4.3.7). Output waits for a key
frame with known parameter sets at start (and after an overflow); at RTP loss the frame
that lost bytes is emitted at once, marked damaged, and the frames after it go on as usual,
as leading media servers do: decoders conceal, and a key frame is asked for. Per-push work
is bounded for the demuxer's budget. Audio: one frame per PES.
"""

from __future__ import annotations

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import H264_NAL_CLASSES, H265_NAL_CLASSES, NalClass, sniff_video_codec

__all__ = [
    "FRAME_COST",
    "MAX_NAL_UNITS_PER_ACCESS_UNIT",
    "AudioAssembler",
    "TimestampUnwrapper",
    "VideoAssembler",
]

_START = b"\x00\x00\x01"
_MODULUS = 1 << 33
_DEFAULT_FRAME_TICKS = 3600  # 25 fps, only used before two timestamps were seen
# NalClass bits as plain ints (IntFlag arithmetic costs a Python call per operation).
_VCL = int(NalClass.VCL)
_AU_START = int(NalClass.AU_START)
_KEY = int(NalClass.KEY)
_H264_PARAMETER_SETS = int(NalClass.SPS | NalClass.PPS)
_H265_PARAMETER_SETS = int(NalClass.VPS | NalClass.SPS | NalClass.PPS)
_TIMESTAMP_SLACK = 4  # an AU may start up to a start code before its PES (split start code)
FRAME_COST = 32
"""Budget units of one emitted frame: it goes on through the stream and every sink, which
costs a few dozen times the demultiplexing of one NAL unit (a PES of 5-byte pictures held
the loop 60 ms a call at 8 units a frame)."""
MAX_NAL_UNITS_PER_ACCESS_UNIT = 1024
"""More NAL units than this in one access unit is an attack or garbage, not a picture: real
ones have a handful (AUD, SEI, parameter sets) plus one slice per row at most."""

_NO_BOUND = 1 << 62

Timestamps = tuple[int, int]


class TimestampUnwrapper:
    """Extends 33-bit 90 kHz timestamps to ints, picking the value nearest the previous one."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: int | None = None

    def extend(self, raw: int) -> int:
        if self._last is None:
            self._last = raw
            return raw
        delta = (raw - self._last) % _MODULUS
        if delta >= _MODULUS // 2:
            delta -= _MODULUS
        self._last += delta
        return self._last


class _Clock:
    """Per-stream timestamps: PES values when present, else extrapolated by the last step."""

    __slots__ = ("_last", "_step")

    def __init__(self) -> None:
        self._last: Timestamps | None = None
        self._step = _DEFAULT_FRAME_TICKS

    def stamp(self, given: Timestamps | None, step: int | None = None) -> Timestamps:
        last = self._last
        if given is None:
            advance = step if step is not None else self._step
            given = (0, 0) if last is None else (last[0] + advance, last[1] + advance)
        elif last is not None and 0 < given[1] - last[1] < 90_000 * 10:
            self._step = given[1] - last[1]
        self._last = given
        return given

    @property
    def last(self) -> Timestamps | None:
        return self._last


class VideoAssembler:
    """Access units of one video PES stream (stream_id 0xE0-0xEF).

    Call `begin_pes` for each PES header, `push` for each piece of its payload, `end_frame`
    when the RTP layer knows the frame ended, `end_damaged_frame` on loss, `reset` to drop
    the partial frame. `codec=None` sniffs H.264 vs H.265 from the first parameter set; until the
    first key frame is out, parameter sets of the other Annex-B codec override the PSM's
    stream_type too (mislabelled H.265 devices). Non-Annex-B codecs (MPEG-4, SVAC) are framed
    by PTS.

    Work is bounded (issue 13 item 6): an access unit of more than `max_nal_units` NAL units
    (counted oversize), or a `push` that would scan more than its `max_units`, is abandoned;
    the bytes up to the next frame boundary are then dropped unread. Cuts are made without
    moving the buffer, which is compacted once per `push`: many tiny access units cost
    linear time.
    """

    def __init__(
        self,
        stream_id: int,
        codec: Codec | None,
        *,
        max_frame_size: int,
        max_nal_units: int = MAX_NAL_UNITS_PER_ACCESS_UNIT,
    ) -> None:
        self.stream_id = stream_id
        self.codec = codec
        self.declared_codec = codec
        """The codec the PSM named (None: none or unknown), before sniffing."""
        self.frames_dropped = 0
        self.oversize_frames = 0
        self.frames_damaged = 0
        """Frames emitted with `is_damaged` (bytes of them were lost)."""
        self.work_done = 0
        """Budget units spent (`push`'s `max_units`): one per NAL unit, `FRAME_COST` per frame."""
        self._max = max_frame_size
        self._max_nal_units = max_nal_units
        self._annex_b = codec is None or codec.is_annex_b
        self._buf = bytearray()
        self._head = 0  # _buf[_head:] is the access unit being assembled; before it: emitted
        self._scan = 0
        self._base = 0  # stream offset of _buf[0]
        self._synced = False  # _buf[_head] starts an access unit
        self._flags = 0  # NalClass bits of the NAL classes seen in the current access unit
        self._units = 0  # NAL units in the current access unit
        self._is_discarding = False  # abandoned: drop bytes up to the next frame boundary
        self._au_ts: Timestamps | None = None
        self._closed_ts: Timestamps | None = None
        self._pending: tuple[int, int, int] | None = None  # pts, dts, stream offset of PES
        self._params = 0  # parameter sets ever seen
        self._waiting_key = True
        self._clock = _Clock()

    def begin_pes(self, timestamps: Timestamps | None) -> list[EsFrame]:
        """A PES header of this stream was parsed; `timestamps` is its (pts, dts) if any."""
        if timestamps is not None:
            self._is_discarding = False  # a new frame begins
        if not self._annex_b:
            out: list[EsFrame] = []
            if timestamps is not None and timestamps != self._au_ts:
                if self._buf:
                    self._emit_raw(out)
                self._au_ts = timestamps
            return out
        if timestamps is not None:
            self._pending = (timestamps[0], timestamps[1], self._base + len(self._buf))
        return []

    def push(self, chunk: bytes | memoryview, *, max_units: int | None = None) -> list[EsFrame]:
        """Append PES payload bytes; returns the access units completed by them.

        At most `max_units` budget units are spent: one per NAL unit scanned, `FRAME_COST`
        per access unit emitted (None: no bound but the access unit's `max_nal_units`).
        """
        out: list[EsFrame] = []
        if self._is_discarding:
            return out
        self._buf += chunk
        if len(self._buf) > self._max:
            self.oversize_frames += 1
            self.reset()
            return out
        if self._annex_b:
            self._scan_nal_units(out, _NO_BOUND if max_units is None else max_units)
        return out

    def end_frame(self) -> list[EsFrame]:
        """The RTP marker bit or a timestamp change closed the frame: emit what is buffered."""
        out: list[EsFrame] = []
        self._is_discarding = False
        if not self._annex_b:
            if self._buf:
                self._emit_raw(out)
            return out
        if self._synced and self._flags & _VCL:
            self._close(len(self._buf), out)
            self._synced = False  # the next access unit starts at its first NAL unit
            self._compact(len(self._buf))
        return out

    def end_damaged_frame(self) -> list[EsFrame]:
        """Loss: the access unit being assembled misses bytes from here on. It is emitted now,
        marked damaged (decoders conceal the rest), and the bytes up to the next access unit
        start are skipped: nothing after a gap is appended to a frame, so two frames never
        merge even without RTP timestamps."""
        out: list[EsFrame] = []
        self._pending = None
        if not self._annex_b:
            if self._buf:
                self._emit_raw(out, damaged=True)
            return out
        if self._synced:
            self._close(len(self._buf), out, damaged=True)
            self._synced = False
            self._compact(len(self._buf))
        return out

    def reset(self) -> None:
        """Overflow or abandon: drop the partial frame and wait for the next key frame."""
        if self._flags & _VCL:
            self.frames_dropped += 1
        self._base += len(self._buf)
        self._buf.clear()
        self._head = self._scan = 0
        self._synced = False
        self._flags = self._units = 0
        self._pending = None
        self._waiting_key = True

    def abandon(self) -> None:
        """Drop the partial frame and the bytes up to the next frame boundary, unread."""
        self.reset()
        self._is_discarding = True

    def _scan_nal_units(self, out: list[EsFrame], max_units: int) -> None:
        buf = self._buf
        pos = self._scan
        spent = 0
        while True:
            found = buf.find(_START, pos)
            if found < 0 or found + 6 > len(buf):
                pos = max(pos, len(buf) - 2) if found < 0 else found
                break
            spent += 1
            if spent > max_units:
                self.work_done += spent
                self.abandon()
                return
            header = buf[found + 3]
            codec = self.codec
            if self._waiting_key:  # no PSM, or one that may lie: parameter sets decide
                codec = self.codec = sniff_video_codec(header, buf[found + 4]) or codec
                if codec is None:
                    pos = found + 3
                    continue
            if codec is Codec.H265:
                nal, first_slice_at = H265_NAL_CLASSES[header], found + 5
            else:
                nal, first_slice_at = H264_NAL_CLASSES[header], found + 4
            starts = buf[first_slice_at] & 0x80 if nal & _VCL else nal & _AU_START
            if starts and (not self._synced or self._flags & _VCL):
                emitted = len(out)
                self._cut(found - 1 if found > self._head and buf[found - 1] == 0 else found, out)
                spent += (len(out) - emitted) * FRAME_COST
            self._flags |= nal
            self._units += 1
            if self._units > self._max_nal_units:
                self.work_done += spent
                self.oversize_frames += 1
                self.abandon()
                return
            pos = found + 3
        self.work_done += spent
        if not self._synced and pos - 1 > self._head:  # keep nothing before an access unit
            self._head = pos - 1  # but one byte: the leading zero of a 4-byte start code
        self._compact(pos)

    def _compact(self, scan: int) -> None:
        """Drop the emitted bytes before `_head` (once per push: cuts stay linear)."""
        head = self._head
        if head:
            del self._buf[:head]
            self._base += head
            self._head = 0
        self._scan = scan - head

    def _cut(self, cut: int, out: list[EsFrame]) -> None:
        """Close the access unit `_buf[_head:cut]` and open the next one at `cut`."""
        self._close(cut, out)
        pending = self._pending
        if pending is not None and self._base + cut + _TIMESTAMP_SLACK >= pending[2]:
            self._pending = None
            if (pending[0], pending[1]) != self._closed_ts:  # a PTS repeated on continuations
                self._au_ts = (pending[0], pending[1])
        self._synced = True

    def _close(self, cut: int, out: list[EsFrame], *, damaged: bool = False) -> None:
        """Emit `_buf[_head:cut]` when it is an access unit; the next one starts at `cut`."""
        if self._synced and self._flags & _VCL:
            with memoryview(self._buf) as view:
                data = view[self._head : cut].tobytes()
            self._emit(data, out, damaged)
        self._head = cut
        self._closed_ts = self._au_ts
        self._au_ts = None
        self._flags = self._units = 0

    def _emit(self, data: bytes, out: list[EsFrame], damaged: bool) -> None:
        flags = self._flags
        self._params |= flags & _H265_PARAMETER_SETS
        is_key = bool(flags & _KEY)
        if self._waiting_key:
            needed = _H265_PARAMETER_SETS if self.codec is Codec.H265 else _H264_PARAMETER_SETS
            if not is_key or self._params & needed != needed:
                self.frames_dropped += 1
                return
            self._waiting_key = False
        pts, dts = self._clock.stamp(self._au_ts)
        assert self.codec is not None  # a VCL unit was classified, so the codec is known
        self.frames_damaged += damaged
        out.append(EsFrame(self.codec, data, pts, dts, is_key, self.stream_id, damaged))

    def _emit_raw(self, out: list[EsFrame], *, damaged: bool = False) -> None:
        data = bytes(self._buf)
        self._base += len(self._buf)
        self._buf.clear()
        pts, dts = self._clock.stamp(self._au_ts)
        self._au_ts = None
        is_key = self.codec is Codec.MPEG4 and _is_mpeg4_intra(data)
        assert self.codec is not None
        self.frames_damaged += damaged
        out.append(EsFrame(self.codec, data, pts, dts, is_key, self.stream_id, damaged))


def _is_mpeg4_intra(data: bytes) -> bool:
    """An MPEG-4 Visual frame holding an I-VOP (vop_coding_type 00, ISO/IEC 14496-2 §6.2.5)."""
    vop = data.find(b"\x00\x00\x01\xb6")
    return 0 <= vop < len(data) - 4 and data[vop + 4] >> 6 == 0


class AudioAssembler:
    """Audio frames of one audio PES stream (stream_id 0xC0-0xDF): one frame per PES.

    `codec=None` sniffs ADTS (AAC) by its sync word and otherwise assumes G.711 A-law, the
    GB/T 28181 default audio codec.
    """

    def __init__(self, stream_id: int, codec: Codec | None) -> None:
        self.stream_id = stream_id
        self.codec = codec
        self._clock = _Clock()
        self._last_size = 0

    def frame(self, data: bytes, timestamps: Timestamps | None) -> EsFrame:
        """The audio frame carried by one complete PES payload."""
        codec = self.codec
        if codec is None:
            is_adts = len(data) > 7 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0
            codec = Codec.AAC if is_adts else Codec.G711A
        step = None
        last = self._clock.last
        if timestamps is None and last is not None and codec in (Codec.G711A, Codec.G711U):
            step = self._last_size * 45 // 4  # 8 kHz samples in 90 kHz ticks
        pts, dts = self._clock.stamp(timestamps, step)
        self._last_size = len(data)
        return EsFrame(codec, data, pts, dts, True, self.stream_id)
