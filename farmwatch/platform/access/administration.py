"""Managing who may use the platform (regulation art. 10: the administrator manages users,
roles and camera grants): organisations, farms, device placement, user accounts, grants.

Every method takes the acting administrator's `Principal` and checks with `rules.py` that
the organisation concerned is theirs or below theirs (`PermissionDenied` otherwise); only a
person's session may manage (not an API token). Each change leaves an audit row, and a
change that should cut access at once (disable, role, password) ends the user's sessions.
`bootstrap_administrator` is the one way in without a principal: `farmwatch create-admin`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from farmwatch.platform.access.camera_access import CameraAccess
from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.hashing_pool import HashingPool
from farmwatch.platform.access.passwords import PasswordIssue, PasswordPolicy
from farmwatch.platform.access.records import (
    Farm,
    Grant,
    GrantTarget,
    Organisation,
    OrgTier,
    Principal,
    Role,
    User,
    normalise_username,
    principal_actor,
    target_label,
)
from farmwatch.platform.access.rules import OrgTree, can_manage, organisation_problem
from farmwatch.platform.access.session_store import SessionStore
from farmwatch.platform.access.token_service import require_person_administrator
from farmwatch.platform.audit import AuditAction, AuditActor, AuditLog, JsonValue
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied

__all__ = ["AccessAdministration", "PasswordRejected"]

Clock = Callable[[], datetime]


class PasswordRejected(InvalidInput):
    """400: the password breaks the policy; `issues` says every way it does."""

    def __init__(self, issues: list[PasswordIssue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues))
        self.issues = issues


class AccessAdministration:
    def __init__(
        self,
        directory: DirectoryRepository,
        sessions: SessionStore,
        cameras: CameraAccess,
        hashing: HashingPool,
        policy: PasswordPolicy,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._directory = directory
        self._sessions = sessions
        self._cameras = cameras
        self._hashing = hashing
        self._policy = policy
        self._audit = audit
        self._clock = clock

    # -- helpers -------------------------------------------------------------------------

    async def _reach(self, admin: Principal, organisation_id: int) -> OrgTree:
        require_person_administrator(admin)
        orgs = await self._cameras.org_tree()
        if orgs.get(organisation_id) is None:
            raise NotFound(f"no organisation {organisation_id}")
        if not can_manage(admin, organisation_id, orgs):
            raise PermissionDenied(f"organisation {organisation_id} is not within your reach")
        return orgs

    async def _managed_user(self, admin: Principal, user_id: int) -> User:
        require_person_administrator(admin)
        user = await self._directory.user(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        await self._reach(admin, user.organisation_id)
        return user

    def _check_password(self, password: str, username: str) -> None:
        issues = self._policy.issues(password, username)
        if issues:
            raise PasswordRejected(issues)

    async def _record(
        self,
        action: AuditAction,
        admin: Principal | None,
        organisation_id: int | None,
        source: str | None,
        detail: dict[str, JsonValue],
    ) -> None:
        actor = AuditActor.system() if admin is None else principal_actor(admin)
        await self._audit.append(
            action, actor, organisation_id=organisation_id, source=source, detail=detail
        )

    # -- the first administrator -----------------------------------------------------------

    async def bootstrap_administrator(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        organisation_name: str | None = None,
        tier: OrgTier = OrgTier.NATIONAL,
    ) -> tuple[User, Organisation]:
        """Create an administrator without a principal (`farmwatch create-admin`). With no
        organisation yet, a top one is created (`organisation_name`, default "national",
        of `tier`); otherwise the administrator joins `organisation_name`, or the top
        organisation when it is not given. Conflict when the username is taken."""
        name = normalise_username(username)
        if name is None:
            raise InvalidInput(
                f"{username!r} is not a username: 2 to 64 characters of a-z, 0-9, '.', '_', "
                "'@', '-', starting with a letter or digit"
            )
        if await self._directory.user_by_username(name) is not None:
            raise Conflict(f"user {name!r} exists")
        self._check_password(password, name)
        now = self._clock()
        organisation = await self._bootstrap_organisation(organisation_name, tier, now)
        password_hash = await self._hashing.hash(password)
        user = await self._directory.add_user(
            name, display_name or name, organisation.id, Role.ADMINISTRATOR, password_hash, at=now
        )
        await self._record(
            AuditAction.USER_CHANGE, None, organisation.id, None,
            {"change": "created", "user_id": user.id, "username": name,
             "role": Role.ADMINISTRATOR.value, "via": "create-admin"},
        )  # fmt: skip
        return user, organisation

    async def _bootstrap_organisation(
        self, name: str | None, tier: OrgTier, now: datetime
    ) -> Organisation:
        orgs = OrgTree(await self._directory.organisations())
        if not len(orgs):
            organisation = await self._directory.add_organisation(
                name or "national", tier, None, at=now
            )
            await self._record(
                AuditAction.CONFIG_CHANGE, None, organisation.id, None,
                {"change": "organisation_created", "name": organisation.name,
                 "tier": tier.value, "via": "create-admin"},
            )  # fmt: skip
            return organisation
        if name is None:
            return orgs.roots()[0]
        for organisation in await self._directory.organisations():
            if organisation.name == name:
                return organisation
        raise NotFound(f"no organisation named {name!r}")

    # -- organisations, farms, devices ---------------------------------------------------

    async def create_organisation(
        self, admin: Principal, name: str, tier: OrgTier, parent_id: int, *, source: str | None
    ) -> Organisation:
        """A bureau under a national organisation or a branch under a bureau, below `admin`."""
        orgs = await self._reach(admin, parent_id)
        problem = organisation_problem(tier, parent_id, orgs)
        if problem:
            raise InvalidInput(problem)
        if not name.strip():
            raise InvalidInput("an organisation needs a name")
        organisation = await self._directory.add_organisation(
            name.strip(), tier, parent_id, at=self._clock()
        )
        await self._record(
            AuditAction.CONFIG_CHANGE, admin, organisation.id, source,
            {"change": "organisation_created", "name": organisation.name, "tier": tier.value,
             "parent_id": parent_id},
        )  # fmt: skip
        return organisation

    async def create_farm(
        self,
        admin: Principal,
        name: str,
        filing_number: str,
        organisation_id: int,
        *,
        source: str | None,
    ) -> Farm:
        await self._reach(admin, organisation_id)
        if not name.strip() or not filing_number.strip():
            raise InvalidInput("a farm needs a name and a filing number (备案编号)")
        farm = await self._directory.add_farm(
            name.strip(), filing_number.strip(), organisation_id, at=self._clock()
        )
        await self._record(
            AuditAction.CONFIG_CHANGE, admin, organisation_id, source,
            {"change": "farm_created", "farm_id": farm.id, "name": farm.name,
             "filing_number": farm.filing_number},
        )  # fmt: skip
        return farm

    async def place_device(
        self, admin: Principal, device_id: str, farm_id: int | None, *, source: str | None
    ) -> None:
        """Put a device (its cameras) on a farm of `admin`'s reach, or (None) off its farm."""
        require_person_administrator(admin)
        for current in (await self._directory.device_farm(device_id), farm_id):
            if current is None:
                continue
            farm = await self._directory.farm(current)
            if farm is None:
                raise NotFound(f"no farm {current}")
            await self._reach(admin, farm.organisation_id)
        await self._directory.place_device(device_id, farm_id, at=self._clock())
        await self._record(
            AuditAction.CONFIG_CHANGE, admin, admin.organisation_id, source,
            {"change": "device_placed", "device_id": device_id, "farm_id": farm_id},
        )  # fmt: skip

    async def organisations(self, admin: Principal) -> list[Organisation]:
        """`admin`'s organisation and those below it."""
        require_person_administrator(admin)
        orgs = await self._cameras.org_tree()
        reach = orgs.subtree(admin.organisation_id)
        return [org for org in await self._directory.organisations() if org.id in reach]

    async def farms(self, admin: Principal) -> list[Farm]:
        """The farms of `admin`'s organisation and of those below it."""
        require_person_administrator(admin)
        orgs = await self._cameras.org_tree()
        return await self._directory.farms(orgs.subtree(admin.organisation_id))

    # -- users ---------------------------------------------------------------------------

    async def user(self, admin: Principal, user_id: int) -> tuple[User, list[Grant]]:
        """One user of `admin`'s reach with their camera grants."""
        user = await self._managed_user(admin, user_id)
        return user, await self._directory.user_grants(user_id)

    async def users(self, admin: Principal) -> list[User]:
        """The users of `admin`'s organisation and of those below it."""
        require_person_administrator(admin)
        orgs = await self._cameras.org_tree()
        return await self._directory.users(orgs.subtree(admin.organisation_id))

    async def create_user(
        self,
        admin: Principal,
        username: str,
        display_name: str,
        organisation_id: int,
        role: Role,
        password: str,
        *,
        source: str | None,
    ) -> User:
        await self._reach(admin, organisation_id)
        name = normalise_username(username)
        if name is None:
            raise InvalidInput(f"{username!r} is not a username")
        self._check_password(password, name)
        password_hash = await self._hashing.hash(password)
        user = await self._directory.add_user(
            name, display_name.strip() or name, organisation_id, role, password_hash,
            at=self._clock(),
        )  # fmt: skip
        await self._record(
            AuditAction.USER_CHANGE, admin, organisation_id, source,
            {"change": "created", "user_id": user.id, "username": name, "role": role.value},
        )  # fmt: skip
        return user

    async def set_role(
        self, admin: Principal, user_id: int, role: Role, *, source: str | None
    ) -> User:
        user = await self._managed_user(admin, user_id)
        if user.id == admin.user_id:
            raise PermissionDenied("an administrator cannot change their own role")
        updated = await self._directory.update_user(user_id, at=self._clock(), role=role)
        await self._sessions.close_user_sessions(user_id)
        await self._record(
            AuditAction.ROLE_CHANGE, admin, user.organisation_id, source,
            {"user_id": user_id, "username": user.username, "from": user.role.value,
             "to": role.value},
        )  # fmt: skip
        return updated or user

    async def set_enabled(
        self, admin: Principal, user_id: int, enabled: bool, *, source: str | None
    ) -> User:
        user = await self._managed_user(admin, user_id)
        if user.id == admin.user_id:
            raise PermissionDenied("an administrator cannot disable their own account")
        updated = await self._directory.update_user(user_id, at=self._clock(), is_enabled=enabled)
        if not enabled:
            await self._sessions.close_user_sessions(user_id)
        await self._record(
            AuditAction.USER_CHANGE, admin, user.organisation_id, source,
            {"change": "enabled" if enabled else "disabled", "user_id": user_id,
             "username": user.username},
        )  # fmt: skip
        return updated or user

    async def unlock(self, admin: Principal, user_id: int, *, source: str | None) -> User:
        """Lift a lockout (and the count of wrong passwords) before its delay runs out."""
        user = await self._managed_user(admin, user_id)
        updated = await self._directory.update_user(
            user_id, at=self._clock(), failed_logins=0, locked_until=None
        )
        await self._record(
            AuditAction.USER_CHANGE, admin, user.organisation_id, source,
            {"change": "unlocked", "user_id": user_id, "username": user.username},
        )  # fmt: skip
        return updated or user

    async def set_password(
        self, admin: Principal, user_id: int, password: str, *, source: str | None
    ) -> User:
        """An administrator sets another user's password (or their own); the user's
        sessions end."""
        user = await self._managed_user(admin, user_id)
        self._check_password(password, user.username)
        password_hash = await self._hashing.hash(password)
        updated = await self._directory.update_user(
            user_id, at=self._clock(), password_hash=password_hash
        )
        await self._sessions.close_user_sessions(user_id)
        await self._record(
            AuditAction.USER_CHANGE, admin, user.organisation_id, source,
            {"change": "password_set", "user_id": user_id, "username": user.username},
        )  # fmt: skip
        return updated or user

    # -- grants --------------------------------------------------------------------------

    async def grant(
        self, admin: Principal, user_id: int, target: GrantTarget, *, source: str | None
    ) -> bool:
        """Give a monitor a camera, a device's cameras or a farm's; False if they had it."""
        user = await self._granted_user(admin, user_id, target)
        added = await self._directory.add_user_grant(
            user_id, target, at=self._clock(), by=admin.user_id
        )
        await self._record_grant(
            admin, user, target, "granted" if added else "granted_again", source
        )
        return added

    async def revoke_grant(
        self, admin: Principal, user_id: int, target: GrantTarget, *, source: str | None
    ) -> bool:
        user = await self._managed_user(admin, user_id)
        removed = await self._directory.remove_user_grant(user_id, target)
        await self._record_grant(admin, user, target, "revoked" if removed else "not_held", source)
        return removed

    async def _granted_user(self, admin: Principal, user_id: int, target: GrantTarget) -> User:
        user = await self._managed_user(admin, user_id)
        if user.role is not Role.MONITOR:
            raise InvalidInput("grants are for monitors; an administrator sees their organisation")
        if not await self._cameras.target_in_reach(admin, target):
            raise PermissionDenied(f"{target_label(target)} is not within your reach")
        return user

    async def _record_grant(
        self, admin: Principal, user: User, target: GrantTarget, change: str, source: str | None
    ) -> None:
        grant = Grant(target, self._clock(), admin.user_id)
        await self._record(
            AuditAction.GRANT_CHANGE, admin, user.organisation_id, source,
            {"change": change, "user_id": user.id, "username": user.username,
             "kind": grant.kind, "target": grant.target_text},
        )  # fmt: skip
