"""The video quality checks on synthetic pictures and on keyframes of the simulator's H.264
(encoded by libx264, decoded by PyAV through the snapshot path the sampler uses)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks.snapshot import snapshot_jpeg
from farmwatch.platform.supervision.diagnosis.checks import (
    DiagnosisThresholds,
    Picture,
    PictureFault,
    diagnose,
    thumbnail,
)
from farmwatch.platform.supervision.diagnosis.picture import (
    PictureUnreadable,
    decode_jpeg,
)
from farmwatch.simulator.test_pattern import PictureMode, TestPatternSpec, encode_test_pattern

LIMITS = DiagnosisThresholds()
ROWS, COLUMNS = 180, 320


def _flat(luma: int, cb: int = 128, cr: int = 128) -> Picture:
    return Picture(
        luma=np.full((ROWS, COLUMNS), luma, dtype=np.uint8),
        cb=np.full((ROWS // 2, COLUMNS // 2), cb, dtype=np.uint8),
        cr=np.full((ROWS // 2, COLUMNS // 2), cr, dtype=np.uint8),
    )


def _textured(seed: int, mean: int = 120, spread: int = 60) -> Picture:
    """A sharp scene: large areas (20x20 blocks), fine detail (4x4 blocks) and noise."""
    random = np.random.default_rng(seed)
    areas = random.integers(-spread, spread, size=(ROWS // 20, COLUMNS // 20))
    detail = random.integers(-spread // 3, spread // 3, size=(ROWS // 4, COLUMNS // 4))
    luma = (np.kron(areas, np.ones((20, 20))) + np.kron(detail, np.ones((4, 4)))
            + random.normal(0, 2, size=(ROWS, COLUMNS)) + mean)  # fmt: skip
    chroma = np.full((ROWS // 2, COLUMNS // 2), 128, dtype=np.uint8)
    return Picture(np.clip(luma, 0, 255).astype(np.uint8), chroma, chroma.copy())


def _blur(picture: Picture, passes: int = 12) -> Picture:
    """Repeated 3x3 box blur (edges wrap; it does not matter for a measure of sharpness)."""
    luma = picture.luma.astype(np.float64)
    for _ in range(passes):
        luma = (
            sum(np.roll(np.roll(luma, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
        )
    return Picture(luma.astype(np.uint8), picture.cb, picture.cr)


def test_a_sharp_scene_passes_every_check() -> None:
    first = diagnose(_textured(1), LIMITS)
    second = diagnose(_textured(2), LIMITS, first.thumbnail)
    assert second.passed, second
    assert [verdict.kind for verdict in second.verdicts] == list(PictureFault)
    assert all(verdict.judged for verdict in second.verdicts)


def test_without_a_previous_sample_frozen_is_not_judged() -> None:
    result = diagnose(_textured(1), LIMITS)
    frozen = next(v for v in result.verdicts if v.kind is PictureFault.FROZEN)
    assert not frozen.judged and not frozen.failed and result.measurements.difference is None


@pytest.mark.parametrize(
    ("picture", "expected"),
    [
        (_flat(0), {PictureFault.BLACK, PictureFault.LOW_CONTRAST}),
        (_flat(20), {PictureFault.BLACK, PictureFault.LOW_CONTRAST}),
        (_flat(250), {PictureFault.OVEREXPOSED, PictureFault.LOW_CONTRAST}),
        (_flat(110), {PictureFault.LOW_CONTRAST}),
        (_flat(110, cb=60, cr=200), {PictureFault.LOW_CONTRAST, PictureFault.COLOUR_CAST}),
        (_blur(_textured(3)), {PictureFault.BLURRED}),
    ],
    ids=["black", "too-dark", "white", "covered", "covered-red", "blurred"],
)
def test_each_fault_is_named(picture: Picture, expected: set[PictureFault]) -> None:
    assert set(diagnose(picture, LIMITS).failures) == expected


def test_the_same_picture_twice_is_frozen_and_a_changed_one_is_not() -> None:
    picture = _textured(4)
    first = diagnose(picture, LIMITS)
    again = diagnose(picture, LIMITS, first.thumbnail)
    assert again.failures == (PictureFault.FROZEN,)
    assert again.measurements.difference == 0.0
    moved = diagnose(_textured(5), LIMITS, first.thumbnail)
    assert moved.passed


def test_a_flat_picture_repeated_is_covered_not_frozen() -> None:
    first = diagnose(_flat(110), LIMITS)
    again = diagnose(_flat(110), LIMITS, first.thumbnail)
    assert PictureFault.FROZEN not in again.failures
    assert PictureFault.BLURRED not in again.failures


def test_thresholds_come_from_the_settings() -> None:
    lenient = DiagnosisThresholds(black_luma=5.0, low_contrast_std=0.0)
    assert PictureFault.BLACK not in diagnose(_flat(20), lenient).failures
    assert DiagnosisThresholds(black_luma=240, overexposed_luma=230).validate()
    assert "diagnosis_colour_cast" in DiagnosisThresholds(colour_cast=-1).validate()[0]
    assert LIMITS.validate() == []


def test_thumbnail_is_the_block_means() -> None:
    luma = np.zeros((36, 64), dtype=np.uint8)
    luma[:18, :] = 200  # the top half bright
    small = thumbnail(luma)
    assert small.shape == (18, 32)
    assert np.all(small[:9] == 200) and np.all(small[9:] == 0)


@settings(max_examples=40, deadline=None)
@given(level=st.integers(0, 255), cb=st.integers(0, 255), cr=st.integers(0, 255))
def test_any_flat_colour_is_low_contrast_and_never_blurred_or_frozen(
    level: int, cb: int, cr: int
) -> None:
    first = diagnose(_flat(level, cb, cr), LIMITS)
    result = diagnose(_flat(level, cb, cr), LIMITS, first.thumbnail)
    assert PictureFault.LOW_CONTRAST in result.failures
    assert PictureFault.BLURRED not in result.failures
    assert PictureFault.FROZEN not in result.failures
    assert (PictureFault.BLACK in result.failures) == (level <= LIMITS.black_luma)
    assert (PictureFault.OVEREXPOSED in result.failures) == (level >= LIMITS.overexposed_luma)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), gain=st.floats(0.6, 1.0), offset=st.integers(-40, 40))
def test_sharpness_does_not_depend_on_brightness_or_contrast(
    seed: int, gain: float, offset: int
) -> None:
    """A sharp scene dimmed or brightened (within range) stays sharp; blurred stays blurred."""
    for picture, blurred in ((_textured(seed), False),
                             (_blur(_textured(seed)), True)):  # fmt: skip
        luma = np.clip(picture.luma.astype(np.float64) * gain + offset, 0, 255)
        changed = Picture(luma.astype(np.uint8), picture.cb, picture.cr)
        assert (PictureFault.BLURRED in diagnose(changed, LIMITS).failures) == blurred


def test_garbage_is_unreadable() -> None:
    with pytest.raises(PictureUnreadable):
        decode_jpeg(b"\xff\xd8 not a jpeg")


# -- pictures the simulator encodes, decoded the way the sampler decodes them -------------

CHANNEL = "34020000001310000001"


def _keyframe_samples(mode: PictureMode) -> list[Picture]:
    loop = encode_test_pattern(TestPatternSpec(CHANNEL, width=640, height=360, picture=mode))
    frames = [EsFrame(Codec.H264, f.data, f.pts, f.pts, True, 0xE0)
              for f in loop.frames if f.is_keyframe]  # fmt: skip

    async def jpegs() -> list[bytes]:
        return [await snapshot_jpeg(frame, max_width=320) for frame in frames]

    return [decode_jpeg(jpeg) for jpeg in asyncio.run(jpegs())]


def _failures_over_samples(mode: PictureMode) -> list[set[PictureFault]]:
    previous = None
    seen = []
    for picture in _keyframe_samples(mode):
        result = diagnose(picture, LIMITS, previous)
        previous = result.thumbnail
        seen.append(set(result.failures))
    return seen


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (PictureMode.NORMAL, set()),
        (PictureMode.BLACK, {PictureFault.BLACK, PictureFault.LOW_CONTRAST}),
        (PictureMode.BLURRED, {PictureFault.BLURRED}),
        (PictureMode.COVERED, {PictureFault.LOW_CONTRAST}),
        (PictureMode.OVEREXPOSED, {PictureFault.OVEREXPOSED, PictureFault.LOW_CONTRAST}),
        (PictureMode.TINTED, {PictureFault.COLOUR_CAST}),
    ],
)
def test_simulator_pictures(mode: PictureMode, expected: set[PictureFault]) -> None:
    assert _failures_over_samples(mode) == [expected] * 4


def test_simulator_frozen_picture_needs_a_second_sample() -> None:
    assert _failures_over_samples(PictureMode.FROZEN) == [set()] + [{PictureFault.FROZEN}] * 3
