"""Pictures devices uploaded on request (SnapShotConfig, issue 12 item 4).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_snapshots")),
    )
    op.create_index(
        op.f("ix_device_snapshots_channel_id_received_at"),
        "device_snapshots",
        ["channel_id", "received_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_snapshots_channel_id_received_at"), table_name="device_snapshots")
    op.drop_table("device_snapshots")
