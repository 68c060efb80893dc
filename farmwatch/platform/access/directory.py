"""Persistence of who is who: organisations, farms and their devices, users, user grants;
and where each camera is (channel → device → farm → organisation).

Like the other repositories: built with the injected `async_sessionmaker` (and an optional
read-only one), each public method is one unit of work, records go out frozen
(`records.py`), and no clock is read here. A duplicate name raises `Conflict`.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.access.access_cache import AccessCache
from farmwatch.platform.access.records import (
    CameraPlacement,
    Farm,
    Grant,
    GrantTarget,
    Organisation,
    OrgTier,
    Role,
    User,
    grant_target,
)
from farmwatch.platform.errors import Conflict
from farmwatch.platform.models import (
    ChannelRow,
    FarmDeviceRow,
    FarmRow,
    OrganisationRow,
    UserGrantRow,
    UserRow,
)
from farmwatch.platform.records import ItemKind

__all__ = ["DirectoryRepository", "grant_from_row", "grant_values"]

ORGANISATIONS: Table = OrganisationRow.__table__  # type: ignore[assignment]
FARMS: Table = FarmRow.__table__  # type: ignore[assignment]
FARM_DEVICES: Table = FarmDeviceRow.__table__  # type: ignore[assignment]
USERS: Table = UserRow.__table__  # type: ignore[assignment]
USER_GRANTS: Table = UserGrantRow.__table__  # type: ignore[assignment]
CHANNELS: Table = ChannelRow.__table__  # type: ignore[assignment]


def _organisation(row: Any) -> Organisation:
    return Organisation(row.id, row.name, OrgTier(row.tier), row.parent_id, row.created_at)


def _farm(row: Any) -> Farm:
    return Farm(row.id, row.name, row.filing_number, row.organisation_id, row.created_at)


def _user(row: Any) -> User:
    return User(
        row.id, row.username, row.display_name, row.organisation_id, Role(row.role),
        row.password_hash, row.is_enabled, row.failed_logins, row.locked_until, row.created_at,
        row.updated_at,
    )  # fmt: skip


def grant_from_row(row: Any) -> Grant:
    return Grant(grant_target(row.kind, row.target), row.created_at, row.created_by)


def grant_values(target: GrantTarget, at: datetime, by: int | None) -> dict[str, Any]:
    grant = Grant(target, at, by)
    return {"kind": grant.kind, "target": grant.target_text, "created_at": at, "created_by": by}


class DirectoryRepository:
    """`cache` keeps the reads every request's authorisation makes (`AccessCache`); every
    write here forgets it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        cache: AccessCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._cache = cache or AccessCache.disabled()

    def writing(self) -> AbstractAsyncContextManager[None]:
        """Around a write to these tables made elsewhere (the farm register writes `farms`):
        what is cached is forgotten when it is over."""
        return self._cache.writing()

    async def _insert(self, table: Table, values: dict[str, Any], what: str) -> Any:
        try:
            async with self._cache.writing(), self._sessions.begin() as session:
                result = await session.execute(insert(table).values(values).returning(table))
                return result.one()
        except IntegrityError as error:
            raise Conflict(what) from error

    # -- organisations and farms ---------------------------------------------------------

    async def organisations(self) -> list[Organisation]:
        return list(await self._cache.get(("organisations",), self._organisations))

    async def _organisations(self) -> tuple[Organisation, ...]:
        async with self._read_sessions() as session:
            rows = await session.execute(select(ORGANISATIONS).order_by(ORGANISATIONS.c.id))
            return tuple(_organisation(row) for row in rows)

    async def add_organisation(
        self, name: str, tier: OrgTier, parent_id: int | None, *, at: datetime
    ) -> Organisation:
        values = {"name": name, "tier": tier.value, "parent_id": parent_id, "created_at": at}
        row = await self._insert(ORGANISATIONS, values, f"an organisation named {name!r} exists")
        return _organisation(row)

    async def farms(self, organisation_ids: Collection[int] | None = None) -> list[Farm]:
        statement = select(FARMS).order_by(FARMS.c.id)
        if organisation_ids is not None:
            statement = statement.where(FARMS.c.organisation_id.in_(organisation_ids))
        async with self._read_sessions() as session:
            return [_farm(row) for row in await session.execute(statement)]

    async def farm(self, farm_id: int) -> Farm | None:
        return await self._cache.get(("farm", farm_id), lambda: self._farm(farm_id))

    async def _farm(self, farm_id: int) -> Farm | None:
        async with self._read_sessions() as session:
            row = (await session.execute(select(FARMS).where(FARMS.c.id == farm_id))).one_or_none()
            return None if row is None else _farm(row)

    async def add_farm(
        self, name: str, filing_number: str, organisation_id: int, *, at: datetime
    ) -> Farm:
        values = {
            "name": name, "filing_number": filing_number, "organisation_id": organisation_id,
            "created_at": at,
        }  # fmt: skip
        row = await self._insert(FARMS, values, f"a farm with filing number {filing_number} exists")
        return _farm(row)

    async def place_device(self, device_id: str, farm_id: int | None, *, at: datetime) -> None:
        """Put `device_id` (and so its channels) on farm `farm_id`; None takes it off."""
        async with self._cache.writing(), self._sessions.begin() as session:
            await session.execute(delete(FARM_DEVICES).where(FARM_DEVICES.c.device_id == device_id))
            if farm_id is not None:
                await session.execute(
                    insert(FARM_DEVICES).values(device_id=device_id, farm_id=farm_id, placed_at=at)
                )

    async def device_farm(self, device_id: str) -> int | None:
        key = ("device_farm", device_id)
        return await self._cache.get(key, lambda: self._device_farm(device_id))

    async def _device_farm(self, device_id: str) -> int | None:
        statement = select(FARM_DEVICES.c.farm_id).where(FARM_DEVICES.c.device_id == device_id)
        async with self._read_sessions() as session:
            return await session.scalar(statement)

    async def device_farms(self) -> dict[str, int]:
        """Every placed device's farm, by device ID (the console's tree)."""
        statement = select(FARM_DEVICES.c.device_id, FARM_DEVICES.c.farm_id)
        async with self._read_sessions() as session:
            return {device_id: farm_id for device_id, farm_id in await session.execute(statement)}

    def _cameras(self) -> Any:
        return (
            select(
                CHANNELS.c.channel_id,
                CHANNELS.c.device_id,
                FARMS.c.id.label("farm_id"),
                FARMS.c.organisation_id,
            )
            .select_from(CHANNELS)
            .outerjoin(FARM_DEVICES, FARM_DEVICES.c.device_id == CHANNELS.c.device_id)
            .outerjoin(FARMS, FARMS.c.id == FARM_DEVICES.c.farm_id)
            .where(CHANNELS.c.kind == ItemKind.CHANNEL)
            .order_by(CHANNELS.c.device_id, CHANNELS.c.channel_id)
        )

    async def cameras(self) -> list[CameraPlacement]:
        """Every camera (catalog item of kind channel) with its device, farm, organisation."""
        return list(await self._cache.get(("cameras",), lambda: self._placements(None)))

    async def device_cameras(self, device_id: str) -> list[CameraPlacement]:
        """The cameras of one device (its catalog items of kind channel), placed."""
        statement = self._cameras().where(CHANNELS.c.device_id == device_id)
        key = ("device_cameras", device_id)
        return list(await self._cache.get(key, lambda: self._placements(statement)))

    async def _placements(self, statement: Any | None) -> tuple[CameraPlacement, ...]:
        async with self._read_sessions() as session:
            rows = await session.execute(self._cameras() if statement is None else statement)
            return tuple(CameraPlacement(*row) for row in rows)

    async def placed_devices(self, organisation_ids: Collection[int]) -> list[str]:
        """The devices placed on farms of these organisations (cameras or not yet)."""
        statement = (
            select(FARM_DEVICES.c.device_id)
            .join(FARMS, FARMS.c.id == FARM_DEVICES.c.farm_id)
            .where(FARMS.c.organisation_id.in_(organisation_ids))
            .order_by(FARM_DEVICES.c.device_id)
        )
        async with self._read_sessions() as session:
            return list((await session.scalars(statement)).all())

    async def camera_placements(self, channel_id: str) -> list[CameraPlacement]:
        """Where channel `channel_id` is: one placement per device reporting it (usually
        one; an IPC registered itself and through an NVR gives two)."""
        statement = self._cameras().where(CHANNELS.c.channel_id == channel_id)
        key = ("camera_placements", channel_id)
        return list(await self._cache.get(key, lambda: self._placements(statement)))

    # -- users ---------------------------------------------------------------------------

    async def add_user(
        self,
        username: str,
        display_name: str,
        organisation_id: int,
        role: Role,
        password_hash: str,
        *,
        at: datetime,
    ) -> User:
        values = {
            "username": username, "display_name": display_name,
            "organisation_id": organisation_id, "role": role.value,
            "password_hash": password_hash, "is_enabled": True, "failed_logins": 0,
            "locked_until": None, "created_at": at, "updated_at": at,
        }  # fmt: skip
        return _user(await self._insert(USERS, values, f"user {username!r} exists"))

    async def user(self, user_id: int) -> User | None:
        return await self._cache.get(("user", user_id), lambda: self._user(user_id))

    async def _user(self, user_id: int) -> User | None:
        async with self._read_sessions() as session:
            row = (await session.execute(select(USERS).where(USERS.c.id == user_id))).one_or_none()
            return None if row is None else _user(row)

    async def user_by_username(self, username: str) -> User | None:
        statement = select(USERS).where(USERS.c.username == username)
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).one_or_none()
            return None if row is None else _user(row)

    async def users(self, organisation_ids: Collection[int] | None = None) -> list[User]:
        statement = select(USERS).order_by(USERS.c.id)
        if organisation_ids is not None:
            statement = statement.where(USERS.c.organisation_id.in_(organisation_ids))
        async with self._read_sessions() as session:
            return [_user(row) for row in await session.execute(statement)]

    async def count_users(self) -> int:
        async with self._read_sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(USERS)) or 0)

    async def update_user(self, user_id: int, *, at: datetime, **changes: Any) -> User | None:
        """Set columns of one user (`role`, `display_name`, `is_enabled`, `password_hash`,
        `locked_until`, `failed_logins`); None when there is no such user."""
        values = {k: v.value if isinstance(v, Role) else v for k, v in changes.items()}
        statement = update(USERS).where(USERS.c.id == user_id).values(**values, updated_at=at)
        async with self._cache.writing(), self._sessions.begin() as session:
            row = (await session.execute(statement.returning(USERS))).one_or_none()
            return None if row is None else _user(row)

    async def record_failed_login(
        self, user_id: int, *, at: datetime, lock_after: int, lock_for: timedelta
    ) -> datetime | None:
        """Count one wrong password; at the `lock_after`-th in a row the account locks until
        `at + lock_for` (returned) and the count starts again."""
        # Only this user's row changes: no reason to forget the rest.
        async with self._cache.writing(("user", user_id)), self._sessions.begin() as session:
            counted = (
                update(USERS)
                .where(USERS.c.id == user_id)
                .values(failed_logins=USERS.c.failed_logins + 1)
                .returning(USERS.c.failed_logins)
            )
            failures = (await session.execute(counted)).scalar_one_or_none()
            if failures is None or failures < lock_after:
                return None
            until = at + lock_for
            await session.execute(
                update(USERS)
                .where(USERS.c.id == user_id)
                .values(failed_logins=0, locked_until=until, updated_at=at)
            )
            return until

    # -- user grants ---------------------------------------------------------------------

    async def user_grants(self, user_id: int) -> list[Grant]:
        key = ("user_grants", user_id)
        return list(await self._cache.get(key, lambda: self._user_grants(user_id)))

    async def _user_grants(self, user_id: int) -> tuple[Grant, ...]:
        statement = (
            select(USER_GRANTS)
            .where(USER_GRANTS.c.user_id == user_id)
            .order_by(USER_GRANTS.c.kind, USER_GRANTS.c.target)
        )
        async with self._read_sessions() as session:
            return tuple(grant_from_row(row) for row in await session.execute(statement))

    async def add_user_grant(
        self, user_id: int, target: GrantTarget, *, at: datetime, by: int | None
    ) -> bool:
        """Grant `target` to the user; False when it was granted already."""
        values = {"user_id": user_id, **grant_values(target, at, by)}
        try:
            async with self._cache.writing(), self._sessions.begin() as session:
                await session.execute(insert(USER_GRANTS).values(values))
        except IntegrityError:
            return False
        return True

    async def remove_user_grant(self, user_id: int, target: GrantTarget) -> bool:
        grant = Grant(target, datetime.min, None)
        statement = delete(USER_GRANTS).where(
            USER_GRANTS.c.user_id == user_id,
            USER_GRANTS.c.kind == grant.kind,
            USER_GRANTS.c.target == grant.target_text,
        )
        async with self._cache.writing(), self._sessions.begin() as session:
            removed = await session.execute(statement.returning(USER_GRANTS.c.user_id))
            return removed.first() is not None
