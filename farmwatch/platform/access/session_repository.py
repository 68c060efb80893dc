"""Persistence of credentials in use: console login sessions and API tokens with their
grants. Only digests of the secrets are stored (`credentials.py`). One unit of work per
method; no clock read here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.access.access_cache import AccessCache
from farmwatch.platform.access.directory import grant_from_row, grant_values
from farmwatch.platform.access.records import ApiToken, Grant, GrantTarget, LoginSession, Role
from farmwatch.platform.models import ApiTokenRow, LoginSessionRow, TokenGrantRow

__all__ = ["SessionRepository"]

SESSIONS: Table = LoginSessionRow.__table__  # type: ignore[assignment]
TOKENS: Table = ApiTokenRow.__table__  # type: ignore[assignment]
TOKEN_GRANTS: Table = TokenGrantRow.__table__  # type: ignore[assignment]


def _session(row: Any) -> LoginSession:
    return LoginSession(
        row.id_hash, row.user_id, row.created_at, row.last_seen_at, row.expires_at,
        row.csrf_token, row.source,
    )  # fmt: skip


def _token(row: Any) -> ApiToken:
    return ApiToken(
        row.id, row.name, Role(row.role), row.organisation_id, row.created_by, row.created_at,
        row.expires_at, row.last_used_at, row.revoked_at,
    )  # fmt: skip


def _seen(login: LoginSession | None, at: datetime) -> LoginSession | None:
    return None if login is None else replace(login, last_seen_at=at)


class SessionRepository:
    """`cache` keeps the session, token and token-grant reads of every request
    (`AccessCache`, shared with the `DirectoryRepository`); a write here forgets it, except
    the last-seen and last-used times, which are set in the kept entry."""

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

    # -- login sessions ------------------------------------------------------------------

    async def add_session(self, login: LoginSession) -> None:
        values = {
            "id_hash": login.id_hash, "user_id": login.user_id, "created_at": login.created_at,
            "last_seen_at": login.last_seen_at, "expires_at": login.expires_at,
            "csrf_token": login.csrf_token, "source": login.source,
        }  # fmt: skip
        async with self._sessions.begin() as session:
            await session.execute(insert(SESSIONS).values(values))

    async def session(self, id_hash: str) -> LoginSession | None:
        return await self._cache.get(("session", id_hash), lambda: self._session(id_hash))

    async def _session(self, id_hash: str) -> LoginSession | None:
        statement = select(SESSIONS).where(SESSIONS.c.id_hash == id_hash)
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).one_or_none()
            return None if row is None else _session(row)

    async def user_sessions(self, user_id: int) -> list[LoginSession]:
        statement = (
            select(SESSIONS).where(SESSIONS.c.user_id == user_id).order_by(SESSIONS.c.created_at)
        )
        async with self._read_sessions() as session:
            return [_session(row) for row in await session.execute(statement)]

    async def touch_session(self, id_hash: str, at: datetime) -> None:
        statement = update(SESSIONS).where(SESSIONS.c.id_hash == id_hash).values(last_seen_at=at)
        async with self._sessions.begin() as session:
            await session.execute(statement)
        self._cache.update(("session", id_hash), lambda kept: _seen(kept, at))

    async def delete_session(self, id_hash: str) -> LoginSession | None:
        """Remove one session; what it was, or None when there was none."""
        statement = delete(SESSIONS).where(SESSIONS.c.id_hash == id_hash).returning(SESSIONS)
        async with self._cache.writing(), self._sessions.begin() as session:
            row = (await session.execute(statement)).one_or_none()
            return None if row is None else _session(row)

    async def delete_user_sessions(self, user_id: int) -> int:
        statement = delete(SESSIONS).where(SESSIONS.c.user_id == user_id)
        async with self._cache.writing(), self._sessions.begin() as session:
            return len((await session.execute(statement.returning(SESSIONS.c.id_hash))).all())

    async def delete_expired_sessions(self, *, now: datetime, idle_before: datetime) -> int:
        """Remove sessions past their absolute expiry or last seen before `idle_before`."""
        statement = delete(SESSIONS).where(
            or_(SESSIONS.c.expires_at <= now, SESSIONS.c.last_seen_at <= idle_before)
        )
        async with self._cache.writing(), self._sessions.begin() as session:
            return len((await session.execute(statement.returning(SESSIONS.c.id_hash))).all())

    # -- API tokens ----------------------------------------------------------------------

    async def add_token(
        self,
        name: str,
        token_hash: str,
        role: Role,
        organisation_id: int,
        grants: Iterable[GrantTarget],
        *,
        created_by: int | None,
        at: datetime,
        expires_at: datetime | None,
    ) -> ApiToken:
        values = {
            "name": name, "token_hash": token_hash, "role": role.value,
            "organisation_id": organisation_id, "created_by": created_by, "created_at": at,
            "expires_at": expires_at, "last_used_at": None, "revoked_at": None,
        }  # fmt: skip
        async with self._cache.writing(), self._sessions.begin() as session:
            row = (await session.execute(insert(TOKENS).values(values).returning(TOKENS))).one()
            rows = [{"token_id": row.id, **grant_values(t, at, created_by)} for t in set(grants)]
            if rows:
                await session.execute(insert(TOKEN_GRANTS), rows)
            return _token(row)

    async def token(self, token_id: int) -> ApiToken | None:
        return await self._cache.get(("token", token_id), lambda: self._token(token_id))

    async def _token(self, token_id: int) -> ApiToken | None:
        async with self._read_sessions() as session:
            statement = select(TOKENS).where(TOKENS.c.id == token_id)
            row = (await session.execute(statement)).one_or_none()
            return None if row is None else _token(row)

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        key = ("token_by_hash", token_hash)
        return await self._cache.get(key, lambda: self._token_by_hash(token_hash))

    async def _token_by_hash(self, token_hash: str) -> ApiToken | None:
        async with self._read_sessions() as session:
            statement = select(TOKENS).where(TOKENS.c.token_hash == token_hash)
            row = (await session.execute(statement)).one_or_none()
            return None if row is None else _token(row)

    async def tokens(self, organisation_ids: Collection[int] | None = None) -> list[ApiToken]:
        statement = select(TOKENS).order_by(TOKENS.c.id)
        if organisation_ids is not None:
            statement = statement.where(TOKENS.c.organisation_id.in_(organisation_ids))
        async with self._read_sessions() as session:
            return [_token(row) for row in await session.execute(statement)]

    async def touch_token(self, token_id: int, at: datetime) -> None:
        statement = update(TOKENS).where(TOKENS.c.id == token_id).values(last_used_at=at)
        async with self._cache.writing(), self._sessions.begin() as session:
            await session.execute(statement)

    async def revoke_token(self, token_id: int, at: datetime) -> ApiToken | None:
        """Mark the token revoked (kept for the audit trail); None when there is none."""
        statement = (
            update(TOKENS)
            .where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(TOKENS)
        )
        async with self._cache.writing(), self._sessions.begin() as session:
            row = (await session.execute(statement)).one_or_none()
        return _token(row) if row is not None else await self.token(token_id)

    async def token_grants(self, token_id: int) -> list[Grant]:
        key = ("token_grants", token_id)
        return list(await self._cache.get(key, lambda: self._token_grants(token_id)))

    async def _token_grants(self, token_id: int) -> tuple[Grant, ...]:
        statement = (
            select(TOKEN_GRANTS)
            .where(TOKEN_GRANTS.c.token_id == token_id)
            .order_by(TOKEN_GRANTS.c.kind, TOKEN_GRANTS.c.target)
        )
        async with self._read_sessions() as session:
            return tuple(grant_from_row(row) for row in await session.execute(statement))
