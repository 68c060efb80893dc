"""The catalog this platform presents to an upper one (gb28181.md §9.2, §11.12; issue 9).

Pure: records in, `CatalogItem`s out, in an order that puts every parent before its
children (the upper builds its tree as items arrive). The tree is kept, not flattened
(field-notes.md §2.3 item 9):

- our own system item (type 200) first, the root;
- when devices are placed on farms: one business group (215, "export farms") under it and
  each farm with a shared device as a virtual organisation (216) in that group, its ID
  `<our ID's first 10 digits>2169<farm number, 6 digits>` (stable; serials from 9,000,000
  keep clear of the groups and organisations devices number from 1);
- each shared device as an item under its farm, else under us (ParentID = our ID), unless
  the device's own catalog already lists an item with its ID (a lower platform lists
  itself);
- every shared item of the device's catalog with the ParentID the device sent when at least
  one of the IDs in it is exported too (several '/'-separated parents are kept as sent),
  else the parent the platform resolved (`tree_parent_id`: a group, a civil code prefix,
  or the device);
- Status from what the platform knows now (the device's keepalive and the catalog's own
  Status and NOTIFYs), never the stale value of the last catalog answer.

Channel IDs are never rewritten (§9.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from farmwatch.platform.records import ChannelRecord, DeviceRecord, ItemKind
from farmwatch.platform.sharing.farm_placements import FarmPlacement
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.sipserver.gb.catalog_item import CatalogItem, ChannelStatus

__all__ = [
    "FARMS_GROUP_NAME",
    "SystemItem",
    "export_catalog",
    "farm_group_id",
    "farm_vo_id",
    "item_of_channel",
]

FARMS_GROUP_NAME = "出口养殖场"
"""The business group holding the farms (export livestock and poultry farms)."""


@dataclass(frozen=True, slots=True)
class SystemItem:
    """Our own root item as the upper sees it."""

    platform_id: str
    name: str
    civil_code: str | None = None
    manufacturer: str = "farmwatch"
    model: str = "farmwatch platform"


def farm_group_id(platform_id: str) -> str:
    """Serials from 9,000,000 up: clear of the groups devices number from 1."""
    return f"{platform_id[:10]}2159999999"


def farm_vo_id(platform_id: str, farm_id: int) -> str:
    return f"{platform_id[:10]}2169{farm_id % 1_000_000:06d}"


def export_catalog(
    system: SystemItem,
    devices: Sequence[DeviceRecord],
    channels: Iterable[ChannelRecord],
    rule: ShareRule,
    farms: Sequence[FarmPlacement] = (),
) -> list[CatalogItem]:
    """The shared catalog, parents before children."""
    shared_devices = {d.device_id: d for d in devices if _any_shared(d.device_id, rule)}
    by_device: dict[str, list[ChannelRecord]] = {}
    for record in channels:
        if record.device_id in shared_devices or rule.shares_item(
            record.device_id, record.channel_id
        ):
            by_device.setdefault(record.device_id, []).append(record)
    items: list[CatalogItem] = [_system(system)]
    exported: set[str] = {system.platform_id}
    farm_of = _farm_items(system, farms, set(by_device), items, exported)
    for device_id in sorted(by_device):
        device = shared_devices.get(device_id)
        records = [r for r in by_device[device_id] if rule.shares_item(device_id, r.channel_id)]
        if not records:
            continue
        own_ids = {r.channel_id for r in records}
        parent = farm_of.get(device_id, system.platform_id)
        if device_id not in own_ids and device_id not in exported:
            items.append(_device_item(device_id, device, parent))
            exported.add(device_id)
        present = own_ids | exported
        for record in _parents_first(records, device_id):
            items.append(item_of_channel(record, present, root=system.platform_id))
            exported.add(record.channel_id)
    return items


def item_of_channel(record: ChannelRecord, present: set[str], *, root: str) -> CatalogItem:
    """One stored item as exported: its fields as the device sent them, the parent kept
    when it is exported too, the status as the platform knows it now."""
    data = record.data
    declared = [p for p in (data.parent_id or "").split("/") if p.strip()]
    if declared and any(p.strip() in present for p in declared):
        parent_id: str | None = data.parent_id
    elif record.tree_parent_id == record.channel_id:  # the device's own item: the root
        parent_id = root
    else:
        parent_id = record.tree_parent_id if record.tree_parent_id in present else root
    is_container = record.kind in (
        ItemKind.CIVIL_CODE, ItemKind.BUSINESS_GROUP, ItemKind.VIRTUAL_ORGANIZATION
    )  # fmt: skip
    status = None
    if not is_container:
        status = ChannelStatus.ON if record.is_online else ChannelStatus.OFF
    return CatalogItem(
        device_id=data.channel_id,
        name=data.name,
        manufacturer=data.manufacturer,
        model=data.model,
        owner=data.owner,
        civil_code=data.civil_code,
        block=data.block,
        address=data.address,
        parental=None if data.parental is None else bool(data.parental),
        parent_id=None if record.kind is ItemKind.CIVIL_CODE else parent_id,
        safety_way=data.safety_way,
        register_way=data.register_way,
        cert_num=data.cert_num,
        certifiable=None if data.certifiable is None else bool(data.certifiable),
        err_code=data.err_code,
        end_time=data.end_time,
        secrecy=data.secrecy,
        ip_address=data.ip_address,
        port=data.port,
        status=status,
        longitude=data.longitude,
        latitude=data.latitude,
        ptz_type=data.ptz_type,
        position_type=data.position_type,
        room_type=data.room_type,
        use_type=data.use_type,
        supply_light_type=data.supply_light_type,
        direction_type=data.direction_type,
        resolution=data.resolution,
        business_group_id=data.business_group_id,
        download_speed=data.download_speed,
        svc_space_support_mode=data.svc_space_support_mode,
        svc_time_support_mode=data.svc_time_support_mode,
        stream_number_list=data.stream_number_list,
        extra=tuple(data.extra.items()),
    )


def _farm_items(
    system: SystemItem,
    farms: Sequence[FarmPlacement],
    shared_devices: set[str],
    items: list[CatalogItem],
    exported: set[str],
) -> dict[str, str]:
    """The group and farm items (appended to `items`); each shared device's farm item ID."""
    placed = [farm for farm in farms if farm.device_ids & shared_devices]
    if not placed:
        return {}
    group = farm_group_id(system.platform_id)
    items.append(CatalogItem(device_id=group, name=FARMS_GROUP_NAME, parent_id=system.platform_id))
    exported.add(group)
    farm_of: dict[str, str] = {}
    for farm in placed:
        vo = farm_vo_id(system.platform_id, farm.farm_id)
        items.append(CatalogItem(device_id=vo, name=farm.name, parent_id=group,
                                 business_group_id=group))  # fmt: skip
        exported.add(vo)
        for device_id in farm.device_ids & shared_devices:
            farm_of[device_id] = vo
    return farm_of


