"""The cameras of a farm (regulation art. 5–6): those of the devices placed on it, each
with its online state, key area, location number, model and access method."""

from __future__ import annotations

from collections.abc import Collection

from farmwatch.platform.access import DirectoryRepository
from farmwatch.platform.cameras import PlacementRepository
from farmwatch.platform.records import ItemKind
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.supervision.farms.records import FarmCamera

__all__ = ["FarmCameras"]


class FarmCameras:
    def __init__(
        self,
        directory: DirectoryRepository,
        channels: ChannelRepository,
        placements: PlacementRepository,
    ) -> None:
        self._directory = directory
        self._channels = channels
        self._placements = placements

    async def cameras(self, farm_id: int, visible: Collection[str] | None) -> list[FarmCamera]:
        """The farm's cameras among `visible` (None: all), by device and channel ID."""
        placed = await self._directory.device_farms()
        devices = sorted(device for device, farm in placed.items() if farm == farm_id)
        records = [
            record
            for device_id in devices
            for record in await self._channels.list_for_device(device_id, kinds=[ItemKind.CHANNEL])
            if visible is None or record.channel_id in visible
        ]
        places = await self._placements.places([record.channel_id for record in records])
        return [
            FarmCamera(
                record.channel_id,
                record.device_id,
                record.name,
                record.is_online,
                places.get(record.channel_id),
            )  # fmt: skip
            for record in records
        ]
