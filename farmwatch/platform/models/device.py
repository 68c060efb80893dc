"""The `devices` table: one row per registered or enrolled device or lower platform.

GB/T 28181-2016 §9.1 (registration), §9.6 (keepalive), A.2.6 f (DeviceInfo). The row keeps
what a restarted platform needs to know a device again (transport, NAT-visible address,
contact, granted expiry) and the per-device settings an operator can override.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base
from farmwatch.platform.records import OfflineReason, Transport

DEFAULT_CHARSET = "GB2312"


def _enum_values(enum_type: type[Transport] | type[OfflineReason]) -> list[str]:
    return [member.value for member in enum_type]


class DeviceRow(Base):
    __tablename__ = "devices"
    __table_args__ = (Index(None, "is_online"),)

    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str | None] = mapped_column(String)
    manufacturer: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    firmware: Mapped[str | None] = mapped_column(String)
    transport: Mapped[Transport | None] = mapped_column(
        Enum(Transport, native_enum=False, length=8, values_callable=_enum_values)
    )
    remote_host: Mapped[str | None] = mapped_column(String(64))
    remote_port: Mapped[int | None]
    contact_uri: Mapped[str | None] = mapped_column(String)
    expires: Mapped[int | None]
    registered_at: Mapped[datetime | None]
    last_register_at: Mapped[datetime | None]
    last_keepalive_at: Mapped[datetime | None]
    is_online: Mapped[bool] = mapped_column(default=False, server_default=false())
    offline_reason: Mapped[OfflineReason | None] = mapped_column(
        Enum(OfflineReason, native_enum=False, length=32, values_callable=_enum_values)
    )
    gb_version: Mapped[str | None] = mapped_column(String(16))
    charset: Mapped[str] = mapped_column(
        String(32), default=DEFAULT_CHARSET, server_default=DEFAULT_CHARSET
    )
    password: Mapped[str | None] = mapped_column(String)
    is_enrolled: Mapped[bool] = mapped_column(default=False, server_default=false())
    channel_count: Mapped[int | None]
    catalog_sum_num: Mapped[int | None]
    catalog_updated_at: Mapped[datetime | None]
    # The last catalog answer: how many items arrived, and whether all the SumNum announced
    # did. A device that is not complete is asked again after a restart.
    catalog_received: Mapped[int | None]
    is_catalog_complete: Mapped[bool] = mapped_column(default=False, server_default=false())
    # How live offers ask this device for a sub stream (a `StreamDialect` value), set by an
    # administrator; NULL: as the configuration says ([live] stream_dialect(s)).
    stream_dialect: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
