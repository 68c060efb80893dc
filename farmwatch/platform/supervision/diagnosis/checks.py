"""The video quality checks of one sampled picture (issue 11 item 5; regulation art. 19: a
camera whose picture is unusable is a fault like one that is offline).

Owns what "a bad picture" means, measured on the decoded planes of one keyframe (full-range
Y'CbCr 4:2:0 as numpy arrays, at the reduced size the sampler asks for) and, for a frozen
picture, on the previous sample's thumbnail of the same camera:

- black: mean luma at or below `black_luma` (lens covered by darkness, no signal, IR off);
- overexposed: mean luma at or above `overexposed_luma`;
- low contrast: luma standard deviation below `low_contrast_std` (lens covered, fog, one flat
  colour);
- blurred: the variance of the Laplacian over the variance of the luma below
  `blur_sharpness` (defocus, dirt or condensation on the lens). The ratio does not depend on
  the picture's brightness or contrast, only on how much of its energy is in fine detail;
- colour cast: the distance of the mean (Cb, Cr) from neutral grey (128, 128) above
  `colour_cast`;
- frozen: the mean absolute difference of the luma thumbnail (`THUMBNAIL_SIZE`) from the
  previous sample's below `frozen_difference` (the camera or encoder repeats one picture).

A flat picture says nothing about sharpness or motion, so blurred and frozen are judged only
when the contrast passed; a black or overexposed one is also reported as such. Pure: numpy
only, no I/O and no clock.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "THUMBNAIL_SIZE",
    "CheckVerdict",
    "Diagnosis",
    "DiagnosisThresholds",
    "Measurements",
    "Picture",
    "PictureFault",
    "diagnose",
    "thumbnail",
]

Plane = npt.NDArray[np.uint8]
Thumbnail = npt.NDArray[np.float32]

THUMBNAIL_SIZE = (18, 32)
"""(rows, columns) of the luma thumbnail kept for the frozen check (16:9; a 4:3 picture is
squeezed, which does not matter for comparing it with itself)."""


class PictureFault(enum.StrEnum):
    """What can be wrong with a camera's picture, in the order the checks run."""

    BLACK = "black"
    OVEREXPOSED = "overexposed"
    LOW_CONTRAST = "low_contrast"
    BLURRED = "blurred"
    COLOUR_CAST = "colour_cast"
    FROZEN = "frozen"


@dataclass(frozen=True, slots=True)
class DiagnosisThresholds:
    """Where each check fails; luma and chroma in full-range 8-bit levels (0..255)."""

    black_luma: float = 28.0
    overexposed_luma: float = 230.0
    low_contrast_std: float = 6.0
    blur_sharpness: float = 0.02
    colour_cast: float = 40.0
    frozen_difference: float = 0.5

    def validate(self) -> list[str]:
        """Problems with the values, named as `[supervision]` keys."""
        errors = []
        for name, value, low, high in (
            ("black_luma", self.black_luma, 0.0, 255.0),
            ("overexposed_luma", self.overexposed_luma, 0.0, 255.0),
            ("low_contrast_std", self.low_contrast_std, 0.0, 128.0),
            ("blur_sharpness", self.blur_sharpness, 0.0, 20.0),
            ("colour_cast", self.colour_cast, 0.0, 181.0),
            ("frozen_difference", self.frozen_difference, 0.0, 255.0),
        ):
            if not low <= value <= high:
                errors.append(f"supervision.diagnosis_{name}: expected {low:g} to {high:g}, "
                              f"got {value}")  # fmt: skip
        if self.black_luma >= self.overexposed_luma:
            errors.append(
                "supervision.diagnosis_black_luma: must be below diagnosis_overexposed_luma"
            )
        return errors


@dataclass(frozen=True, slots=True)
class Picture:
    """The decoded planes of one keyframe: full-range luma (rows x columns) and the two
    chroma planes at half size (4:2:0)."""

    luma: Plane
    cb: Plane
    cr: Plane

    def __post_init__(self) -> None:
        rows, columns = self.luma.shape
        if rows < THUMBNAIL_SIZE[0] or columns < THUMBNAIL_SIZE[1]:
            raise ValueError(f"picture too small to diagnose: {columns}x{rows}")
        if self.cb.size == 0 or self.cr.size == 0:
            raise ValueError("picture has no chroma")


