"""Monitoring records (监控记录; regulation art. 18; issue 11 item 2) and each
organisation's supervision schedule.

`monitoring_records` is append-only: a correction is a new row whose `corrects_id` names
the row it corrects. The answers to the checklist are kept as JSON in the record
(`[{"point", "answer", "remark"}]`, the checklist's order); `outcome` sums them up for the
filters. `farm_id` and `organisation_id` are copied from the camera's place when the record
is made, so that moving a device later does not move its history. The snapshot is a file
under `[storage] dir`/monitoring-snapshots/ named by its SHA-256; without one,
`snapshot_missing` says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey

__all__ = ["MonitoringRecordRow", "OrganisationScheduleRow"]


class MonitoringRecordRow(Base):
    __tablename__ = "monitoring_records"
    __table_args__ = (
        Index(None, "farm_id", "recorded_at"),
        Index(None, "channel_id", "recorded_at"),
        Index(None, "user_id", "recorded_at"),
        Index(None, "recorded_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(20))
    farm_id: Mapped[int] = mapped_column(BigInteger)
    organisation_id: Mapped[int] = mapped_column(BigInteger)
    key_area: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime]
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    remark: Mapped[str] = mapped_column(String(1000))
    outcome: Mapped[str] = mapped_column(String(16))
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    snapshot_missing: Mapped[str | None] = mapped_column(String(256))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    username: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[datetime]
    corrects_id: Mapped[int | None] = mapped_column(
        SurrogateKey, ForeignKey("monitoring_records.id")
    )


class OrganisationScheduleRow(Base):
    """An organisation's own supervision schedule (organisations below inherit it)."""

    __tablename__ = "organisation_schedules"

    organisation_id: Mapped[int] = mapped_column(
        SurrogateKey, ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    days: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(128))
