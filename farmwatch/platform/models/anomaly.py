"""Anomalies and what hangs on them (regulation art. 20–21; issue 11 item 3): the anomaly
(farm, camera, reporter, the moment seen, description, state, rectification order, case
number), its evidence clips, its history of states and the monitoring records that
followed it up.

`anomaly_follow_ups.monitoring_record_id` has no foreign key on purpose: monitoring
records are another subject's table, linked by ID and validated by the service that owns
them. `case_number` is unique where set (立案 numbers are never reused).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey

__all__ = ["AnomalyEvidenceRow", "AnomalyFollowUpRow", "AnomalyHistoryRow", "AnomalyRow"]

ReferenceKey = SurrogateKey


class AnomalyRow(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        Index(None, "farm_id", "state"),
        Index(None, "state"),
        Index(None, "channel_id"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    farm_id: Mapped[int] = mapped_column(ReferenceKey, ForeignKey("farms.id"))
    channel_id: Mapped[str] = mapped_column(String(20))
    reporter: Mapped[str] = mapped_column(String(128))
    reporter_user_id: Mapped[int | None] = mapped_column(BigInteger)
    reported_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(32))
    evidence_state: Mapped[str] = mapped_column(String(16))
    evidence_error: Mapped[str | None] = mapped_column(String(512))
    rectification_order: Mapped[str | None] = mapped_column(String(2048))
    rectification_deadline: Mapped[datetime | None]
    ordered_by: Mapped[str | None] = mapped_column(String(128))
    ordered_at: Mapped[datetime | None]
    case_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class AnomalyEvidenceRow(Base):
    __tablename__ = "anomaly_evidence"

    anomaly_id: Mapped[int] = mapped_column(
        ReferenceKey, ForeignKey("anomalies.id", ondelete="CASCADE"), primary_key=True
    )
    clip_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    attached_at: Mapped[datetime]
    attached_by: Mapped[str] = mapped_column(String(128))


class AnomalyHistoryRow(Base):
    __tablename__ = "anomaly_history"
    __table_args__ = (Index(None, "anomaly_id", "id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    anomaly_id: Mapped[int] = mapped_column(
        ReferenceKey, ForeignKey("anomalies.id", ondelete="CASCADE")
    )
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(128))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    remark: Mapped[str] = mapped_column(String(2048))


class AnomalyFollowUpRow(Base):
    __tablename__ = "anomaly_follow_ups"

    anomaly_id: Mapped[int] = mapped_column(
        ReferenceKey, ForeignKey("anomalies.id", ondelete="CASCADE"), primary_key=True
    )
    monitoring_record_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False
    )
    linked_at: Mapped[datetime]
    linked_by: Mapped[str] = mapped_column(String(128))