@dataclass(frozen=True, slots=True)
class Measurements:
    """What the checks measured (`difference` is None without a previous sample)."""

    mean_luma: float
    luma_std: float
    sharpness: float
    chroma_offset: float
    difference: float | None


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """One check's outcome: `judged` is False when the picture could not say (blur or
    freezing of a flat picture, freezing without a previous sample)."""

    kind: PictureFault
    failed: bool
    judged: bool
    value: float | None
    threshold: float


@dataclass(frozen=True, slots=True)
class Diagnosis:
    verdicts: tuple[CheckVerdict, ...]
    measurements: Measurements
    thumbnail: Thumbnail
    """What the next sample of this camera compares itself with."""

    @property
    def failures(self) -> tuple[PictureFault, ...]:
        return tuple(verdict.kind for verdict in self.verdicts if verdict.failed)

    @property
    def passed(self) -> bool:
        return not self.failures


def thumbnail(luma: Plane) -> Thumbnail:
    """The luma averaged over a `THUMBNAIL_SIZE` grid of blocks (noise and scaling averaged
    out; what remains changes when the scene does)."""
    rows, columns = THUMBNAIL_SIZE
    row_edges = np.linspace(0, luma.shape[0], rows + 1).astype(np.intp)
    column_edges = np.linspace(0, luma.shape[1], columns + 1).astype(np.intp)
    # Sum whole rows of blocks, then columns: two reduceat calls instead of a Python loop.
    wide = np.add.reduceat(luma.astype(np.float32), row_edges[:-1], axis=0)
    sums = np.add.reduceat(wide, column_edges[:-1], axis=1)
    counts = np.outer(np.diff(row_edges), np.diff(column_edges)).astype(np.float32)
    result: Thumbnail = (sums / counts).astype(np.float32)
    return result


def diagnose(
    picture: Picture, thresholds: DiagnosisThresholds, previous: Thumbnail | None = None
) -> Diagnosis:
    """Run every check on `picture`; `previous` is the last sample's thumbnail."""
    luma = picture.luma.astype(np.float32)
    mean_luma = float(luma.mean())
    luma_std = float(luma.std())
    sharpness = _sharpness(luma, luma_std)
    chroma_offset = math.hypot(
        float(picture.cb.mean(dtype=np.float64)) - 128.0,
        float(picture.cr.mean(dtype=np.float64)) - 128.0,
    )
    small = thumbnail(picture.luma)
    difference = None
    if previous is not None and previous.shape == small.shape:
        difference = float(np.abs(small - previous).mean())
    has_contrast = luma_std >= thresholds.low_contrast_std
    verdicts = (
        _verdict(PictureFault.BLACK, mean_luma, thresholds.black_luma,
                 failed=mean_luma <= thresholds.black_luma),
        _verdict(PictureFault.OVEREXPOSED, mean_luma, thresholds.overexposed_luma,
                 failed=mean_luma >= thresholds.overexposed_luma),
        _verdict(PictureFault.LOW_CONTRAST, luma_std, thresholds.low_contrast_std,
                 failed=not has_contrast),
        _verdict(PictureFault.BLURRED, sharpness, thresholds.blur_sharpness,
                 failed=sharpness < thresholds.blur_sharpness, judged=has_contrast),
        _verdict(PictureFault.COLOUR_CAST, chroma_offset, thresholds.colour_cast,
                 failed=chroma_offset > thresholds.colour_cast),
        _verdict(PictureFault.FROZEN, difference, thresholds.frozen_difference,
                 failed=difference is not None and difference < thresholds.frozen_difference,
                 judged=has_contrast and difference is not None),
    )  # fmt: skip
    measurements = Measurements(mean_luma, luma_std, sharpness, chroma_offset, difference)
    return Diagnosis(verdicts=verdicts, measurements=measurements, thumbnail=small)


def _sharpness(luma: npt.NDArray[np.float32], luma_std: float) -> float:
    """Variance of the 4-neighbour Laplacian over the luma variance (0 for a flat picture)."""
    if luma_std == 0.0:
        return 0.0
    centre = luma[1:-1, 1:-1]
    laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4.0 * centre
    return float(laplacian.var()) / (luma_std * luma_std)


def _verdict(
    kind: PictureFault, value: float | None, threshold: float, *, failed: bool,
    judged: bool = True,
) -> CheckVerdict:  # fmt: skip
    return CheckVerdict(kind=kind, failed=judged and failed, judged=judged, value=value,
                        threshold=threshold)  # fmt: skip
