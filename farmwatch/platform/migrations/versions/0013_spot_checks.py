"""Random spot checks and the cameras each drew (issue 11 item 6).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CHECK_INDEXES = (("organisation_id", "drawn_at"), ("drawn_at",))


def upgrade() -> None:
    op.create_table(
        "spot_checks",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("organisation_id", sa.BigInteger(), nullable=False),
        sa.Column("drawn_by", sa.String(128), nullable=False),
        sa.Column("drawn_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(16), nullable=False),
        sa.Column("population_digest", sa.String(64), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("period", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_checks")),
    )
    for columns in _CHECK_INDEXES:
        op.create_index(op.f(f"ix_spot_checks_{'_'.join(columns)}"), "spot_checks", list(columns))
    op.create_table(
        "spot_check_items",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("spot_check_id", _KEY, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("farm_key", sa.String(64), nullable=False),
        sa.Column("farm_name", sa.String(128), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("key_area", sa.String(32), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("remark", sa.String(1000), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("recorded_by", sa.String(128), nullable=True),
        sa.Column("recorded_user_id", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["spot_check_id"], ["spot_checks.id"], ondelete="CASCADE",
            name=op.f("fk_spot_check_items_spot_check_id_spot_checks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_items")),
        sa.UniqueConstraint(
            "spot_check_id", "position", name=op.f("uq_spot_check_items_spot_check_id_position")
        ),
    )  # fmt: skip
    op.create_index(
        op.f("ix_spot_check_items_farm_key_recorded_at"),
        "spot_check_items",
        ["farm_key", "recorded_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_spot_check_items_farm_key_recorded_at"), table_name="spot_check_items")
    op.drop_table("spot_check_items")
    for columns in _CHECK_INDEXES:
        op.drop_index(op.f(f"ix_spot_checks_{'_'.join(columns)}"), table_name="spot_checks")
    op.drop_table("spot_checks")
