"""Positions of mobile devices, a track per device (issue 12 item 3).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_positions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("source_id", sa.String(20), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("direction", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_positions")),
    )
    op.create_index(
        op.f("ix_device_positions_device_id_time"), "device_positions", ["device_id", "time"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_positions_device_id_time"), table_name="device_positions")
    op.drop_table("device_positions")
