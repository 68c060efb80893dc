"""The console's tree: organisation → farm → device → camera, with online states and each
camera's key area and location number, holding only what one principal may see (the
access gate's answers, worked out once per tree rather than once per device).

One call reads each table once: the tree of a few thousand cameras costs a handful of
queries, where walking `/api/devices/{id}/channels` would cost one request per device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from farmwatch.platform.access import AccessServices, Principal, Role
from farmwatch.platform.access.records import Farm, Organisation
from farmwatch.platform.cameras.access_methods import AccessMethod
from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.cameras.placement_repository import CameraPlace, PlacementRepository
from farmwatch.platform.errors import InvalidInput, NotFound
from farmwatch.platform.records import ChannelRecord, DeviceRecord, ItemKind
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository

__all__ = ["UNCHANGED", "CameraTree", "ConsoleTree", "TreeCamera", "TreeDevice", "Unchanged"]

Clock = Callable[[], datetime]
MAX_LOCATION = 64
MAX_MODEL = 64


class Unchanged(Enum):
    """A field of a camera's place that a change leaves as it is."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED
# Beyond any one platform's devices; the tree is one answer, not pages.
MAX_DEVICES = 100_000


@dataclass(frozen=True, slots=True)
class TreeCamera:
    record: ChannelRecord
    place: CameraPlace | None


@dataclass(frozen=True, slots=True)
class TreeDevice:
    record: DeviceRecord
    farm_id: int | None
    cameras: tuple[TreeCamera, ...]


@dataclass(frozen=True, slots=True)
class ConsoleTree:
    organisations: tuple[Organisation, ...]
    farms: tuple[Farm, ...]
    devices: tuple[TreeDevice, ...]
    """A device on no farm has `farm_id` None (only the top organisation sees those)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def location_of(
    text: str | None, *, name: str = "location", limit: int = MAX_LOCATION
) -> str | None:
    """A location number (or a model) as given (stripped; empty is unset), or `InvalidInput`."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if len(text) > limit or not text.isprintable():
        raise InvalidInput(f"{name}: expected at most {limit} printable characters")
    return text


class CameraTree:
    def __init__(
        self,
        devices: DeviceRepository,
        channels: ChannelRepository,
        placements: PlacementRepository,
        access: AccessServices,
        clock: Clock = _utc_now,
    ) -> None:
        self._devices = devices
        self._channels = channels
        self._placements = placements
        self._access = access
        self._clock = clock

    async def tree(self, principal: Principal) -> ConsoleTree:
        directory = self._access.directory
        visible = await self._access.gate.visibility(principal)
        visible_cameras, orgs = visible.cameras, visible.orgs
        page = await self._devices.list(limit=MAX_DEVICES, device_ids=visible.devices)
        device_ids = {record.device_id for record in page.items}
        cameras: dict[str, list[ChannelRecord]] = {}
        for record in await self._channels.list_all():
            if record.kind is not ItemKind.CHANNEL or record.device_id not in device_ids:
                continue
            if visible_cameras is None or record.channel_id in visible_cameras:
                cameras.setdefault(record.device_id, []).append(record)
        places = await self._placements.places()
        placed = await directory.device_farms()
        devices = tuple(
            TreeDevice(
                record,
                placed.get(record.device_id),
                tuple(
                    TreeCamera(camera, places.get(camera.channel_id))
                    for camera in cameras.get(record.device_id, ())
                ),
            )
            for record in page.items
        )
        wanted_farms = {device.farm_id for device in devices if device.farm_id is not None}
        if principal.role is Role.ADMINISTRATOR:
            farms = await directory.farms(orgs.subtree(principal.organisation_id))
        else:
            farms = [farm for farm in await directory.farms() if farm.id in wanted_farms]
        organisations = {principal.organisation_id} | {farm.organisation_id for farm in farms}
        if principal.role is Role.ADMINISTRATOR:
            organisations |= orgs.subtree(principal.organisation_id)
        shown: dict[int, Organisation] = {}
        for org_id in organisations:  # each with the organisations above it, for the path
            current = orgs.get(org_id)
            while current is not None and current.id not in shown:
                shown[current.id] = current
                current = None if current.parent_id is None else orgs.get(current.parent_id)
        return ConsoleTree(
            tuple(sorted(shown.values(), key=lambda org: org.id)), tuple(farms), devices
        )

    async def places(self, channel_ids: list[str]) -> dict[str, CameraPlace]:
        return await self._placements.places(channel_ids)

    async def set_place(
        self,
        channel_id: str,
        key_area: KeyArea | None | Unchanged = UNCHANGED,
        location: str | None | Unchanged = UNCHANGED,
        model: str | None | Unchanged = UNCHANGED,
        access_method: AccessMethod | None | Unchanged = UNCHANGED,
    ) -> CameraPlace:
        """Set a camera's key area, location number, model and access method; a field left
        `UNCHANGED` keeps its value, None unsets it (the route checks who may)."""
        if await self._channels.get(channel_id) is None:
            raise NotFound(f"no camera {channel_id}")
        current = (await self._placements.places([channel_id])).get(channel_id)
        if current is None:
            current = CameraPlace(channel_id, None, None)
        place = CameraPlace(
            channel_id,
            current.key_area if key_area is UNCHANGED else key_area,
            current.location if location is UNCHANGED else location_of(location),
            current.model
            if model is UNCHANGED
            else location_of(model, name="model", limit=MAX_MODEL),
            current.access_method if access_method is UNCHANGED else access_method,
        )
        await self._placements.set_place(place, at=self._clock())
        return place
