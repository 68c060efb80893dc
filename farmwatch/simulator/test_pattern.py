"""The simulator's generated test picture, encoded once into a loop of ready-to-send frames.

Owns what a simulated camera shows: 75 % colour bars, a moving luma ramp, a band of changing
grey noise (so the encoder actually spends the configured bitrate, about 1 Mbit/s at 640x360 and
up to roughly 4 Mbit/s; the rest of the picture alone compresses to ~170 kbit/s), and, burned in
with a tiny built-in 5x7 bitmap font, the channel ID (20 digits) and a running clock. The noise
is seeded by channel and picture index, so a spec always paints the same pictures. The picture is
drawn straight into YUV 4:2:0 planes with bytes operations (no numpy), encoded with PyAV
(libx264 constrained baseline, zerolatency, no B-frames, SPS/PPS repeated before every IDR,
Annex-B; or libx265 on request) and muxed into PS per frame (gb28181.md §8.2, §8.3) so a stream
only has to re-stamp and packetise.

`PictureMode` paints what a faulty camera shows instead (for the video quality diagnosis):
black, frozen (picture 0 every time, still encoded as a stream of frames), blurred (the normal
picture strongly blurred), covered (one flat grey), overexposed (nearly white) or tinted (a
strong colour cast). Each mode is part of the spec, so it is encoded once and cached like the
normal loop, and the normal path pays nothing for the others.

The loop is `loop_seconds` long and replayed forever with continuous timestamps, so the clock
burned into the picture is the stream time modulo the loop length (it runs from 00:00:00.00 to
the loop length, then starts again); only the RTP/PS timestamps keep increasing.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import av

from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, PsPacket, StreamType

__all__ = [
    "RTP_CLOCK_RATE",
    "EncodedFrame",
    "EncodedLoop",
    "PictureMode",
    "TestPatternError",
    "TestPatternSpec",
    "VideoCodec",
    "assemble_loop",
    "clock_text",
    "encode_test_pattern",
    "paint_test_pattern",
    "pattern_jpeg",
]

RTP_CLOCK_RATE = 90_000
_CHANNEL_ID = re.compile(r"\d{20}")


class TestPatternError(Exception):
    """The encoder is missing or did not produce one access unit per picture."""

    __test__ = False  # not a pytest test class


class VideoCodec(enum.StrEnum):
    H264 = "h264"
    H265 = "h265"

    @property
    def stream_type(self) -> StreamType:
        return StreamType.H264 if self is VideoCodec.H264 else StreamType.H265


class PictureMode(enum.StrEnum):
    """What a simulated camera shows: its moving test pattern, or one of the faults the
    platform's video quality diagnosis looks for."""

    NORMAL = "normal"
    BLACK = "black"
    FROZEN = "frozen"
    BLURRED = "blurred"
    COVERED = "covered"
    OVEREXPOSED = "overexposed"
    TINTED = "tinted"


