"""Fragmented MP4 from a stream's frames: the muxer (PyAV) and the fMP4 sink.

Owns the live fMP4 output of DESIGN.md "Live view" (ISO/IEC 14496-12 §8.8 movie fragments,
ISO/IEC 14496-15 §5 `avc1` and §8 `hvc1` sample entries): an init segment (`ftyp`+`moov`),
then one fragment (`moof`+`mdat`) per frame (a player starts from the cached key frame at
once; HLS cuts its segments from them at key frames) or, optionally, one per GOP.
PyAV's mp4 muxer (`frag_every_frame` or `frag_keyframe`, with `empty_moov+default_base_moof`)
takes the Annex-B access units as they are, without re-encoding. The codec parameters come
from the first keyframe's in-band parameter sets; a keyframe with different parameter sets
(new resolution) starts a new init segment. H.265 is written as `hvc1` (parameter sets only
in `hvcC`, which the mp4 muxer strips from the samples) so Safari, Chrome's MSE and ffmpeg
all play it. Audio is not muxed.

`Fmp4Muxer` is synchronous CPU work; `mux_fmp4` runs batches of queued frames and large
frames in worker threads (`asyncio.to_thread`), and muxes a lone small frame on the loop: at
25 frames a second per viewer the thread hand-off cost more than the muxing (STYLE B7 asks
for threads for CPU-heavy work; a P-frame's mux is a copy).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from fractions import Fraction
from io import BytesIO
from typing import Any

import av

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame, MediaKind
from farmwatch.media.nal import ParameterSets, VideoSize, extract_parameter_sets, parse_sps_size
from farmwatch.media.output_clock import OutputClock
from farmwatch.media.queue_sink import DEFAULT_SINK_QUEUE_FRAMES, QueuedSink

__all__ = [
    "Fmp4Chunk",
    "Fmp4Muxer",
    "Fmp4Sink",
    "InitSegment",
    "MediaFragment",
    "codecs_string",
    "mux_fmp4",
]

_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
_MOVFLAGS_PER_FRAME = "frag_every_frame+empty_moov+default_base_moof"
_TIME_BASE = Fraction(1, TIMESTAMP_CLOCK_RATE)
_FFMPEG_NAMES = {Codec.H264: "h264", Codec.H265: "hevc"}
_MAX_BATCH = 32
"""Frames handed to one worker-thread call."""
_INLINE_BYTES = 32 * 1024
"""A single frame up to this size is muxed on the loop (tens of microseconds of copying);
key frames, bursts and the first output's set-up go to a worker thread."""


@dataclass(frozen=True, slots=True)
class InitSegment:
    """`ftyp`+`moov`: what a player needs before any fragment (MSE initialization segment)."""

    data: bytes
    index: int
    """0 for the first init segment of a muxer, +1 at each parameter-set change."""
    codec: Codec
    size: VideoSize
    codecs: str
    """RFC 6381 `codecs` value, e.g. `avc1.42C014` or `hvc1.1.6.L60.90`."""


@dataclass(frozen=True, slots=True)
class MediaFragment:
    """`moof`+`mdat` holding the access units from one keyframe up to the next (or one frame,
    muxed `per_frame`)."""

    data: bytes
    init_index: int
    """The `InitSegment.index` this fragment decodes with."""
    start: int
    """Decode time of the first frame, 90 kHz ticks from the muxer's first frame."""
    duration: int
    """90 kHz ticks up to the next fragment (or the last frame's end)."""
    frame_count: int
    starts_with_keyframe: bool
    """Its first frame is a key frame: a player can start decoding at it."""


Fmp4Chunk = InitSegment | MediaFragment


def codecs_string(codec: Codec, sps: bytes) -> str:
    """RFC 6381 / ISO/IEC 14496-15 Annex E `codecs` value from an SPS NAL unit (with header)."""
    rbsp = sps.replace(b"\x00\x00\x03", b"\x00\x00")
    if codec is Codec.H264 and len(rbsp) >= 4:
        return f"avc1.{rbsp[1:4].hex().upper()}"
    if codec is Codec.H265 and len(rbsp) >= 15:
        profile = rbsp[3]
        space = ("", "A", "B", "C")[profile >> 6]
        tier = "H" if profile & 0x20 else "L"
        compatibility = int("{:032b}".format(int.from_bytes(rbsp[4:8], "big"))[::-1], 2)
        constraints = rbsp[8:14].rstrip(b"\x00")
        parts = [f"hvc1.{space}{profile & 0x1F}", f"{compatibility:X}", f"{tier}{rbsp[14]}"]
        parts += [f"{byte:X}" for byte in constraints]
        return ".".join(parts)
    raise MediaError(f"no codecs string for {codec}")


