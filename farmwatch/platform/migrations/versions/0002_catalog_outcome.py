"""Devices remember how their last catalog answer ended (items received, complete or not).

Devices stored before this revision had a catalog written when `catalog_sum_num` is set;
they count as complete when as many channels are stored as it announced, so an upgrade
does not ask every device's catalog again.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: on SQLite that drops and recreates `devices`,
    # and with foreign keys on, the drop deletes every channel (ON DELETE CASCADE).
    op.add_column("devices", sa.Column("catalog_received", sa.Integer(), nullable=True))
    op.add_column(
        "devices",
        sa.Column("is_catalog_complete", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    devices = sa.table(
        "devices",
        sa.column("device_id", sa.String()),
        sa.column("catalog_sum_num", sa.Integer()),
        sa.column("catalog_received", sa.Integer()),
        sa.column("is_catalog_complete", sa.Boolean()),
    )
    channels = sa.table("channels", sa.column("device_id", sa.String()))
    stored = (
        sa.select(sa.func.count())
        .select_from(channels)
        .where(channels.c.device_id == devices.c.device_id)
        .scalar_subquery()
    )
    had_catalog = devices.c.catalog_sum_num.is_not(None)
    op.execute(devices.update().where(had_catalog).values(catalog_received=stored))
    op.execute(
        devices.update()
        .where(had_catalog, devices.c.catalog_received >= devices.c.catalog_sum_num)
        .values(is_catalog_complete=sa.true())
    )


def downgrade() -> None:
    op.drop_column("devices", "is_catalog_complete")  # SQLite 3.35+ drops in place
    op.drop_column("devices", "catalog_received")
