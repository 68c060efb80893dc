"""Fault tickets and their history (regulation art. 19; issue 11 item 4).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "fault_tickets",
        _key("id"),
        _key("farm_id", nullable=True),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("open_key", sa.String(40), nullable=True),
        _time("since"),
        _time("opened_at"),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(512), nullable=True),
        _time("updated_at"),
        _time("fixed_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("reminders_sent", sa.Integer(), server_default="0", nullable=False),
        _time("last_reminded_at", nullable=True),
        _time("escalated_at", nullable=True),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_tickets")),
    )
    op.create_index(op.f("ix_fault_tickets_open_key"), "fault_tickets", ["open_key"], unique=True)
    op.create_index(op.f("ix_fault_tickets_farm_id_state"), "fault_tickets", ["farm_id", "state"])
    op.create_index(op.f("ix_fault_tickets_device_id"), "fault_tickets", ["device_id"])
    op.create_index(op.f("ix_fault_tickets_opened_at"), "fault_tickets", ["opened_at"])
    op.create_table(
        "fault_transitions",
        _key("id"),
        _key("fault_id"),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        _time("at"),
        sa.Column("remark", sa.String(1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["fault_id"],
            ["fault_tickets.id"],
            name=op.f("fk_fault_transitions_fault_id_fault_tickets"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_transitions")),
    )
    op.create_index(op.f("ix_fault_transitions_fault_id"), "fault_transitions", ["fault_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fault_transitions_fault_id"), table_name="fault_transitions")
    op.drop_table("fault_transitions")
    op.drop_index(op.f("ix_fault_tickets_opened_at"), table_name="fault_tickets")
    op.drop_index(op.f("ix_fault_tickets_device_id"), table_name="fault_tickets")
    op.drop_index(op.f("ix_fault_tickets_farm_id_state"), table_name="fault_tickets")
    op.drop_index(op.f("ix_fault_tickets_open_key"), table_name="fault_tickets")
    op.drop_table("fault_tickets")
