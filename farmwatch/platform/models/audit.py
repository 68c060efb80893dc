"""Tables of the audit trail (regulation art. 22; issue 10): the append-only log and its
one-row chain head.

`audit_log.id` is assigned by `AuditLog` (last ID + 1 under the chain-head lock), not by a
sequence, so IDs have no gaps and a missing one means a deleted row. `audit_chain_head`
holds exactly one row (id 1, inserted by migration 0004): the last ID and hash appended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base

__all__ = ["AuditChainHeadRow", "AuditRow"]

AuditId = BigInteger().with_variant(Integer(), "sqlite")


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "at"),
        Index(None, "actor_kind", "actor_id"),
        Index(None, "channel_id"),
    )

    id: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str] = mapped_column(String(128))
    organisation_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(20))
    recorded_start: Mapped[datetime | None]
    recorded_end: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, object]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHeadRow(Base):
    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
