"""Catalog items as the SIP part parsed them → rows as the platform stores them."""

from __future__ import annotations

from farmwatch.platform.records import ChannelData
from farmwatch.sipserver.gb.catalog_item import CatalogItem


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def channel_data(item: CatalogItem) -> ChannelData:
    return ChannelData(
        channel_id=item.device_id,
        name=item.name,
        manufacturer=item.manufacturer,
        model=item.model,
        owner=item.owner,
        civil_code=item.civil_code,
        block=item.block,
        address=item.address,
        parental=_flag(item.parental),
        parent_id=item.parent_id,
        safety_way=item.safety_way,
        register_way=item.register_way,
        cert_num=item.cert_num,
        certifiable=_flag(item.certifiable),
        err_code=item.err_code,
        end_time=item.end_time,
        secrecy=item.secrecy,
        ip_address=item.ip_address,
        port=item.port,
        password=item.password,
        status=item.status.value if item.status is not None else None,
        longitude=item.longitude,
        latitude=item.latitude,
        ptz_type=item.ptz_type,
        position_type=item.position_type,
        room_type=item.room_type,
        use_type=item.use_type,
        supply_light_type=item.supply_light_type,
        direction_type=item.direction_type,
        resolution=item.resolution,
        business_group_id=item.business_group_id,
        download_speed=item.download_speed,
        svc_space_support_mode=item.svc_space_support_mode,
        svc_time_support_mode=item.svc_time_support_mode,
        stream_number_list=item.stream_number_list,
        extra=dict(item.extra),
    )


def is_usable_item_id(item_id: str) -> bool:
    """IDs the store accepts: 1-20 characters (20-digit IDs and 2/4/6/8-digit civil codes)."""
    return 0 < len(item_id) <= 20
