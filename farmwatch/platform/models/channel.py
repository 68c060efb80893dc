"""The `channels` table: every catalog item of every device (GB/T 28181-2016 A.2.1 g).

Rows are keyed by a surrogate integer; `(device_id, channel_id)` is unique because the same
channel ID may reach us through two lower platforms. Columns named after catalog fields
hold the values as the device sent them; `kind`, `tree_parent_id` and `is_online` are what
the platform derived (2016 Annex O item kinds). Deleting a device deletes its channels.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey
from farmwatch.platform.records import ItemKind


def _kind_values(enum_type: type[ItemKind]) -> list[str]:
    return [member.value for member in enum_type]


class ChannelRow(Base):
    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("device_id", "channel_id"),
        Index(None, "channel_id"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("devices.device_id", ondelete="CASCADE")
    )
    channel_id: Mapped[str] = mapped_column(String(20))
    kind: Mapped[ItemKind] = mapped_column(
        Enum(ItemKind, native_enum=False, length=32, values_callable=_kind_values)
    )
    tree_parent_id: Mapped[str] = mapped_column(String(20))
    is_online: Mapped[bool] = mapped_column(default=False, server_default=false())
    name: Mapped[str | None] = mapped_column(String)
    manufacturer: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    owner: Mapped[str | None] = mapped_column(String)
    civil_code: Mapped[str | None] = mapped_column(String)
    block: Mapped[str | None] = mapped_column(String)
    address: Mapped[str | None] = mapped_column(String)
    parental: Mapped[int | None]
    parent_id: Mapped[str | None] = mapped_column(String)
    safety_way: Mapped[int | None]
    register_way: Mapped[int | None]
    cert_num: Mapped[str | None] = mapped_column(String)
    certifiable: Mapped[int | None]
    err_code: Mapped[int | None]
    end_time: Mapped[str | None] = mapped_column(String)
    secrecy: Mapped[int | None]
    ip_address: Mapped[str | None] = mapped_column(String)
    port: Mapped[int | None]
    password: Mapped[str | None] = mapped_column(String)
    status: Mapped[str | None] = mapped_column(String)
    longitude: Mapped[float | None]
    latitude: Mapped[float | None]
    ptz_type: Mapped[int | None]
    position_type: Mapped[int | None]
    room_type: Mapped[int | None]
    use_type: Mapped[int | None]
    supply_light_type: Mapped[int | None]
    direction_type: Mapped[int | None]
    resolution: Mapped[str | None] = mapped_column(String)
    business_group_id: Mapped[str | None] = mapped_column(String)
    download_speed: Mapped[str | None] = mapped_column(String)
    svc_space_support_mode: Mapped[int | None]
    svc_time_support_mode: Mapped[int | None]
    stream_number_list: Mapped[str | None] = mapped_column(String)
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
