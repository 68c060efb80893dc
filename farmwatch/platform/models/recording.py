"""Tables of recorded video: platform recording segments, record plans, download tasks and
evidence clips (issue 8; regulation art. 20–21)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey


class RecordingSegmentRow(Base):
    """One closed MP4 segment of platform recording, indexed for search and retention."""

    __tablename__ = "recording_segments"
    __table_args__ = (
        Index(None, "channel_id", "start_at"),
        Index(None, "start_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String, unique=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    bytes: Mapped[int]
    frames: Mapped[int]
    codec: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None]
    height: Mapped[int | None]
    is_locked: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime]


class RecordPlanRow(Base):
    __tablename__ = "record_plans"

    channel_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    windows: Mapped[list[list[object]]] = mapped_column(JSON, default=list)
    record_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class DownloadTaskRow(Base):
    __tablename__ = "download_tasks"
    __table_args__ = (Index(None, "channel_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    speed: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float())
    path: Mapped[str | None] = mapped_column(String)
    bytes: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class EvidenceClipRow(Base):
    __tablename__ = "evidence_clips"
    __table_args__ = (Index(None, "channel_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String)
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(String)
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
