"""The generated test picture: decoded back with PyAV, read back with its own font, cached once."""

from __future__ import annotations

import threading

import av
import pytest
from av.video.frame import PictureType

from farmwatch.simulator import (
    EncodedLoop,
    MediaCache,
    TestPatternSpec,
    VideoCodec,
)
from farmwatch.simulator.test_pattern import _FONT, clock_text, paint_test_pattern

CHANNEL = "34020000001320000001"
H264_SPEC = TestPatternSpec(CHANNEL)  # the defaults: 640x360, 25 fps, 1 Mbit/s, GOP 25, 4 s


@pytest.fixture(scope="module")
def cache() -> MediaCache:
    return MediaCache()


@pytest.fixture(scope="module")
def h264_loop(cache: MediaCache) -> EncodedLoop:
    return cache.get(H264_SPEC)


def _decode(codec: str, loop: EncodedLoop) -> list[av.VideoFrame]:
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    pictures = []
    for frame in loop.frames:
        pictures += decoder.decode(av.Packet(frame.data))
    pictures += decoder.decode(None)
    return pictures


def _nal_types(annex_b: bytes, codec: VideoCodec) -> list[int]:
    types = []
    for chunk in annex_b.split(b"\x00\x00\x01")[1:]:
        types.append(chunk[0] & 0x1F if codec is VideoCodec.H264 else (chunk[0] >> 1) & 0x3F)
    return types


def _luma(picture: av.VideoFrame) -> bytes:
    plane = picture.planes[0]
    data = bytes(plane)
    return b"".join(
        data[row * plane.line_size : row * plane.line_size + plane.width]
        for row in range(plane.height)
    )


def _read_text(luma: bytes, width: int, left: int, top: int, scale: int, length: int) -> str:
    """Read glyphs back by sampling the middle of every font pixel (white = set)."""
    by_shape = {shape: char for char, shape in _FONT.items()}
    text = ""
    for index in range(length):
        rows = []
        for glyph_row in range(7):
            y = top + glyph_row * scale + scale // 2
            bits = 0
            for column in range(5):
                x = left + (index * 6 + column) * scale + scale // 2
                bits = bits << 1 | (luma[y * width + x] > 128)
            rows.append(bits)
        text += by_shape.get(tuple(rows), "?")
    return text


def test_loop_decodes_to_the_right_count_size_and_gop(h264_loop: EncodedLoop) -> None:
    pictures = _decode("h264", h264_loop)
    assert len(pictures) == 25 * 4
    assert {(p.width, p.height) for p in pictures} == {(640, 360)}
    key_indices = [i for i, p in enumerate(pictures) if p.key_frame]
    assert key_indices == [0, 25, 50, 75]
    assert [i for i, f in enumerate(h264_loop.frames) if f.is_keyframe] == key_indices
    assert {PictureType(p.pict_type) for p in pictures} == {PictureType.I, PictureType.P}


def test_every_idr_is_preceded_by_sps_and_pps_in_constrained_baseline(
    h264_loop: EncodedLoop,
) -> None:
    for frame in h264_loop.frames:
        types = _nal_types(frame.data, VideoCodec.H264)
        assert frame.data.startswith(b"\x00\x00\x00\x01") or frame.data.startswith(b"\x00\x00\x01")
        if frame.is_keyframe:
            assert types.index(7) < types.index(8) < types.index(5)
            sps = frame.data.split(b"\x00\x00\x01")[1 + types.index(7)]
            assert sps[1] == 66 and sps[2] & 0x40  # profile_idc baseline, constraint_set1
        else:
            assert 5 not in types and 7 not in types


def test_timestamps_are_contiguous_over_the_loop(h264_loop: EncodedLoop) -> None:
    frames = h264_loop.frames
    assert [f.pts for f in frames] == [3600 * i for i in range(100)]
    assert {f.duration for f in frames} == {3600}
    assert h264_loop.duration == sum(f.duration for f in frames) == 4 * 90000
    assert frames[0].ps.data.startswith(b"\x00\x00\x01\xba")
    assert frames[0].ps.data.endswith(frames[0].data)


def test_channel_id_and_clock_are_burned_into_the_decoded_picture(
    h264_loop: EncodedLoop,
) -> None:
    pictures = _decode("h264", h264_loop)
    for index in (0, 37, 99):
        luma = _luma(pictures[index])
        assert _read_text(luma, 640, 8, 8, 2, 23) == f"CH {CHANNEL}"
        assert _read_text(luma, 640, 8, 28, 2, 11) == clock_text(index, 25)
    assert clock_text(37, 25) == "00:00:01.48"
    assert clock_text(25 * 3725 + 5, 25) == "01:02:05.20"


