"""Alarms devices reported, acknowledged and reset through the API (issue 12 item 3).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("source_id", sa.String(20), nullable=False),
        sa.Column("sn", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("method", sa.Integer(), nullable=True),
        sa.Column("alarm_type", sa.Integer(), nullable=True),
        sa.Column("alarm_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("description", sa.String(256), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.Column("note", sa.String(1024), nullable=True),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reset_by", sa.String(128), nullable=True),
        sa.Column("reset_result", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(op.f("ix_alarms_device_id_received_at"), "alarms",
                    ["device_id", "received_at"])  # fmt: skip
    op.create_index(op.f("ix_alarms_source_id_received_at"), "alarms",
                    ["source_id", "received_at"])  # fmt: skip
    op.create_index(op.f("ix_alarms_received_at"), "alarms", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alarms_received_at"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_source_id_received_at"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_device_id_received_at"), table_name="alarms")
    op.drop_table("alarms")
