"""Devices and their catalog items (channels).

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.String(), nullable=True)


def _integer(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(20), nullable=False),
        *(_text(name) for name in ("name", "manufacturer", "model", "firmware")),
        sa.Column("transport", sa.String(8), nullable=True),
        sa.Column("remote_host", sa.String(64), nullable=True),
        _integer("remote_port"),
        _text("contact_uri"),
        _integer("expires"),
        _timestamp("registered_at"),
        _timestamp("last_register_at"),
        _timestamp("last_keepalive_at"),
        sa.Column("is_online", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("offline_reason", sa.String(32), nullable=True),
        sa.Column("gb_version", sa.String(16), nullable=True),
        sa.Column("charset", sa.String(32), server_default="GB2312", nullable=False),
        _text("password"),
        sa.Column("is_enrolled", sa.Boolean(), server_default=sa.false(), nullable=False),
        _integer("channel_count"),
        _integer("catalog_sum_num"),
        _timestamp("catalog_updated_at"),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_devices")),
    )
    op.create_index(op.f("ix_devices_is_online"), "devices", ["is_online"])
    op.create_table(
        "channels",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("channel_id", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tree_parent_id", sa.String(20), nullable=False),
        sa.Column("is_online", sa.Boolean(), server_default=sa.false(), nullable=False),
        *(_text(name) for name in ("name", "manufacturer", "model", "owner", "civil_code")),
        _text("block"),
        _text("address"),
        _integer("parental"),
        _text("parent_id"),
        _integer("safety_way"),
        _integer("register_way"),
        _text("cert_num"),
        _integer("certifiable"),
        _integer("err_code"),
        _text("end_time"),
        _integer("secrecy"),
        _text("ip_address"),
        _integer("port"),
        _text("password"),
        _text("status"),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        *(
            _integer(name)
            for name in (
                "ptz_type",
                "position_type",
                "room_type",
                "use_type",
                "supply_light_type",
                "direction_type",
            )
        ),
        _text("resolution"),
        _text("business_group_id"),
        _text("download_speed"),
        _integer("svc_space_support_mode"),
        _integer("svc_time_support_mode"),
        _text("stream_number_list"),
        sa.Column("extra", sa.JSON(), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
            name=op.f("fk_channels_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint(
            "device_id", "channel_id", name=op.f("uq_channels_device_id_channel_id")
        ),
    )
    op.create_index(op.f("ix_channels_channel_id"), "channels", ["channel_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_channels_channel_id"), table_name="channels")
    op.drop_table("channels")
    op.drop_index(op.f("ix_devices_is_online"), table_name="devices")
    op.drop_table("devices")
