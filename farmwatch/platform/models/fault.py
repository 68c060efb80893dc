"""Fault tickets (regulation art. 19; issue 11 item 4): one row per ticket, one per step
of its history.

`open_key` is `<channel>:<kind>` while the ticket is open and NULL once verified or closed:
its unique index keeps at most one open ticket per camera and kind (a repeated trigger
updates that ticket), while any number of finished ones may share the camera and kind.
`farm_id` is where the device was placed when the ticket opened (NULL: on no farm).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey


class FaultTicketRow(Base):
    __tablename__ = "fault_tickets"
    __table_args__ = (
        Index(None, "open_key", unique=True),
        Index(None, "farm_id", "state"),
        Index(None, "device_id"),
        Index(None, "opened_at"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    farm_id: Mapped[int | None] = mapped_column(SurrogateKey)
    device_id: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    open_key: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[datetime]
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime]
    fixed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    occurrences: Mapped[int] = mapped_column(default=1, server_default="1")


class FaultTransitionRow(Base):
    __tablename__ = "fault_transitions"
    __table_args__ = (Index(None, "fault_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(
        SurrogateKey, ForeignKey("fault_tickets.id", ondelete="CASCADE")
    )
    source: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    remark: Mapped[str | None] = mapped_column(String(1024))
