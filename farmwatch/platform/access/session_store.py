"""Server-side console sessions: opened at login, resolved on every request, closed at
logout, when the user is disabled or their role or password changes, or when they expire.

The cookie carries a random 256-bit session ID; the database keeps its SHA-256, so a copy of
the database opens no session. A session ends `idle` after it was last used and `lifetime`
after login, whichever comes first. `resolve` writes the last-seen time at most once per
`touch_interval` (a write per request would cost more than the check), so the idle expiry
is exact to that interval. The CSRF token is made with the session and handed out at login
(and again by `resolve`, for a page reloaded in the same session).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from farmwatch.platform.access.credentials import new_secret, secret_digest
from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.records import LoginSession, Principal, PrincipalKind, User
from farmwatch.platform.access.session_repository import SessionRepository

__all__ = ["OpenedSession", "SessionLimits", "SessionStore"]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    touch_interval: timedelta = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session: `session_id` goes in the cookie and nowhere else; state-changing
    requests carry `csrf_token` as X-CSRF-Token."""

    session_id: str
    csrf_token: str
    record: LoginSession
    principal: Principal

    @property
    def expires_at(self) -> datetime:
        return self.record.expires_at


def session_principal(user: User, login: LoginSession) -> Principal:
    return Principal(
        PrincipalKind.SESSION, user.role, user.organisation_id, user.username,
        user.display_name, user_id=user.id, session_id_hash=login.id_hash,
        csrf_token=login.csrf_token,
    )  # fmt: skip


class SessionStore:
    def __init__(
        self, sessions: SessionRepository, directory: DirectoryRepository, limits: SessionLimits
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self.limits = limits

    async def open(self, user: User, source: str | None, now: datetime) -> OpenedSession:
        session_id = new_secret()
        login = LoginSession(
            secret_digest(session_id), user.id, now, now, now + self.limits.lifetime,
            new_secret(), source,
        )  # fmt: skip
        await self._sessions.add_session(login)
        return OpenedSession(session_id, login.csrf_token, login, session_principal(user, login))

    def _is_live(self, login: LoginSession, now: datetime) -> bool:
        return now < login.expires_at and now < login.last_seen_at + self.limits.idle

    async def resolve(self, session_id: str, now: datetime) -> Principal | None:
        """Who the cookie's session is, or None: no such session, expired (then removed), or
        its user disabled or gone."""
        id_hash = secret_digest(session_id)
        login = await self._sessions.session(id_hash)
        if login is None:
            return None
        if not self._is_live(login, now):
            await self._sessions.delete_session(id_hash)
            return None
        user = await self._directory.user(login.user_id)
        if user is None or not user.is_enabled:
            await self._sessions.delete_session(id_hash)
            return None
        if now - login.last_seen_at >= self.limits.touch_interval:
            await self._sessions.touch_session(id_hash, now)
        return session_principal(user, login)

    async def close(self, session_id: str) -> LoginSession | None:
        """End one session (logout); what it was, or None when it did not exist."""
        return await self._sessions.delete_session(secret_digest(session_id))

    async def close_user_sessions(self, user_id: int) -> int:
        """End every session of a user (disabled, role or password changed)."""
        return await self._sessions.delete_user_sessions(user_id)

    async def purge_expired(self, now: datetime) -> int:
        """Remove every expired session (housekeeping; `resolve` removes the ones it meets)."""
        return await self._sessions.delete_expired_sessions(
            now=now, idle_before=now - self.limits.idle
        )
