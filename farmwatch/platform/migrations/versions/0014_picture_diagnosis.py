"""Video quality diagnosis: picture samples per camera and each camera's state (issue 11
item 5).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "picture_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("failures", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(256), nullable=True),
        sa.Column("mean_luma", sa.Float(), nullable=True),
        sa.Column("luma_std", sa.Float(), nullable=True),
        sa.Column("sharpness", sa.Float(), nullable=True),
        sa.Column("chroma_offset", sa.Float(), nullable=True),
        sa.Column("difference", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_picture_samples")),
    )
    op.create_index(
        op.f("ix_picture_samples_channel_id_id"), "picture_samples", ["channel_id", "id"]
    )
    op.create_table(
        "picture_states",
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("is_failed", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(256), nullable=True),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_picture_states")),
    )


def downgrade() -> None:
    op.drop_table("picture_states")
    op.drop_index(op.f("ix_picture_samples_channel_id_id"), table_name="picture_samples")
    op.drop_table("picture_samples")
