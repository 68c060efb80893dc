"""Random spot checks (抽查; regulation art. 4; issue 11 item 6): each draw and the cameras
it drew, one row per camera with the result the inspector recorded for it.

`population` keeps every candidate the draw chose from (channel, device, farm, weight) as
JSON, with `seed` (16 hex digits, 64 bits from `secrets`), so that the draw can be run again
and compared; `population_digest` is its SHA-256. An item's `answers` are the key area's
checklist answers as in a monitoring record (`[{"point", "answer", "remark"}]`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey

__all__ = ["SpotCheckItemRow", "SpotCheckRow"]


class SpotCheckRow(Base):
    __tablename__ = "spot_checks"
    __table_args__ = (Index(None, "organisation_id", "drawn_at"), Index(None, "drawn_at"))

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(BigInteger)
    drawn_by: Mapped[str] = mapped_column(String(128))
    drawn_by_user_id: Mapped[int | None] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime]
    requested: Mapped[int]
    seed: Mapped[str] = mapped_column(String(16))
    population_digest: Mapped[str] = mapped_column(String(64))
    population: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    period: Mapped[str | None] = mapped_column(String(64))


class SpotCheckItemRow(Base):
    __tablename__ = "spot_check_items"
    __table_args__ = (
        UniqueConstraint("spot_check_id", "position"),
        Index(None, "farm_key", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    spot_check_id: Mapped[int] = mapped_column(
        SurrogateKey, ForeignKey("spot_checks.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    channel_id: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(20))
    farm_key: Mapped[str] = mapped_column(String(64))
    farm_name: Mapped[str] = mapped_column(String(128))
    weight: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    key_area: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    remark: Mapped[str] = mapped_column(String(1000))
    outcome: Mapped[str | None] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(16))
    recorded_by: Mapped[str | None] = mapped_column(String(128))
    recorded_user_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime | None]
