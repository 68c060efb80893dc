"""Recorded video: platform recording segments, record plans, download tasks, evidence clips.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recording_segments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        _timestamp("start_at"),
        _timestamp("end_at"),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("codec", sa.String(16), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("is_locked", sa.Boolean(), server_default=sa.false(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
        sa.UniqueConstraint("path", name=op.f("uq_recording_segments_path")),
    )
    op.create_index(
        op.f("ix_recording_segments_channel_id_start_at"),
        "recording_segments",
        ["channel_id", "start_at"],
    )
    op.create_index(op.f("ix_recording_segments_start_at"), "recording_segments", ["start_at"])
    op.create_table(
        "record_plans",
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        _timestamp("record_until", nullable=True),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_record_plans")),
    )
    op.create_table(
        "download_tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        _timestamp("start_at"),
        _timestamp("end_at"),
        sa.Column("speed", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_tasks")),
    )
    op.create_index(op.f("ix_download_tasks_channel_id"), "download_tasks", ["channel_id"])
    op.create_table(
        "evidence_clips",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        _timestamp("start_at"),
        _timestamp("end_at"),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_clips")),
    )
    op.create_index(op.f("ix_evidence_clips_channel_id"), "evidence_clips", ["channel_id"])


def downgrade() -> None:
    op.drop_table("evidence_clips")
    op.drop_table("download_tasks")
    op.drop_table("record_plans")
    op.drop_table("recording_segments")
