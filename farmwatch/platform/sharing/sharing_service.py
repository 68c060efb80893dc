"""The platform side of sharing with upper platforms: catalogs and shared channels."""

from __future__ import annotations

from dataclasses import replace

from farmwatch.platform.catalog_changes import CatalogChange
from farmwatch.platform.records import ChannelRecord, DeviceRecord
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository
from farmwatch.platform.sharing.catalog_export import SystemItem, export_catalog
from farmwatch.platform.sharing.farm_placements import FarmPlacement, FarmPlacements
from farmwatch.platform.sharing.share_diff import share_diff
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem

__all__ = ["SharingService"]

_DEVICE_PAGE = 1000


class SharingService:
    def __init__(
        self, devices: DeviceRepository, channels: ChannelRepository, farms: FarmPlacements
    ) -> None:
        self._devices = devices
        self._channels = channels
        self._farms = farms

    async def catalog(self, system: SystemItem, rule: ShareRule) -> list[CatalogItem]:
        """The catalog an upper with `rule` sees, parents first."""
        farms = await self._farms.all()
        rule = _on_farms(rule, farms)
        devices = await self._all_devices()
        channels = await self._channels.list_all()
        return export_catalog(system, devices, channels, rule, farms)

    async def changed_items(
        self, system: SystemItem, rule: ShareRule, change: CatalogChange
    ) -> list[CatalogItem]:
        """The items of `change` an upper with `rule` is told of, each with its event:
        full fields as exported (so ADD/UPDATE carry everything, ON/OFF the status)."""
        if change.event is CatalogEvent.DEL:
            return [
                CatalogItem(device_id=item_id, event=CatalogEvent.DEL)
                for item_id in change.item_ids or ()
                if rule.shares_item(change.device_id, item_id)
            ]
        device = await self._devices.get(change.device_id)
        if device is None:
            return []
        records = await self._channels.list_for_device(change.device_id)
        farms = await self._farms.all()
        rule = _on_farms(rule, farms)
        exported = export_catalog(system, [device], records, rule, farms)[1:]  # not us
        wanted = None if change.item_ids is None else set(change.item_ids)
        return [
            replace(item, event=change.event)
            for item in exported
            if wanted is None or item.device_id in wanted
        ]

    async def rule_changed_items(
        self, system: SystemItem, before: ShareRule, after: ShareRule
    ) -> list[CatalogItem]:
        """What an upper is told when its share goes from `before` to `after` (`share_diff`
        of the two catalogs, read once)."""
        farms = await self._farms.all()
        devices = await self._all_devices()
        channels = await self._channels.list_all()
        old = export_catalog(system, devices, channels, _on_farms(before, farms), farms)
        new = export_catalog(system, devices, channels, _on_farms(after, farms), farms)
        return share_diff(old[1:], new[1:])  # our own item stays

    async def shared_channel(self, rule: ShareRule, channel_id: str) -> ChannelRecord | None:
        """The channel an upper asks for by ID, when it is shared with that upper."""
        rule = await self._resolved(rule)
        record = await self._channels.get(channel_id)
        if record is None or not rule.shares_item(record.device_id, channel_id):
            return None
        return record

    async def shared_device(self, rule: ShareRule, device_id: str) -> DeviceRecord | None:
        """A device the upper addresses (DeviceInfo, DeviceStatus), when shared."""
        rule = await self._resolved(rule)
        if not rule.shares_device(device_id):
            return None
        return await self._devices.get(device_id)

    async def _resolved(self, rule: ShareRule) -> ShareRule:
        return _on_farms(rule, await self._farms.all()) if rule.farms else rule

    async def _all_devices(self) -> list[DeviceRecord]:
        devices: list[DeviceRecord] = []
        while True:
            page = await self._devices.list(offset=len(devices), limit=_DEVICE_PAGE)
            devices.extend(page.items)
            if len(page.items) < _DEVICE_PAGE:
                return devices


def _on_farms(rule: ShareRule, farms: list[FarmPlacement]) -> ShareRule:
    """`rule` with its farms (filing numbers) turned into the devices placed on them."""
    if not rule.farms:
        return rule
    placed = frozenset(d for f in farms if f.filing_number in rule.farms for d in f.device_ids)
    return rule.with_devices(placed)
