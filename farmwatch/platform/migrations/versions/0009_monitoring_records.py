"""Monitoring records with their checklist answers, and organisations' supervision schedules
(issue 11 item 2).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INDEXES = (
    ("farm_id", "recorded_at"),
    ("channel_id", "recorded_at"),
    ("user_id", "recorded_at"),
    ("recorded_at",),
)


def upgrade() -> None:
    op.create_table(
        "monitoring_records",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("farm_id", sa.BigInteger(), nullable=False),
        sa.Column("organisation_id", sa.BigInteger(), nullable=False),
        sa.Column("key_area", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("remark", sa.String(1000), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=True),
        sa.Column("snapshot_missing", sa.String(256), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects_id", _KEY, nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"], ["monitoring_records.id"],
            name=op.f("fk_monitoring_records_corrects_id_monitoring_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_records")),
    )  # fmt: skip
    for columns in _INDEXES:
        op.create_index(
            op.f(f"ix_monitoring_records_{'_'.join(columns)}"), "monitoring_records", list(columns)
        )
    op.create_table(
        "organisation_schedules",
        sa.Column("organisation_id", _KEY, nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], ondelete="CASCADE",
            name=op.f("fk_organisation_schedules_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_organisation_schedules")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("organisation_schedules")
    for columns in _INDEXES:
        op.drop_index(
            op.f(f"ix_monitoring_records_{'_'.join(columns)}"), table_name="monitoring_records"
        )
    op.drop_table("monitoring_records")
