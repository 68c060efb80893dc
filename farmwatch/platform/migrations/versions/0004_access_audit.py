"""Access control and the audit trail: organisations, farms, farm devices, users, grants,
login sessions, API tokens, the audit log and its chain head (issue 10).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def _key(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _foreign_key(
    column: str, table: str, referred: str, *, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )


def _access_tables() -> None:
    op.create_table(
        "organisations",
        _key("id"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        _key("parent_id", nullable=True),
        _timestamp("created_at"),
        _foreign_key("parent_id", "organisations", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
    )
    op.create_index(op.f("ix_organisations_parent_id"), "organisations", ["parent_id"])
    op.create_table(
        "farms",
        _key("id"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("filing_number", sa.String(64), nullable=False),
        _key("organisation_id"),
        _timestamp("created_at"),
        _foreign_key("organisation_id", "farms", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_farms")),
        sa.UniqueConstraint("filing_number", name=op.f("uq_farms_filing_number")),
    )
    op.create_index(op.f("ix_farms_organisation_id"), "farms", ["organisation_id"])
    op.create_table(
        "farm_devices",
        sa.Column("device_id", sa.String(20), nullable=False),
        _key("farm_id"),
        _timestamp("placed_at"),
        _foreign_key("farm_id", "farm_devices", "farms", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_farm_devices")),
    )
    op.create_index(op.f("ix_farm_devices_farm_id"), "farm_devices", ["farm_id"])
    op.create_table(
        "users",
        _key("id"),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        _key("organisation_id"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        _timestamp("locked_until", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _foreign_key("organisation_id", "users", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_organisation_id"), "users", ["organisation_id"])
    op.create_table(
        "user_grants",
        _key("user_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        _timestamp("created_at"),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _foreign_key("user_id", "user_grants", "users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "kind", "target", name=op.f("pk_user_grants")),
    )
    op.create_table(
        "login_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        _key("user_id"),
        _timestamp("created_at"),
        _timestamp("last_seen_at"),
        _timestamp("expires_at"),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        _foreign_key("user_id", "login_sessions", "users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"])
    op.create_index(op.f("ix_login_sessions_expires_at"), "login_sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        _key("id"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _key("organisation_id"),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _timestamp("created_at"),
        _timestamp("expires_at", nullable=True),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        _foreign_key("organisation_id", "api_tokens", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_organisation_id"), "api_tokens", ["organisation_id"])
    op.create_table(
        "token_grants",
        _key("token_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        _timestamp("created_at"),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _foreign_key("token_id", "token_grants", "api_tokens", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_id", "kind", "target", name=op.f("pk_token_grants")),
    )


def _audit_tables() -> None:
    op.create_table(
        "audit_log",
        _key("id"),
        _timestamp("at"),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(128), nullable=False),
        sa.Column("organisation_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=True),
        _timestamp("recorded_start", nullable=True),
        _timestamp("recorded_end", nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(
        op.f("ix_audit_log_actor_kind_actor_id"), "audit_log", ["actor_kind", "actor_id"]
    )
    op.create_index(op.f("ix_audit_log_channel_id"), "audit_log", ["channel_id"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}])


def upgrade() -> None:
    _access_tables()
    _audit_tables()


def downgrade() -> None:
    for table in (
        "audit_chain_head",
        "audit_log",
        "token_grants",
        "api_tokens",
        "login_sessions",
        "user_grants",
        "users",
        "farm_devices",
        "farms",
        "organisations",
    ):
        op.drop_table(table)