def test_painter_reads_back_at_small_sizes_and_the_ramp_moves() -> None:
    spec = TestPatternSpec(CHANNEL, width=176, height=144, fps=10)
    first, _, _ = paint_test_pattern(spec, 0)
    later, u, v = paint_test_pattern(spec, 7)
    assert len(first) == 176 * 144 and len(u) == len(v) == 88 * 72
    assert _read_text(later, 176, 4, 4, 1, 23).startswith("CH 3402000000132000")  # clipped
    assert _read_text(later, 176, 4, 14, 1, 11) == "00:00:00.70"
    assert first[-176:] != later[-176:]


def test_cache_encodes_once_per_spec(cache: MediaCache, h264_loop: EncodedLoop) -> None:
    count = cache.encode_count
    assert cache.get(TestPatternSpec(CHANNEL)) is h264_loop
    assert cache.encode_count == count


def test_concurrent_gets_share_one_encode() -> None:
    release = threading.Event()
    calls: list[TestPatternSpec] = []

    def slow_encoder(spec: TestPatternSpec) -> EncodedLoop:
        calls.append(spec)
        assert release.wait(timeout=5)
        return EncodedLoop(spec=spec, frames=())

    cache = MediaCache(encoder=slow_encoder)
    results: list[EncodedLoop] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(H264_SPEC))) for _ in "abcd"
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(timeout=5)
    assert len(calls) == 1 and cache.encode_count == 1
    assert len(results) == 4 and all(result is results[0] for result in results)


def test_cache_is_bounded_and_a_failed_encode_is_retried() -> None:
    failures = [RuntimeError("encoder broke")]

    def encoder(spec: TestPatternSpec) -> EncodedLoop:
        if failures:
            raise failures.pop()
        return EncodedLoop(spec=spec, frames=())

    cache = MediaCache(encoder=encoder, max_entries=1)
    with pytest.raises(RuntimeError, match="encoder broke"):
        cache.get(H264_SPEC)
    first = cache.get(H264_SPEC)
    cache.get(TestPatternSpec(CHANNEL, fps=10))
    assert len(cache) == 1
    assert cache.get(H264_SPEC) is not first
    assert cache.encode_count == 3


@pytest.mark.skipif("libx265" not in av.codecs_available, reason="PyAV built without libx265")
def test_h265_loop_decodes_with_key_frames_every_gop() -> None:
    spec = TestPatternSpec(CHANNEL, codec=VideoCodec.H265, width=320, height=180, fps=10, gop=5,
                           loop_seconds=1)  # fmt: skip
    loop = MediaCache().get(spec)
    pictures = _decode("hevc", loop)
    assert len(pictures) == 10
    assert {(p.width, p.height) for p in pictures} == {(320, 180)}
    assert [i for i, p in enumerate(pictures) if p.key_frame] == [0, 5]
    for frame in loop.frames:
        if frame.is_keyframe:
            types = _nal_types(frame.data, VideoCodec.H265)
            assert types.index(32) < types.index(33) < types.index(34)  # VPS, SPS, PPS
    ps = loop.frames[0].ps.data
    assert ps[ps.index(b"\x00\x00\x01\xbc") + 12] == 0x24  # PSM stream_type H.265


@pytest.mark.parametrize(
    "changes",
    [{"channel_id": "3402"}, {"width": 641}, {"fps": 0}, {"gop": 0}, {"loop_seconds": 0},
     {"bitrate": 1}],
)  # fmt: skip
def test_spec_rejects_invalid_values(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {"channel_id": CHANNEL, **changes}
    with pytest.raises(ValueError):
        TestPatternSpec(**arguments)  # type: ignore[arg-type]


def test_the_configured_bitrate_is_roughly_reached(h264_loop: EncodedLoop) -> None:
    low = MediaCache().get(TestPatternSpec(CHANNEL, width=320, height=180, bitrate=400_000))
    for loop, target in ((h264_loop, 1_000_000), (low, 400_000)):
        bits_per_second = sum(len(f.data) for f in loop.frames) * 8 / loop.spec.loop_seconds
        assert 0.6 * target < bits_per_second < 1.4 * target
