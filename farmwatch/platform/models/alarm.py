"""Alarms devices reported (gb28181.md §4.10; issue 12 item 3), one row per Notify/Alarm.

`source_id` is the alarm's `DeviceID` (a camera, an alarm input, or the device itself);
`alarm_time` is the device's `AlarmTime` read in the platform's zone (`[registrar]
timezone`), None when the device sent none or an unreadable one. An alarm is acknowledged
by a person (who, when, a note) and reset on the device (AlarmCmd ResetAlarm; its result).
`clip_id` links the evidence clip cut around it (`evidence_clips.id`; no foreign key, as
anomalies' links: a clip is kept apart and outlives nothing it is linked to).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey


class AlarmRow(Base):
    __tablename__ = "alarms"
    __table_args__ = (
        Index(None, "device_id", "received_at"),
        Index(None, "source_id", "received_at"),
        Index(None, "received_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(20))
    sn: Mapped[int]
    priority: Mapped[int | None]
    method: Mapped[int | None]
    alarm_type: Mapped[int | None]
    alarm_time: Mapped[datetime | None]
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(String(256))
    received_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(String(1024))
    reset_at: Mapped[datetime | None]
    reset_by: Mapped[str | None] = mapped_column(String(128))
    reset_result: Mapped[str | None] = mapped_column(String(256))
    clip_id: Mapped[str | None] = mapped_column(String(32))
    """The evidence clip cut around the alarm (`[supervision] alarm_evidence`), if any."""