class _BoxSplitter:
    """Cuts the muxer's byte output into top-level ISO BMFF boxes (ISO/IEC 14496-12 §4.2)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """(box type, whole box) for every box completed by `data`."""
        self._buffer += data
        boxes: list[tuple[bytes, bytes]] = []
        offset = 0
        while len(self._buffer) - offset >= 8:
            size = int.from_bytes(self._buffer[offset : offset + 4], "big")
            header = 8
            if size == 1 and len(self._buffer) - offset >= 16:
                size, header = int.from_bytes(self._buffer[offset + 8 : offset + 16], "big"), 16
            if size < header or len(self._buffer) - offset < size:
                break
            box_type = bytes(self._buffer[offset + 4 : offset + 8])
            boxes.append((box_type, bytes(self._buffer[offset : offset + size])))
            offset += size
        del self._buffer[:offset]
        return boxes


class _Output:
    """One PyAV mp4 container writing into memory, and the fragment it is filling."""

    def __init__(
        self, codec: Codec, parameter_sets: ParameterSets, index: int, *, per_frame: bool
    ) -> None:
        if parameter_sets.sps is None:
            raise MediaError("keyframe without SPS")
        self.codec = codec
        self.parameter_sets = parameter_sets
        self.index = index
        self.size = parse_sps_size(codec, parameter_sets.sps)
        self.codecs = codecs_string(codec, parameter_sets.sps)
        self._buffer = BytesIO()
        self._splitter = _BoxSplitter()
        self._init_parts: list[bytes] = []
        self._moof: bytes | None = None
        self._fragment_start: int | None = None
        self._fragment_keyframe = False
        self._fragment_frames = 0
        self._last_dts = -1
        self._last_interval = TIMESTAMP_CLOCK_RATE // 25
        extradata = b"".join(
            b"\x00\x00\x00\x01" + unit
            for unit in (parameter_sets.vps, parameter_sets.sps, parameter_sets.pps)
            if unit is not None
        )
        self._container: Any = av.open(
            self._buffer,
            "w",
            format="mp4",
            options={"movflags": _MOVFLAGS_PER_FRAME if per_frame else _MOVFLAGS},
        )
        try:
            self._stream: Any = _add_video_stream(self._container, codec, extradata, self.size)
        except av.error.FFmpegError:
            self._container.close()
            raise

    def mux(self, data: bytes, dts: int, pts: int, *, is_keyframe: bool) -> list[Fmp4Chunk]:
        """Mux one access unit; a keyframe makes the muxer flush the previous fragment."""
        dts = max(dts, self._last_dts + 1)
        packet = av.Packet(data)
        packet.dts = dts
        packet.pts = max(pts, dts)
        packet.time_base = _TIME_BASE
        packet.stream = self._stream
        packet.is_keyframe = is_keyframe
        self._container.mux(packet)
        chunks = self._take(end=dts)
        if any(isinstance(chunk, MediaFragment) for chunk in chunks):
            self._fragment_start, self._fragment_frames = None, 0
        if self._fragment_start is None:
            self._fragment_start, self._fragment_keyframe = dts, is_keyframe
        if self._last_dts >= 0:
            self._last_interval = dts - self._last_dts
        self._fragment_frames += 1
        self._last_dts = dts
        return chunks

    def close(self) -> list[Fmp4Chunk]:
        """Write the trailer; returns the fragment still open."""
        self._container.close()
        return self._take(end=self._last_dts + self._last_interval)

    def _take(self, *, end: int) -> list[Fmp4Chunk]:
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        chunks: list[Fmp4Chunk] = []
        for box_type, box in self._splitter.feed(data) if data else []:
            if box_type in (b"ftyp", b"moov"):
                self._init_parts.append(box)
                if box_type == b"moov":
                    chunks.append(self._init_segment())
            elif box_type == b"moof":
                self._moof = box
            elif box_type == b"mdat" and self._moof is not None:
                chunks.append(self._fragment(self._moof + box, end))
                self._moof = None
        return chunks

    def _init_segment(self) -> InitSegment:
        return InitSegment(
            data=b"".join(self._init_parts),
            index=self.index,
            codec=self.codec,
            size=self.size,
            codecs=self.codecs,
        )

    def _fragment(self, data: bytes, end: int) -> MediaFragment:
        start = self._fragment_start if self._fragment_start is not None else end
        return MediaFragment(
            data=data,
            init_index=self.index,
            start=start,
            duration=max(end - start, 0),
            frame_count=self._fragment_frames,
            starts_with_keyframe=self._fragment_keyframe,
        )


def _add_video_stream(container: Any, codec: Codec, extradata: bytes, size: VideoSize) -> Any:
    """A stream that muxes Annex-B packets as they are (no encoder is ever opened).

    PyAV copies codec parameters without opening a codec only from a template stream, so the
    template is the parameter sets themselves, read back by the raw Annex-B demuxer.
    """
    with av.open(BytesIO(extradata), format=_FFMPEG_NAMES[codec]) as template:
        stream = container.add_stream_from_template(template.streams.video[0])
    stream.codec_context.extradata = extradata
    stream.codec_context.width = size.width
    stream.codec_context.height = size.height
    if codec is Codec.H265:
        stream.codec_context.codec_tag = "hvc1"
    stream.time_base = _TIME_BASE
    return stream


class Fmp4Muxer:
    """Annex-B H.264/H.265 `EsFrame`s in, `InitSegment`s and `MediaFragment`s out (CPU work).

    Frames before the first keyframe with complete parameter sets that parse, audio frames
    and frames of another codec are skipped (`frames_skipped`); a damaged keyframe starts
    the output only when there is none yet. Timestamps go through an `OutputClock`: the
    first keyframe decodes at 0 and a jump of the device's clock (a file looping back to 0)
    neither freezes nor stretches the output (`timestamp_jumps`). Call `feed`/`finish` from
    one thread at a time (a lock enforces it), never from the event loop.
    """

    def __init__(self, *, per_frame: bool = False) -> None:
        """`per_frame`: a fragment per frame (a player starts at once, each frame leaves as
        soon as the next one arrives) instead of one per GOP (what HLS segments are cut
        from)."""
        self._per_frame = per_frame
        self._lock = threading.Lock()
        self._output: _Output | None = None
        self._next_index = 0
        self._clock = OutputClock()
        self._finished = False
        self.frames_muxed = 0
        self.frames_skipped = 0

    def feed(self, frame: EsFrame) -> list[Fmp4Chunk]:
        """Mux one frame; returns the init segment and fragments it completed."""
        with self._lock:
            if self._finished or not self._accepts(frame):
                self.frames_skipped += 1
                return []
            # A damaged key frame (RTP loss) may start the first output, never replace one:
            # its parameter sets may be cut short.
            is_start = frame.is_keyframe and (self._output is None or not frame.is_damaged)
            chunks = self._restart_if_changed(frame) if is_start else []
            if self._output is None:
                self.frames_skipped += 1
                return chunks
            pts, dts = self._clock.stamp(frame.pts, frame.dts)
            chunks += self._output.mux(frame.data, dts, pts, is_keyframe=frame.is_keyframe)
            self.frames_muxed += 1
            return chunks

    @property
    def timestamp_jumps(self) -> int:
        """Jumps of the source's timestamps the output was re-based over."""
        return self._clock.jumps

    @property
    def is_finished(self) -> bool:
        return self._finished

    @property
    def is_started(self) -> bool:
        """An output (container) is open: frames go into it, none sets one up."""
        return self._output is not None

    def finish(self) -> list[Fmp4Chunk]:
        """Write the trailer and return the last fragment; later frames are skipped."""
        with self._lock:
            self._finished = True
            return self._close_output()

    def _accepts(self, frame: EsFrame) -> bool:
        if frame.kind is not MediaKind.VIDEO or not frame.codec.is_annex_b:
            return False
        return self._output is None or frame.codec is self._output.codec

    def _restart_if_changed(self, frame: EsFrame) -> list[Fmp4Chunk]:
        parameter_sets = extract_parameter_sets(frame.codec, frame.data)
        if not parameter_sets.is_complete(frame.codec):
            return []
        if self._output is not None and self._output.parameter_sets == parameter_sets:
            return []
        try:
            output = _Output(
                frame.codec, parameter_sets, self._next_index, per_frame=self._per_frame
            )
        except (MediaError, av.error.FFmpegError):
            return []  # parameter sets that do not parse (refused, garbage): wait for others
        chunks = self._close_output()
        self._output = output
        self._next_index += 1
        return chunks

    def _close_output(self) -> list[Fmp4Chunk]:
        output, self._output = self._output, None
        return output.close() if output is not None else []


