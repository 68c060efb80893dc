"""Anomalies, their evidence clips, history and follow-up monitoring records (issue 11
item 3; regulation art. 20–21).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def _reference(
    table: str, column: str, referred: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "anomalies",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("farm_id", _KEY, nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("reporter", sa.String(128), nullable=False),
        sa.Column("reporter_user_id", sa.BigInteger(), nullable=True),
        sa.Column("reported_at", _TIME, nullable=False),
        sa.Column("seen_at", _TIME, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("description", sa.String(2048), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("evidence_state", sa.String(16), nullable=False),
        sa.Column("evidence_error", sa.String(512), nullable=True),
        sa.Column("rectification_order", sa.String(2048), nullable=True),
        sa.Column("rectification_deadline", _TIME, nullable=True),
        sa.Column("ordered_by", sa.String(128), nullable=True),
        sa.Column("ordered_at", _TIME, nullable=True),
        sa.Column("case_number", sa.String(64), nullable=True),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        _reference("anomalies", "farm_id", "farms"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint("case_number", name=op.f("uq_anomalies_case_number")),
    )
    op.create_index(op.f("ix_anomalies_farm_id_state"), "anomalies", ["farm_id", "state"])
    op.create_index(op.f("ix_anomalies_state"), "anomalies", ["state"])
    op.create_index(op.f("ix_anomalies_channel_id"), "anomalies", ["channel_id"])
    op.create_table(
        "anomaly_evidence",
        sa.Column("anomaly_id", _KEY, nullable=False),
        sa.Column("clip_id", sa.String(16), nullable=False),
        sa.Column("attached_at", _TIME, nullable=False),
        sa.Column("attached_by", sa.String(128), nullable=False),
        _reference("anomaly_evidence", "anomaly_id", "anomalies", "CASCADE"),
        sa.PrimaryKeyConstraint("anomaly_id", "clip_id", name=op.f("pk_anomaly_evidence")),
    )
    op.create_table(
        "anomaly_history",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("anomaly_id", _KEY, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("remark", sa.String(2048), nullable=False),
        _reference("anomaly_history", "anomaly_id", "anomalies", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_history")),
    )
    op.create_index(op.f("ix_anomaly_history_anomaly_id_id"), "anomaly_history",
                    ["anomaly_id", "id"])  # fmt: skip
    op.create_table(
        "anomaly_follow_ups",
        sa.Column("anomaly_id", _KEY, nullable=False),
        sa.Column("monitoring_record_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("linked_at", _TIME, nullable=False),
        sa.Column("linked_by", sa.String(128), nullable=False),
        _reference("anomaly_follow_ups", "anomaly_id", "anomalies", "CASCADE"),
        sa.PrimaryKeyConstraint(
            "anomaly_id", "monitoring_record_id", name=op.f("pk_anomaly_follow_ups")
        ),  # fmt: skip
    )


def downgrade() -> None:
    op.drop_table("anomaly_follow_ups")
    op.drop_index(op.f("ix_anomaly_history_anomaly_id_id"), table_name="anomaly_history")
    op.drop_table("anomaly_history")
    op.drop_table("anomaly_evidence")
    op.drop_index(op.f("ix_anomalies_channel_id"), table_name="anomalies")
    op.drop_index(op.f("ix_anomalies_state"), table_name="anomalies")
    op.drop_index(op.f("ix_anomalies_farm_id_state"), table_name="anomalies")
    op.drop_table("anomalies")
