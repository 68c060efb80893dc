"""Who may do what (regulation art. 8–10), as pure functions over the organisation tree.

- An administrator manages users, grants and farms of their own organisation and of every
  organisation below it (`can_manage`); a monitor manages nothing.
- An administrator sees every camera of the farms in their subtree; a monitor (and a
  monitor-role API token) sees only the cameras granted to them, one by one, by device or
  by whole farm (`can_view`, `visible_channels`), and only while the camera is within their
  own organisation's subtree, so a grant left behind when a farm moves elsewhere shows
  nothing.
- A camera whose device is on no farm yet belongs to the installation: administrators of a
  top organisation see it, and a grant can name it.
- Organisations nest national > bureau > branch; a top organisation (no parent) may be of
  any tier (a bureau's or a branch's own installation has that tier at the top).

No I/O, no clock: callers pass what they loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from farmwatch.platform.access.records import (
    CameraPlacement,
    ChannelGrant,
    DeviceGrant,
    FarmGrant,
    Grant,
    Organisation,
    OrgTier,
    Role,
)

__all__ = [
    "OrgTree",
    "Subject",
    "can_manage",
    "can_view",
    "grant_covers",
    "organisation_problem",
    "visible_channels",
]


class Subject(Protocol):
    """Anyone the rules judge: a `User` or a `Principal`."""

    @property
    def role(self) -> Role: ...

    @property
    def organisation_id(self) -> int: ...


class OrgTree:
    """The organisations of one installation, with their parent links."""

    def __init__(self, organisations: Iterable[Organisation]) -> None:
        self._by_id = {org.id: org for org in organisations}
        self._children: dict[int, list[int]] = {}
        for org in self._by_id.values():
            if org.parent_id is not None:
                self._children.setdefault(org.parent_id, []).append(org.id)

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, org_id: int) -> Organisation | None:
        return self._by_id.get(org_id)

    def roots(self) -> list[Organisation]:
        return sorted(
            (org for org in self._by_id.values() if org.parent_id is None), key=lambda o: o.id
        )

    def is_root(self, org_id: int) -> bool:
        org = self._by_id.get(org_id)
        return org is not None and org.parent_id is None

    def subtree(self, org_id: int) -> frozenset[int]:
        """`org_id` and every organisation below it (empty for an unknown ID)."""
        if org_id not in self._by_id:
            return frozenset()
        found, pending = {org_id}, [org_id]
        while pending:
            for child in self._children.get(pending.pop(), ()):
                if child not in found:
                    found.add(child)
                    pending.append(child)
        return frozenset(found)

    def is_within(self, org_id: int, ancestor_id: int) -> bool:
        """Whether `org_id` is `ancestor_id` or below it."""
        seen: set[int] = set()
        current = self._by_id.get(org_id)
        while current is not None and current.id not in seen:
            if current.id == ancestor_id:
                return True
            seen.add(current.id)
            current = None if current.parent_id is None else self._by_id.get(current.parent_id)
        return False


def organisation_problem(tier: OrgTier, parent_id: int | None, orgs: OrgTree) -> str:
    """Why an organisation of `tier` cannot be created under `parent_id` ('' when it can)."""
    if parent_id is None:
        return "" if not orgs.roots() else "there is a top organisation already: name a parent"
    parent = orgs.get(parent_id)
    if parent is None:
        return f"no organisation {parent_id}"
    expected = tier.parent_tier
    if parent.tier is not expected:
        below = {OrgTier.NATIONAL: "bureau", OrgTier.BUREAU: "branch"}.get(parent.tier)
        allowed = f"only a {below}" if below else "nothing"
        return f"a {parent.tier.value} ({parent.name}) can hold {allowed}, not a {tier.value}"
    return ""


def can_manage(admin: Subject, target_org: int, orgs: OrgTree) -> bool:
    """Whether `admin` may manage users, grants and farms of organisation `target_org`."""
    return admin.role is Role.ADMINISTRATOR and orgs.is_within(target_org, admin.organisation_id)


def _is_in_reach(subject: Subject, camera: CameraPlacement, orgs: OrgTree) -> bool:
    if camera.organisation_id is None:
        return orgs.is_root(subject.organisation_id)
    return orgs.is_within(camera.organisation_id, subject.organisation_id)


def grant_covers(grant: Grant, camera: CameraPlacement) -> bool:
    match grant.target:
        case ChannelGrant(channel_id):
            return camera.channel_id == channel_id
        case DeviceGrant(device_id):
            return camera.device_id == device_id
        case FarmGrant(farm_id):
            return camera.farm_id == farm_id


def can_view(
    subject: Subject, grants: Iterable[Grant], camera: CameraPlacement, orgs: OrgTree
) -> bool:
    """Whether `subject` (holding `grants`) may see `camera`: live, recordings, downloads."""
    if not _is_in_reach(subject, camera, orgs):
        return False
    if subject.role is Role.ADMINISTRATOR:
        return True
    return any(grant_covers(grant, camera) for grant in grants)


def visible_channels(
    subject: Subject, grants: Iterable[Grant], cameras: Iterable[CameraPlacement], orgs: OrgTree
) -> frozenset[str]:
    """The channel IDs among `cameras` that `subject` may see (as `can_view`, with the
    subtree worked out once)."""
    reach = orgs.subtree(subject.organisation_id)
    owns_unplaced = orgs.is_root(subject.organisation_id)
    held = tuple(grants)
    is_administrator = subject.role is Role.ADMINISTRATOR
    return frozenset(
        camera.channel_id
        for camera in cameras
        if (owns_unplaced if camera.organisation_id is None else camera.organisation_id in reach)
        and (is_administrator or any(grant_covers(grant, camera) for grant in held))
    )
