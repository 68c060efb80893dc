"""A device's stream dialect, set by an administrator (issue 12 item 6): how live offers
ask it for its sub stream; NULL follows the configuration (`[live] stream_dialect(s)`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("stream_dialect", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("stream_dialect")
