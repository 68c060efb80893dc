"""The farm register (issue 11 item 1, regulation art. 5–6): the farms' operator, contact,
address, species and approval state; the history of the state; application documents; each
camera's model and access method.

Farms enrolled before the register start in state `applied` with no history: their survey
and approval were never recorded here, and the register does not invent decisions; an
administrator records them with their real dates.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: on SQLite that drops and recreates `farms`,
    # and with foreign keys on, the drop deletes every device placement (ON DELETE CASCADE).
    for column in (
        sa.Column("operator", sa.String(128), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column("species", sa.String(16), nullable=True),
        sa.Column("species_other", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="applied"),
    ):
        op.add_column("farms", column)
    op.add_column("camera_placements", sa.Column("model", sa.String(64), nullable=True))
    op.add_column("camera_placements", sa.Column("access_method", sa.String(32), nullable=True))
    op.create_table(
        "farm_state_changes",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("farm_id", _KEY, nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("officer_id", sa.BigInteger(), nullable=True),
        sa.Column("officer_name", sa.String(128), nullable=False),
        sa.Column("remark", sa.String(500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["farm_id"], ["farms.id"], name=op.f("fk_farm_state_changes_farm_id_farms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_farm_state_changes")),
    )
    op.create_index(op.f("ix_farm_state_changes_farm_id"), "farm_state_changes", ["farm_id"])
    op.create_table(
        "farm_documents",
        sa.Column("id", _KEY, nullable=False),
        sa.Column("farm_id", _KEY, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("remark", sa.String(500), nullable=True),
        sa.Column("supersedes_id", _KEY, nullable=True),
        sa.Column("uploaded_by", sa.BigInteger(), nullable=True),
        sa.Column("uploaded_by_name", sa.String(128), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["farm_id"], ["farms.id"], name=op.f("fk_farm_documents_farm_id_farms")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["farm_documents.id"],
            name=op.f("fk_farm_documents_supersedes_id_farm_documents"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_farm_documents")),
    )
    op.create_index(op.f("ix_farm_documents_farm_id"), "farm_documents", ["farm_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_farm_documents_farm_id"), table_name="farm_documents")
    op.drop_table("farm_documents")
    op.drop_index(op.f("ix_farm_state_changes_farm_id"), table_name="farm_state_changes")
    op.drop_table("farm_state_changes")
    # Plain DROP COLUMN (SQLite 3.35+) for the same reason as above.
    op.drop_column("camera_placements", "access_method")
    op.drop_column("camera_placements", "model")
    for column in ("state", "species_other", "species", "address", "phone", "operator"):
        op.drop_column("farms", column)
