"""Camera placements (key area, location number) and upper shares edited through the API
(issues 9 and 10).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_placements",
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("key_area", sa.String(32), nullable=True),
        sa.Column("location", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_camera_placements")),
    )
    op.create_table(
        "upper_shares",
        sa.Column("upper_name", sa.String(64), nullable=False),
        sa.Column("share_all", sa.Boolean(), nullable=False),
        sa.Column("farms", sa.JSON(), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("upper_name", name=op.f("pk_upper_shares")),
    )


def downgrade() -> None:
    op.drop_table("upper_shares")
    op.drop_table("camera_placements")