def _any_shared(device_id: str, rule: ShareRule) -> bool:
    return rule.shares_device(device_id) or bool(rule.channels)


def _system(system: SystemItem) -> CatalogItem:
    return CatalogItem(
        device_id=system.platform_id,
        name=system.name,
        manufacturer=system.manufacturer,
        model=system.model,
        owner="farmwatch",
        civil_code=system.civil_code,
        register_way=1,
        secrecy=0,
        parental=True,
        status=ChannelStatus.ON,
    )


def _device_item(device_id: str, device: DeviceRecord | None, root: str) -> CatalogItem:
    return CatalogItem(
        device_id=device_id,
        name=(device.name if device is not None else None) or device_id,
        manufacturer=device.manufacturer if device is not None else None,
        model=device.model if device is not None else None,
        owner="farmwatch",
        civil_code=device_id[:6] if device_id[:6].isdigit() else None,
        parental=True,
        parent_id=root,
        register_way=1,
        secrecy=0,
        status=ChannelStatus.ON if device is not None and device.is_online else ChannelStatus.OFF,
    )


def _parents_first(records: list[ChannelRecord], device_id: str) -> list[ChannelRecord]:
    """Items ordered so that each comes after its resolved parent (breadth first from the
    device); items in a parent cycle, which the tree hangs under the device, come last."""
    children: dict[str, list[ChannelRecord]] = {}
    for record in records:
        children.setdefault(record.tree_parent_id, []).append(record)
    ordered = [r for r in records if r.channel_id == device_id]  # a lower platform's own item
    seen: set[str] = {device_id}
    level = [device_id]
    while level:
        next_level: list[str] = []
        for parent in level:
            for record in sorted(children.get(parent, ()), key=lambda r: r.channel_id):
                if record.channel_id in seen:
                    continue
                seen.add(record.channel_id)
                ordered.append(record)
                next_level.append(record.channel_id)
        level = next_level
    ordered.extend(r for r in records if r.channel_id not in seen)
    return ordered
