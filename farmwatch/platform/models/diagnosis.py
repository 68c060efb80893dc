"""Video quality diagnosis (issue 11 item 5): every sample of a camera's picture (a bounded
history per camera) and each camera's current state.

`picture_samples` keeps what each sample measured and its outcome (passed, failed with the
faults it found, or unavailable with the reason); the sampler deletes a camera's samples
beyond the newest `[supervision] diagnosis_history`. `picture_states` is one row per camera:
its last sample, whether its picture is failing now (changed only by a judged sample, never
by an unavailable one) and the luma thumbnail the next sample compares itself with, so a
frozen picture is still found across a restart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey


class PictureSampleRow(Base):
    __tablename__ = "picture_samples"
    __table_args__ = (Index(None, "channel_id", "id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    sampled_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    failures: Mapped[str] = mapped_column(String(128))
    """The failed checks' kinds, comma-separated ("" when none)."""
    detail: Mapped[str | None] = mapped_column(String(256))
    mean_luma: Mapped[float | None] = mapped_column(Float)
    luma_std: Mapped[float | None] = mapped_column(Float)
    sharpness: Mapped[float | None] = mapped_column(Float)
    chroma_offset: Mapped[float | None] = mapped_column(Float)
    difference: Mapped[float | None] = mapped_column(Float)


class PictureStateRow(Base):
    __tablename__ = "picture_states"

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sampled_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    """Of the last sample (unavailable included)."""
    is_failed: Mapped[bool]
    """The last judged sample failed a check."""
    failures: Mapped[str] = mapped_column(String(128))
    """What the last judged sample failed, comma-separated."""
    detail: Mapped[str | None] = mapped_column(String(256))
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The last judged sample's luma thumbnail (float32, row-major)."""