def _feed_batch(muxer: Fmp4Muxer, frames: list[EsFrame]) -> list[Fmp4Chunk]:
    return [chunk for frame in frames for chunk in muxer.feed(frame)]


async def _next_batch(source: QueuedSink) -> list[EsFrame]:
    """The next frame (waiting for it) plus whatever else is already queued, up to a bound."""
    first = await source.next_frame()
    if first is None:
        return []
    batch = [first]
    while source.queued_frames and len(batch) < _MAX_BATCH:
        frame = await source.next_frame()  # returns at once: the queue is not empty
        if frame is None:
            break
        batch.append(frame)
    return batch


async def mux_fmp4(
    source: QueuedSink,
    *,
    per_frame: bool = False,
    after_batch: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[Fmp4Chunk, None]:
    """Mux the frames `source` yields, off the loop; ends when `source` ends or closes.

    `after_batch` is awaited once the chunks of each batch of queued frames have been
    yielded (and handled by the consumer): when `source.queued_frames` is then 0, the
    muxer has caught up with what was queued, e.g. the GOP a new viewer joined on.
    The muxer lives as long as the iteration: leaving it early (break, cancellation)
    releases the PyAV container. One iteration per source.
    """
    muxer = Fmp4Muxer(per_frame=per_frame)
    try:
        while batch := await _next_batch(source):
            if len(batch) == 1 and len(batch[0].data) <= _INLINE_BYTES and muxer.is_started:
                # One ordinary frame, the steady state: muxing it costs less than handing it
                # to a thread and back (which dominated a viewer's cost).
                chunks = _feed_batch(muxer, batch)
            else:
                chunks = await asyncio.to_thread(_feed_batch, muxer, batch)
            for chunk in chunks:
                yield chunk
            if after_batch is not None:
                await after_batch()
        for chunk in await asyncio.to_thread(muxer.finish):
            yield chunk
    finally:
        if not muxer.is_finished:
            await asyncio.to_thread(muxer.finish)


class Fmp4Sink(QueuedSink):
    """A stream output read as fragmented MP4 bytes (one HTTP response, one MSE feed).

    Attach it to a stream, then iterate `chunks()` (bytes: the init segment, then one
    fragment per frame, so that a player starts from the cached key frame at once) or
    `segments()` (the same as typed `InitSegment`/`MediaFragment`).
    Only one of them, once. The iteration ends after the stream ended (`end`) and the last
    fragment was written, or at once after `close()`; when it ends, or the reader stops
    (HTTP client gone, task cancelled), the sink closes itself and the stream detaches it.
    """

    def __init__(self, *, max_frames: int = DEFAULT_SINK_QUEUE_FRAMES, name: str = "") -> None:
        super().__init__(max_frames=max_frames, name=name)
        self._is_consumed = False

    async def segments(self) -> AsyncGenerator[Fmp4Chunk, None]:
        """Typed init segments and fragments (a new `InitSegment` when the SPS changes)."""
        if self._is_consumed:
            raise MediaError(f"fMP4 sink {self.name!r} is already being read")
        self._is_consumed = True
        try:
            async with aclosing(mux_fmp4(self, per_frame=True)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            await self.close()  # the one reader left (or the stream ended): the stream detaches

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The fMP4 byte stream: write each chunk to the HTTP response as it comes."""
        async with aclosing(self.segments()) as segments:
            async for chunk in segments:
                yield chunk.data