@dataclass(frozen=True, slots=True)
class TestPatternSpec:
    """Everything that changes the encoded bytes; equal specs share one cached loop."""

    __test__ = False  # not a pytest test class

    channel_id: str
    codec: VideoCodec = VideoCodec.H264
    width: int = 640
    height: int = 360
    fps: int = 25
    bitrate: int = 1_000_000
    gop: int = 25
    loop_seconds: int = 4
    picture: PictureMode = PictureMode.NORMAL

    def __post_init__(self) -> None:
        if not _CHANNEL_ID.fullmatch(self.channel_id):
            raise ValueError(f"channel_id: expected 20 digits, got {self.channel_id!r}")
        for name, value, low, high in (
            ("width", self.width, 32, 4096),
            ("height", self.height, 32, 2304),
            ("fps", self.fps, 1, 60),
            ("bitrate", self.bitrate, 10_000, 50_000_000),
            ("gop", self.gop, 1, 600),
            ("loop_seconds", self.loop_seconds, 1, 60),
        ):
            if not low <= value <= high:
                raise ValueError(f"{name}: expected {low}..{high}, got {value}")
        if self.width % 2 or self.height % 2:
            raise ValueError(f"size: width and height must be even, got {self.size_text}")

    @property
    def frame_count(self) -> int:
        return self.fps * self.loop_seconds

    @property
    def size_text(self) -> str:
        return f"{self.width}x{self.height}"

    def pts_of(self, index: int) -> int:
        """90 kHz presentation time of picture `index` from the start of the loop."""
        return index * RTP_CLOCK_RATE // self.fps


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One access unit of the loop.

    `data` is Annex-B; `pts` is relative to the loop start and `duration` is in 90 kHz ticks;
    `ps` is the PS packet muxed at `pts` (re-stamp with `ps.shifted(delta)`).
    """

    data: bytes
    pts: int
    duration: int
    is_keyframe: bool
    ps: PsPacket


@dataclass(frozen=True, slots=True)
class EncodedLoop:
    """A pre-encoded loop; frame 0 is a key frame, so the loop can restart at any wrap."""

    spec: TestPatternSpec
    frames: tuple[EncodedFrame, ...]

    @property
    def duration(self) -> int:
        """Length of one pass of the loop in 90 kHz ticks."""
        return self.spec.loop_seconds * RTP_CLOCK_RATE


def encode_test_pattern(spec: TestPatternSpec) -> EncodedLoop:
    """Draw, encode and PS-mux the whole loop (CPU-heavy: run it off the event loop)."""
    units = _encode_pictures(spec)
    if len(units) != spec.frame_count:
        raise TestPatternError(f"encoder gave {len(units)} access units for {spec.frame_count}")
    loop = assemble_loop(spec, [(is_keyframe, data) for _, is_keyframe, data in sorted(units)])
    if not loop.frames[0].is_keyframe:
        raise TestPatternError("the loop does not start with a key frame")
    return loop


def assemble_loop(spec: TestPatternSpec, units: Sequence[tuple[bool, bytes]]) -> EncodedLoop:
    """The loop of `spec` from its encoded access units (key frame?, bytes) in order:
    timed by the spec's frame rate and PS-muxed as a device sends them."""
    muxer = PsMuxer(PsMuxerConfig(video=spec.codec.stream_type))
    frames = []
    for index, (is_keyframe, data) in enumerate(units):
        pts = spec.pts_of(index)
        frames.append(
            EncodedFrame(
                data=data,
                pts=pts,
                duration=spec.pts_of(index + 1) - pts,
                is_keyframe=is_keyframe,
                ps=muxer.mux_video(data, pts, is_keyframe=is_keyframe),
            )
        )
    return EncodedLoop(spec=spec, frames=tuple(frames))


def paint_test_pattern(spec: TestPatternSpec, index: int) -> tuple[bytes, bytes, bytes]:
    """The Y, U and V planes (tightly packed, 4:2:0) of picture `index` of the loop."""
    return _Painter(spec).paint(index)


def pattern_jpeg(spec: TestPatternSpec, index: int, *, quality: int = 5) -> bytes:
    """Picture `index` of the loop as a baseline JPEG (PyAV's mjpeg encoder; `quality` is
    its qscale, 2 best .. 31 worst): what the camera uploads when asked for a snapshot."""
    picture = _video_frame(spec, paint_test_pattern(spec, index % spec.frame_count))
    context: Any = av.CodecContext.create("mjpeg", "w")
    context.width, context.height = spec.width, spec.height
    context.pix_fmt = "yuvj420p"
    context.time_base = Fraction(1, spec.fps)
    context.options = {"qmin": str(quality), "qmax": str(quality)}
    full_range = picture.reformat(format="yuvj420p")
    full_range.pts = 0
    packets = [*context.encode(full_range), *context.encode(None)]
    if not packets:
        raise TestPatternError("the JPEG encoder gave no picture")
    return b"".join(bytes(packet) for packet in packets)


def _encode_pictures(spec: TestPatternSpec) -> list[tuple[int, bool, bytes]]:
    """(picture index, is key frame, Annex-B bytes) per access unit; PyAV types stay here."""
    context = _open_encoder(spec)
    painter = _Painter(spec)
    units: list[tuple[int, bool, bytes]] = []
    for index in range(spec.frame_count + 1):
        frame = None
        if index < spec.frame_count:
            frame = _video_frame(spec, painter.paint(index))
            if spec.picture is PictureMode.BLURRED:
                frame = _blurred(frame)
            frame.pts = index
        for packet in context.encode(frame):
            pts = packet.pts if packet.pts is not None else len(units)
            units.append((pts, bool(packet.is_keyframe), bytes(packet)))
    return units


