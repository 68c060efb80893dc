"""What a principal may reach, named by the ID a request carries: a camera, a device, a
user account, an API token. The web's authorisation middleware asks one question per
request; the answers follow `rules.py` (regulation art. 8–10).

- A camera (channel): `can_view` through every device that reports it.
- A device: an administrator reaches the devices placed on the farms of their subtree (a
  device on no farm: administrators of the top organisation); a monitor, or a monitor-role
  API token, reaches a device when at least one of its cameras is granted to them.
- A user or an API token: an administrator of its organisation or of one above it.
- A farm (supervision records, anomalies, faults): an administrator reaches the farms of
  their subtree; a monitor reaches a farm of their subtree when one of their grants covers
  it (the farm itself, a device placed on it, or a camera of such a device).

`Verdict.UNKNOWN` says the thing does not exist where the principal could have seen it: for
a camera or a device that is only said to an administrator of the top organisation (every
other principal is told "refused", so that probing IDs tells them nothing); for a user or a
token, to any administrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from farmwatch.platform.access.camera_access import CameraAccess
from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.records import (
    ChannelGrant,
    DeviceGrant,
    FarmGrant,
    Grant,
    Principal,
    Role,
)
from farmwatch.platform.access.rules import OrgTree, can_manage, can_view, visible_channels
from farmwatch.platform.access.session_repository import SessionRepository

__all__ = ["AccessGate", "Verdict", "Visibility"]


@dataclass(frozen=True, slots=True)
class Visibility:
    """What one principal may see: devices and cameras by ID (None: every one)."""

    orgs: OrgTree
    devices: frozenset[str] | None
    cameras: frozenset[str] | None


class Verdict(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"
    UNKNOWN = "unknown"


def reaches_everything(principal: Principal, orgs: OrgTree) -> bool:
    """An administrator of the top organisation: every camera and device is theirs."""
    return principal.role is Role.ADMINISTRATOR and orgs.is_root(principal.organisation_id)


class AccessGate:
    def __init__(
        self, directory: DirectoryRepository, cameras: CameraAccess, tokens: SessionRepository
    ) -> None:
        self._directory = directory
        self._cameras = cameras
        self._tokens = tokens

    async def channel(self, principal: Principal, channel_id: str) -> Verdict:
        placements = await self._directory.camera_placements(channel_id)
        orgs = await self._cameras.org_tree()
        if not placements:
            return Verdict.UNKNOWN if reaches_everything(principal, orgs) else Verdict.REFUSED
        grants = await self._cameras.grants(principal)
        if all(can_view(principal, grants, camera, orgs) for camera in placements):
            return Verdict.ALLOWED
        return Verdict.REFUSED

    async def device(self, principal: Principal, device_id: str) -> Verdict:
        orgs = await self._cameras.org_tree()
        if reaches_everything(principal, orgs):
            return Verdict.ALLOWED  # the handler says when there is no such device
        if principal.role is Role.ADMINISTRATOR:
            farm_id = await self._directory.device_farm(device_id)
            farm = None if farm_id is None else await self._directory.farm(farm_id)
            if farm is not None and orgs.is_within(farm.organisation_id, principal.organisation_id):
                return Verdict.ALLOWED
            return Verdict.REFUSED
        cameras = await self._directory.device_cameras(device_id)
        grants = await self._cameras.grants(principal)
        if any(can_view(principal, grants, camera, orgs) for camera in cameras):
            return Verdict.ALLOWED
        return Verdict.REFUSED

    async def user(self, principal: Principal, user_id: int) -> Verdict:
        user = await self._directory.user(user_id)
        if user is None:
            return Verdict.UNKNOWN
        orgs = await self._cameras.org_tree()
        return Verdict.ALLOWED if can_manage(principal, user.organisation_id, orgs) else (
            Verdict.REFUSED
        )  # fmt: skip

    async def token(self, principal: Principal, token_id: int) -> Verdict:
        token = await self._tokens.token(token_id)
        if token is None:
            return Verdict.UNKNOWN
        orgs = await self._cameras.org_tree()
        return Verdict.ALLOWED if can_manage(principal, token.organisation_id, orgs) else (
            Verdict.REFUSED
        )  # fmt: skip

    async def farm(self, principal: Principal, farm_id: int) -> Verdict:
        farm = await self._directory.farm(farm_id)
        orgs = await self._cameras.org_tree()
        if farm is None:
            return Verdict.UNKNOWN if reaches_everything(principal, orgs) else Verdict.REFUSED
        if not orgs.is_within(farm.organisation_id, principal.organisation_id):
            return Verdict.REFUSED
        if principal.role is Role.ADMINISTRATOR:
            return Verdict.ALLOWED
        granted = await self._granted_farms(principal)
        return Verdict.ALLOWED if farm_id in granted else Verdict.REFUSED

    async def visible_farms(self, principal: Principal) -> frozenset[int] | None:
        """The farms `principal` may see and act on (supervision); None: every farm."""
        orgs = await self._cameras.org_tree()
        if reaches_everything(principal, orgs):
            return None
        reach = orgs.subtree(principal.organisation_id)
        in_reach = {farm.id for farm in await self._directory.farms(reach)}
        if principal.role is Role.ADMINISTRATOR:
            return frozenset(in_reach)
        return frozenset(in_reach & await self._granted_farms(principal))

    async def _granted_farms(self, principal: Principal) -> set[int]:
        """The farms a monitor's grants touch: granted whole, or through a device placed on
        the farm, or through a camera of such a device."""
        grants: list[Grant] = await self._cameras.grants(principal)
        farms: set[int] = set()
        devices: set[str] = set()
        channels: set[str] = set()
        for grant in grants:
            match grant.target:
                case FarmGrant(farm_id):
                    farms.add(farm_id)
                case DeviceGrant(device_id):
                    devices.add(device_id)
                case ChannelGrant(channel_id):
                    channels.add(channel_id)
        if devices or channels:
            for camera in await self._directory.cameras():
                if camera.farm_id is not None and (
                    camera.device_id in devices or camera.channel_id in channels
                ):
                    farms.add(camera.farm_id)
            placed = await self._directory.device_farms()
            farms.update(placed[device] for device in devices if device in placed)
        return farms

    async def visible_devices(self, principal: Principal) -> frozenset[str] | None:
        """The devices `principal` may list; None: every device."""
        orgs = await self._cameras.org_tree()
        if reaches_everything(principal, orgs):
            return None
        cameras = await self._directory.cameras()
        seen = visible_channels(principal, await self._cameras.grants(principal), cameras, orgs)
        devices = {camera.device_id for camera in cameras if camera.channel_id in seen}
        if principal.role is Role.ADMINISTRATOR:
            devices.update(
                await self._directory.placed_devices(orgs.subtree(principal.organisation_id))
            )
        return frozenset(devices)

    async def visibility(self, principal: Principal) -> Visibility:
        """The devices and cameras `principal` may see, worked out together (the console's
        tree): the organisations, cameras and grants are read once."""
        orgs = await self._cameras.org_tree()
        if reaches_everything(principal, orgs):
            return Visibility(orgs, None, None)
        cameras = await self._directory.cameras()
        seen = visible_channels(principal, await self._cameras.grants(principal), cameras, orgs)
        devices = {camera.device_id for camera in cameras if camera.channel_id in seen}
        if principal.role is Role.ADMINISTRATOR:
            devices.update(
                await self._directory.placed_devices(orgs.subtree(principal.organisation_id))
            )
        return Visibility(orgs, frozenset(devices), seen)

    async def visible_device_channels(
        self, principal: Principal, device_id: str
    ) -> frozenset[str] | None:
        """The cameras of `device_id` that `principal` may see; None: all of them."""
        orgs = await self._cameras.org_tree()
        if reaches_everything(principal, orgs):
            return None
        cameras = await self._directory.device_cameras(device_id)
        return visible_channels(principal, await self._cameras.grants(principal), cameras, orgs)
