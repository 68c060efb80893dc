"""Positions mobile devices reported (gb28181.md §4.11; issue 12 item 3): a device's track.

`source_id` is the position's `DeviceID` (the device itself, or in the [2022] list form
one of its items); `time` is the device's time read in `[registrar] timezone` (the
received time when the device gave none or an unreadable one). Only positions on the
earth are stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey


class DevicePositionRow(Base):
    __tablename__ = "device_positions"
    __table_args__ = (Index(None, "device_id", "time"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(20))
    time: Mapped[datetime]
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float)
    direction: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[datetime]
