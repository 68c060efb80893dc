"""A camera-like H.264 clip for the media benchmarks, encoded once and cached on disk.

What a farm camera sends is not a test card: a textured scene that mostly stands still,
animals that move across it, sensor noise on every pixel, and a rate control that spends the
configured bitrate every second. The encoder spends its bits in proportion to that content,
which sets what the platform pays for: packets per second, packets per key frame, NAL units
per frame. This module paints such a scene (static multi-octave texture, a dozen textured
blobs moving at 1-4 px per frame, Gaussian sensor noise), encodes it like a camera (libx264
main profile, one slice per picture, P-frames only, GOP 50, 2 Mbit/s under a 1 s VBV buffer:
~192 RTP packets/s of at most 1,400 bytes), and muxes every frame into GB-style PS (a pack
header per frame; system header and PSM on key frames). The result is an `EncodedLoop`, the
type the simulator and the replay sender already play.

    PYTHONPATH=. .venv/bin/python bench/camera_clip.py   # encode (or load) and describe it
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from farmwatch.simulator.test_pattern import EncodedLoop, TestPatternSpec, assemble_loop

__all__ = ["CAMERA", "ClipSpec", "camera_loop", "describe"]

MAX_PAYLOAD = 1400
CACHE = Path(tempfile.gettempdir()) / "farmwatch-bench"
_FORMAT = 2  # bump when the painting or the encoding changes


@dataclass(frozen=True, slots=True)
class ClipSpec:
    width: int = 1280
    height: int = 720
    fps: int = 25
    bitrate: int = 2_000_000
    gop: int = 50
    seconds: int = 10
    noise: float = 2.5
    """Standard deviation of the per-pixel sensor noise, in 8-bit luma steps."""
    seed: int = 28181

    @property
    def frame_count(self) -> int:
        return self.fps * self.seconds


CAMERA = ClipSpec()
CHANNEL = "34020000001320000001"


def camera_loop(spec: ClipSpec = CAMERA) -> EncodedLoop:
    """The clip as an `EncodedLoop` (encoded on first use, then read from the cache)."""
    key = hashlib.sha256(repr((spec, _FORMAT)).encode()).hexdigest()[:16]
    path = CACHE / f"camera-{key}.pickle"
    if path.exists():
        units: list[tuple[bool, bytes]] = pickle.loads(path.read_bytes())
    else:
        units = _encode(spec)
        CACHE.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(pickle.dumps(units))
        temporary.replace(path)
    return _as_loop(spec, units)


def _as_loop(spec: ClipSpec, units: list[tuple[bool, bytes]]) -> EncodedLoop:
    loop_spec = TestPatternSpec(
        CHANNEL, width=spec.width, height=spec.height, fps=spec.fps, bitrate=spec.bitrate,
        gop=spec.gop, loop_seconds=spec.seconds,
    )  # fmt: skip
    return assemble_loop(loop_spec, units)


class _Scene:
    """A farm-like picture: a still textured background, moving textured blobs, noise."""

    def __init__(self, spec: ClipSpec) -> None:
        self._spec = spec
        self._random = np.random.default_rng(spec.seed)
        height, width = spec.height, spec.width
        self._background = self._texture(height, width, 96.0, 48.0)
        self._blobs = [self._blob() for _ in range(12)]
        rows = np.arange(height // 2, dtype=np.float32)[:, None]
        columns = np.arange(width // 2, dtype=np.float32)[None, :]
        self._u = (128 + 10 * np.sin(columns / 90.0) + 0 * rows).astype(np.uint8)
        self._v = (128 + 8 * np.cos(rows / 70.0) + 0 * columns).astype(np.uint8)

    def _texture(self, height: int, width: int, mean: float, spread: float) -> np.ndarray:
        """Value noise over several octaves: grass, straw, walls, fences."""
        total = np.zeros((height, width), dtype=np.float32)
        amplitude, weight = 1.0, 0.0
        for cell in (96, 48, 24, 12, 6, 3):
            coarse = self._random.random((height // cell + 2, width // cell + 2))
            grown = np.kron(coarse, np.ones((cell, cell), dtype=np.float32))[:height, :width]
            total += amplitude * grown
            weight += amplitude
            amplitude *= 0.75
        total = (total / weight - 0.5) * 2
        return np.clip(mean + spread * total, 16, 235).astype(np.float32)

    def _blob(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        size = int(self._random.integers(60, 160))
        texture = self._texture(size, size, float(self._random.integers(60, 200)), 40.0)
        yy, xx = np.mgrid[0:size, 0:size]
        mask = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 2) ** 2
        position = np.array(
            [self._random.uniform(0, self._spec.height - size),
             self._random.uniform(0, self._spec.width - size)]
        )  # fmt: skip
        speed = self._random.uniform(-4, 4, size=2)
        return texture, mask, position, float(speed[0]), float(speed[1])

    def paint(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        spec = self._spec
        luma = self._background.copy()
        for texture, mask, position, dy, dx in self._blobs:
            size = texture.shape[0]
            top = int(_bounce(position[0] + dy * index, spec.height - size))
            left = int(_bounce(position[1] + dx * index, spec.width - size))
            window = luma[top : top + size, left : left + size]
            window[mask] = texture[mask]
        luma += self._random.normal(0.0, spec.noise, luma.shape).astype(np.float32)
        return np.clip(luma, 16, 235).astype(np.uint8), self._u, self._v


def _bounce(value: float, limit: int) -> float:
    """Move back and forth between 0 and `limit` instead of leaving the picture."""
    period = 2 * limit
    value %= period
    return value if value <= limit else period - value


def _encode(spec: ClipSpec) -> list[tuple[bool, bytes]]:
    kbps = spec.bitrate // 1000
    context = av.CodecContext.create("libx264", "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height = spec.width, spec.height
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, spec.fps)
    context.framerate = Fraction(spec.fps, 1)
    context.bit_rate = spec.bitrate
    context.gop_size = spec.gop
    context.options = {
        "preset": "veryfast",
        "profile": "main",
        "x264-params": (
            f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes=0:repeat-headers=1:"
            f"annexb=1:vbv-maxrate={kbps}:vbv-bufsize={kbps}:threads=1:sliced-threads=0"
        ),
    }
    scene = _Scene(spec)
    units: list[tuple[int, bool, bytes]] = []
    for index in range(spec.frame_count + 1):
        frame = None
        if index < spec.frame_count:
            y, u, v = scene.paint(index)
            frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
            for plane, data in zip(frame.planes, (y, u, v), strict=True):
                _fill_plane(plane, data)
            frame.pts = index
        for packet in context.encode(frame):
            units.append((int(packet.pts or 0), bool(packet.is_keyframe), bytes(packet)))
    units.sort()
    if len(units) != spec.frame_count or not units[0][1]:
        raise RuntimeError(f"the encoder gave {len(units)} units for {spec.frame_count}")
    return [(is_key, data) for _, is_key, data in units]


def _fill_plane(plane: av.VideoPlane, data: np.ndarray) -> None:
    height, width = data.shape
    if plane.line_size == width:
        plane.update(data.tobytes())
        return
    padded = np.zeros((height, plane.line_size), dtype=np.uint8)
    padded[:, :width] = data
    plane.update(padded.tobytes())


def describe(loop: EncodedLoop) -> str:
    """Bitrate, packets per second and frame sizes of a loop, for the benchmark's header."""
    seconds = loop.spec.loop_seconds
    sizes = [len(frame.ps.data) for frame in loop.frames]
    keys = [len(f.ps.data) for f in loop.frames if f.is_keyframe]
    deltas = [len(f.ps.data) for f in loop.frames if not f.is_keyframe]
    packets = sum(-(-size // MAX_PAYLOAD) for size in sizes)
    return (
        f"{loop.spec.size_text} {loop.spec.fps} fps GOP {loop.spec.gop}, "
        f"{sum(sizes) * 8 / seconds / 1e6:.2f} Mbit/s PS, {packets / seconds:.0f} RTP packets/s; "
        f"key frames {min(keys) // 1024}-{max(keys) // 1024} KiB "
        f"({-(-max(keys) // MAX_PAYLOAD)} packets), P-frames median "
        f"{sorted(deltas)[len(deltas) // 2] / 1024:.1f} KiB"
    )


def announced_camera_loop() -> EncodedLoop:
    """`camera_loop()`, with the benchmark's header line about it printed."""
    begin = time.monotonic()
    loop = camera_loop()
    print(f"camera clip: {describe(loop)} (ready in {time.monotonic() - begin:.1f} s)", flush=True)
    return loop


if __name__ == "__main__":
    announced_camera_loop()
