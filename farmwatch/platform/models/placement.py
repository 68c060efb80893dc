"""What the platform knows of a camera and an upper link beyond what devices report.

`camera_placements`: a camera's key area (one of the six of the regulation, MISSION.md),
its location number on the farm, its model and access method (art. 5–6), set by an
administrator; kept apart from `channels`, whose
rows follow the device's catalog. `upper_shares`: what one upper platform may see, as
edited through the API; a row here wins over the `[[upper]]` table's `share` keys.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base


class CameraPlacementRow(Base):
    __tablename__ = "camera_placements"

    channel_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    key_area: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    """The camera's model (摄像机机型, art. 5–6) as the farm installed it."""
    access_method: Mapped[str | None] = mapped_column(String(32))
    """How it reaches the platform (接入方式): `AccessMethod`."""
    updated_at: Mapped[datetime]


class UpperShareRow(Base):
    __tablename__ = "upper_shares"

    upper_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The `[[upper]] name` (names are unique among the uppers)."""
    share_all: Mapped[bool]
    farms: Mapped[list[str]] = mapped_column(JSON, default=list)
    devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(128))
