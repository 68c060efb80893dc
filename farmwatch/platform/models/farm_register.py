"""Tables of the farm register (regulation art. 5–6; issue 11 item 1) beside `farms`:
each decision on a farm's approval state, and the application documents kept with it.

Both are records: rows are only ever added. A document's file lies in the storage folder
under its SHA-256 (`farm-documents/<sha256>`), never under a name a user gave.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey

__all__ = ["FarmDocumentRow", "FarmStateChangeRow"]


class FarmStateChangeRow(Base):
    """One decision: `from_state` → `to_state` (None → applied for the enrolment), dated
    `decided_on` by the officer who recorded it."""

    __tablename__ = "farm_state_changes"
    __table_args__ = (Index(None, "farm_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    farm_id: Mapped[int] = mapped_column(SurrogateKey, ForeignKey("farms.id"))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    decided_on: Mapped[date]
    officer_id: Mapped[int | None] = mapped_column(BigInteger)
    officer_name: Mapped[str] = mapped_column(String(128))
    remark: Mapped[str | None] = mapped_column(String(500))
    recorded_at: Mapped[datetime]


class FarmDocumentRow(Base):
    """An application document as uploaded: its original name and type, size and SHA-256;
    `supersedes_id` the document it replaces (that one stays on record)."""

    __tablename__ = "farm_documents"
    __table_args__ = (Index(None, "farm_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    farm_id: Mapped[int] = mapped_column(SurrogateKey, ForeignKey("farms.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    remark: Mapped[str | None] = mapped_column(String(500))
    supersedes_id: Mapped[int | None] = mapped_column(SurrogateKey, ForeignKey("farm_documents.id"))
    uploaded_by: Mapped[int | None] = mapped_column(BigInteger)
    uploaded_by_name: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[datetime]
