"""Pictures devices took and uploaded on request ([2022] SnapShotConfig; gb28181.md §4.9,
§4.14; issue 12 item 4): one row per JPEG received.

`session_id` is the SnapShotConfig `SessionID` the upload belonged to; the picture itself
is the file `[storage] dir`/device-snapshots/<sha256>.jpg (equal pictures share one file).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey


class DeviceSnapshotRow(Base):
    __tablename__ = "device_snapshots"
    __table_args__ = (Index(None, "channel_id", "received_at"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(20))
    session_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
