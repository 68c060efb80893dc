"""Which cameras a principal may see, from the stored grants and placements (the rules are
`rules.py`); what the web's authorisation middleware and media routes ask per request.
"""

from __future__ import annotations

from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.records import (
    CameraPlacement,
    ChannelGrant,
    DeviceGrant,
    FarmGrant,
    Grant,
    GrantTarget,
    Principal,
    PrincipalKind,
    Role,
)
from farmwatch.platform.access.rules import OrgTree, Subject, can_view, visible_channels
from farmwatch.platform.access.session_repository import SessionRepository

__all__ = ["CameraAccess"]


class CameraAccess:
    def __init__(self, directory: DirectoryRepository, sessions: SessionRepository) -> None:
        self._directory = directory
        self._sessions = sessions

    async def org_tree(self) -> OrgTree:
        return OrgTree(await self._directory.organisations())

    async def grants(self, principal: Principal) -> list[Grant]:
        """The camera grants `principal` holds (none needed by an administrator)."""
        if principal.role is Role.ADMINISTRATOR:
            return []
        if principal.kind is PrincipalKind.TOKEN and principal.token_id is not None:
            return await self._sessions.token_grants(principal.token_id)
        if principal.user_id is not None:
            return await self._directory.user_grants(principal.user_id)
        return []

    async def visible_channels(self, principal: Principal) -> frozenset[str]:
        """Every channel ID `principal` may see (the console's tree, channel lists)."""
        cameras = await self._directory.cameras()
        return visible_channels(
            principal, await self.grants(principal), cameras, await self.org_tree()
        )

    async def can_view(self, principal: Principal, channel_id: str) -> bool:
        """Whether `principal` may see channel `channel_id` (live, recordings, downloads,
        clips). A channel ID reported by several devices must be visible through each."""
        placements = await self._directory.camera_placements(channel_id)
        if not placements:
            return False
        grants, orgs = await self.grants(principal), await self.org_tree()
        return all(can_view(principal, grants, camera, orgs) for camera in placements)

    async def target_in_reach(self, subject: Subject, target: GrantTarget) -> bool:
        """Whether an administrator `subject` may grant `target`: a farm of their subtree,
        or a device or channel on one (on no farm yet: only from a top organisation)."""
        orgs = await self.org_tree()
        match target:
            case FarmGrant(farm_id):
                farm = await self._directory.farm(farm_id)
                return farm is not None and orgs.is_within(
                    farm.organisation_id, subject.organisation_id
                )
            case DeviceGrant(device_id):
                placed_on = await self._directory.device_farm(device_id)
                farm = None if placed_on is None else await self._directory.farm(placed_on)
                owner = None if farm is None else farm.organisation_id
                placements = [CameraPlacement("", device_id, placed_on, owner)]
            case ChannelGrant(channel_id):
                placements = await self._directory.camera_placements(channel_id) or [
                    CameraPlacement(channel_id, "", None, None)
                ]
        administrator = _AsAdministrator(subject.organisation_id)
        return all(can_view(administrator, [], camera, orgs) for camera in placements)


class _AsAdministrator:
    """The reach of an administrator of an organisation (for grant checks)."""

    role = Role.ADMINISTRATOR

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id