def _open_encoder(spec: TestPatternSpec) -> av.VideoCodecContext:
    kbps = spec.bitrate // 1000
    common = (
        f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes=0:repeat-headers=1:"
        f"annexb=1:vbv-maxrate={kbps}:vbv-bufsize={kbps}"
    )
    if spec.codec is VideoCodec.H264:
        name = "libx264"
        options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": common,
        }
    else:
        name = "libx265"
        options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": f"{common}:log-level=error",
        }
    if name not in av.codecs_available:
        raise TestPatternError(f"{spec.codec} needs {name}, which this PyAV build lacks")
    context = av.CodecContext.create(name, "w")
    if not isinstance(context, av.VideoCodecContext):
        raise TestPatternError(f"{name} is not a video encoder")
    context.width = spec.width
    context.height = spec.height
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, spec.fps)
    context.framerate = Fraction(spec.fps, 1)
    context.bit_rate = spec.bitrate
    context.gop_size = spec.gop
    context.options = options
    return context


def _video_frame(spec: TestPatternSpec, planes: tuple[bytes, bytes, bytes]) -> av.VideoFrame:
    frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        if plane.line_size == plane.width:
            plane.update(data)
            continue
        padding = bytes(plane.line_size - plane.width)
        rows = (
            data[row * plane.width : (row + 1) * plane.width] + padding
            for row in range(plane.height)
        )
        plane.update(b"".join(rows))
    return frame


_BLUR_FACTOR = 16


def _blurred(frame: av.VideoFrame) -> av.VideoFrame:
    """`frame` shrunk 16 times (area average) and blown up again: a strong, even blur, as a
    lens out of focus or misted over gives."""
    small = frame.reformat(
        width=max(2, frame.width // _BLUR_FACTOR), height=max(2, frame.height // _BLUR_FACTOR),
        interpolation="AREA",
    )  # fmt: skip
    return small.reformat(width=frame.width, height=frame.height, interpolation="BILINEAR")


# 75 % colour bars, BT.601 limited range (Y, Cb, Cr): white, yellow, cyan, green, magenta,
# red, blue.
_BARS = (
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
)
_BLACK = 16
_FLAT_PICTURES: Mapping[PictureMode, tuple[int, int]] = MappingProxyType(
    {PictureMode.BLACK: (_BLACK, 128), PictureMode.COVERED: (110, 128)}
)
"""Modes that are one flat colour: (Y, Cb = Cr)."""
_WASHED_OUT = bytes(min(255, 228 + value // 8) for value in range(256))
"""Luma squeezed into the top of the range: a picture burnt out by too much light."""
_LESS_BLUE = bytes(max(16, value - 60) for value in range(256))
_MORE_RED = bytes(min(240, value + 60) for value in range(256))
_NOISE_LEVELS = bytes(112 + value % 32 for value in range(256))  # grey ± 16
_WHITE = 235
_GLYPH_WIDTH = 5
_GLYPH_HEIGHT = 7


def _glyph(*rows: str) -> tuple[int, ...]:
    return tuple(int(row.replace("#", "1").replace(".", "0"), 2) for row in rows)


_FONT: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "0": _glyph(".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
        "1": _glyph("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
        "2": _glyph(".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
        "3": _glyph("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
        "4": _glyph("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
        "5": _glyph("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
        "6": _glyph("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
        "7": _glyph("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
        "8": _glyph(".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
        "9": _glyph(".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
        ":": _glyph(".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
        ".": _glyph(".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
        "-": _glyph(".....", ".....", ".....", "#####", ".....", ".....", "....."),
        " ": _glyph(".....", ".....", ".....", ".....", ".....", ".....", "....."),
        "C": _glyph(".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
        "H": _glyph("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
        "T": _glyph("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    }
)


def clock_text(index: int, fps: int) -> str:
    """HH:MM:SS.cc of picture `index` counted from the loop start."""
    hundredths = index * 100 // fps
    seconds, centi = divmod(hundredths, 100)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours % 100:02d}:{minute:02d}:{second:02d}.{centi:02d}"


class _Painter:
    """Draws pictures of one spec; everything static is drawn once in the constructor."""

    def __init__(self, spec: TestPatternSpec) -> None:
        self._spec = spec
        width, height = spec.width, spec.height
        self._scale = max(1, width // 320)
        self._margin = 4 * self._scale
        self._line_height = (_GLYPH_HEIGHT + 3) * self._scale
        self._ramp_top = (height * 2 // 3) & ~1
        self._noise_top = height - (height // 6 & ~1)
        ramp = bytes(_BLACK + (_WHITE - _BLACK) * x // width for x in range(width))
        self._ramp_twice = ramp + ramp
        self._luma = self._paint_static_luma()
        chroma_row_u, chroma_row_v = self._bar_chroma_rows()
        self._u = self._paint_chroma(chroma_row_u)
        self._v = self._paint_chroma(chroma_row_v)

    def paint(self, index: int) -> tuple[bytes, bytes, bytes]:
        spec = self._spec
        mode = spec.picture
        if mode in _FLAT_PICTURES:
            luma_level, chroma_level = _FLAT_PICTURES[mode]
            chroma_size = (spec.width // 2) * (spec.height // 2)
            flat_chroma = bytes([chroma_level]) * chroma_size
            return bytes([luma_level]) * (spec.width * spec.height), flat_chroma, flat_chroma
        if mode is PictureMode.FROZEN:
            index = 0
        luma_plane, u_plane, v_plane = self._paint_normal(index)
        if mode is PictureMode.OVEREXPOSED:
            luma_plane = luma_plane.translate(_WASHED_OUT)
        elif mode is PictureMode.TINTED:
            u_plane, v_plane = u_plane.translate(_LESS_BLUE), v_plane.translate(_MORE_RED)
        return luma_plane, u_plane, v_plane

    def _paint_normal(self, index: int) -> tuple[bytes, bytes, bytes]:
        spec = self._spec
        luma = bytearray(self._luma)
        offset = (index * spec.width // spec.frame_count) % spec.width
        ramp_row = self._ramp_twice[offset : offset + spec.width]
        luma[self._ramp_top * spec.width : self._noise_top * spec.width] = ramp_row * (
            self._noise_top - self._ramp_top
        )
        noise = random.Random(f"{spec.channel_id}/{index}").randbytes(
            (spec.height - self._noise_top) * spec.width
        )
        luma[self._noise_top * spec.width :] = noise.translate(_NOISE_LEVELS)
        top = self._margin + self._line_height
        self._draw_text(luma, clock_text(index, spec.fps), self._margin, top)
        return bytes(luma), self._u, self._v

    def _paint_static_luma(self) -> bytearray:
        spec = self._spec
        row = bytes(_BARS[x * len(_BARS) // spec.width][0] for x in range(spec.width))
        luma = bytearray(row * spec.height)
        box_width = min(spec.width, (23 * 6 + 2) * self._scale + self._margin)
        box_height = 2 * self._line_height + self._margin
        for y in range(min(spec.height, box_height)):
            luma[y * spec.width : y * spec.width + box_width] = bytes([_BLACK]) * box_width
        self._draw_text(luma, f"CH {spec.channel_id}", self._margin, self._margin)
        return luma

    def _bar_chroma_rows(self) -> tuple[bytes, bytes]:
        half = self._spec.width // 2
        bars = [_BARS[x * 2 * len(_BARS) // self._spec.width] for x in range(half)]
        return bytes(bar[1] for bar in bars), bytes(bar[2] for bar in bars)

    def _paint_chroma(self, bar_row: bytes) -> bytes:
        half_width, half_height = self._spec.width // 2, self._spec.height // 2
        grey = b"\x80" * half_width
        box_half = min(half_width, ((23 * 6 + 2) * self._scale + self._margin + 1) // 2)
        box_rows = (2 * self._line_height + self._margin + 1) // 2
        boxed = grey[:box_half] + bar_row[box_half:]
        rows = [
            boxed if y < box_rows else bar_row if y < self._ramp_top // 2 else grey
            for y in range(half_height)
        ]
        return b"".join(rows)

    def _draw_text(self, luma: bytearray, text: str, left: int, top: int) -> None:
        spec, scale = self._spec, self._scale
        cell = (_GLYPH_WIDTH + 1) * scale
        text = text[: max(0, (spec.width - left) // cell)]
        blank = _FONT[" "]
        for glyph_row in range(_GLYPH_HEIGHT):
            pixels = bytearray()
            for char in text:
                bits = _FONT.get(char, blank)[glyph_row]
                for column in range(_GLYPH_WIDTH - 1, -1, -1):
                    value = _WHITE if bits >> column & 1 else _BLACK
                    pixels += bytes([value]) * scale
                pixels += bytes([_BLACK]) * scale
            for repeat in range(scale):
                y = top + glyph_row * scale + repeat
                if y >= spec.height:
                    return
                start = y * spec.width + left
                luma[start : start + len(pixels)] = pixels
