"""Console login and logout (regulation art. 7; issue 10 §2).

`login(username, password, source)` refuses quickly while the username or the address is
throttled (`LoginThrottle`), refuses a locked account, and otherwise checks the password
with argon2id. A username that matches no account costs the same argon2id work (a dummy
hash) and gets the same answer as a wrong password. The `lockout_failures`-th wrong
password in a row locks the account for `lockout` (kept on the account, so it holds across
restarts and processes); a right password resets the count, re-hashes the password when
the configured argon2 parameters changed since it was set, and opens a session. Every
attempt, refused or not, and every logout leaves an audit row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.hashing_pool import HashingPool
from farmwatch.platform.access.records import User, normalise_username
from farmwatch.platform.access.session_store import OpenedSession, SessionStore
from farmwatch.platform.access.throttle import LoginThrottle
from farmwatch.platform.audit import AuditAction, AuditActor, AuditLog, AuditResult

__all__ = ["LoginFailure", "LoginPolicy", "LoginRefused", "LoginResult", "LoginService"]

Clock = Callable[[], datetime]
# Longer inputs are refused without hashing them (argon2 reads every byte of a password).
MAX_PASSWORD_INPUT = 1024


class LoginFailure(StrEnum):
    INVALID_CREDENTIALS = "invalid_credentials"
    """Unknown username or wrong password (never told apart)."""
    LOCKED = "locked"
    """Too many wrong passwords: the account is locked for a while."""
    THROTTLED = "throttled"
    """Too many failed logins for this username or from this address just now."""
    DISABLED = "disabled"
    """Right password, but an administrator disabled the account."""


@dataclass(frozen=True, slots=True)
class LoginRefused:
    reason: LoginFailure
    retry_after: float | None = None
    """Seconds until a new try can succeed (throttled, locked)."""


LoginResult = OpenedSession | LoginRefused


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    lockout_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


def shown_username(text: str) -> str:
    """A typed username as the audit trail shows it: trimmed, at most 64 characters, no
    control characters."""
    return "".join(c if c.isprintable() else "?" for c in text.strip()[:64])


class LoginService:
    def __init__(
        self,
        directory: DirectoryRepository,
        sessions: SessionStore,
        hashing: HashingPool,
        throttle: LoginThrottle,
        audit: AuditLog,
        policy: LoginPolicy,
        clock: Clock,
    ) -> None:
        self._directory = directory
        self._sessions = sessions
        self._hashing = hashing
        self._throttle = throttle
        self._audit = audit
        self._policy = policy
        self._clock = clock

    async def login(self, username: str, password: str, source: str | None) -> LoginResult:
        now = self._clock()
        typed = shown_username(username)
        wait = self._throttle.check(typed, source, now.timestamp())
        if wait is not None:
            return await self._refuse(None, typed, source, LoginFailure.THROTTLED, wait)
        name = normalise_username(username)
        user = None if name is None else await self._directory.user_by_username(name)
        if user is None or len(password) > MAX_PASSWORD_INPUT:
            await self._hashing.burn(password[:MAX_PASSWORD_INPUT])
            self._throttle.record_failure(typed, source, now.timestamp())
            return await self._refuse(user, typed, source, LoginFailure.INVALID_CREDENTIALS)
        if user.is_locked(now):
            assert user.locked_until is not None
            wait = (user.locked_until - now).total_seconds()
            self._throttle.record_failure(typed, source, now.timestamp())
            return await self._refuse(user, typed, source, LoginFailure.LOCKED, wait)
        if not await self._hashing.verify(user.password_hash, password):
            return await self._wrong_password(user, typed, source, now)
        if not user.is_enabled:
            return await self._refuse(user, typed, source, LoginFailure.DISABLED)
        return await self._succeed(user, typed, password, source, now)

    async def _wrong_password(
        self, user: User, typed: str, source: str | None, now: datetime
    ) -> LoginRefused:
        self._throttle.record_failure(typed, source, now.timestamp())
        locked_until = await self._directory.record_failed_login(
            user.id, at=now, lock_after=self._policy.lockout_failures,
            lock_for=self._policy.lockout,
        )  # fmt: skip
        if locked_until is None:
            return await self._refuse(user, typed, source, LoginFailure.INVALID_CREDENTIALS)
        wait = (locked_until - now).total_seconds()
        return await self._refuse(user, typed, source, LoginFailure.LOCKED, wait)

    async def _succeed(
        self, user: User, typed: str, password: str, source: str | None, now: datetime
    ) -> OpenedSession:
        changes: dict[str, Any] = {}
        if user.failed_logins or user.locked_until is not None:
            changes.update(failed_logins=0, locked_until=None)
        if self._hashing.needs_rehash(user.password_hash):
            changes["password_hash"] = await self._hashing.hash(password)
        if changes:
            user = await self._directory.update_user(user.id, at=now, **changes) or user
        self._throttle.record_success(typed)
        opened = await self._sessions.open(user, source, now)
        await self._audit.append(
            AuditAction.LOGIN,
            AuditActor.user(user.id, user.username),
            organisation_id=user.organisation_id,
            source=source,
            detail={"rehashed": "password_hash" in changes},
        )
        return opened

    async def _refuse(
        self,
        user: User | None,
        typed: str,
        source: str | None,
        reason: LoginFailure,
        retry_after: float | None = None,
    ) -> LoginRefused:
        actor = AuditActor.user(None, typed) if user is None else AuditActor.user(
            user.id, user.username
        )  # fmt: skip
        await self._audit.append(
            AuditAction.LOGIN_FAILED,
            actor,
            result=AuditResult.DENIED,
            organisation_id=None if user is None else user.organisation_id,
            source=source,
            detail={"reason": reason.value},
        )
        return LoginRefused(reason, retry_after)

    async def logout(self, session_id: str, source: str | None) -> bool:
        """End the session; False when it did not exist (expired, or ended already)."""
        ended = await self._sessions.close(session_id)
        if ended is None:
            return False
        user = await self._directory.user(ended.user_id)
        await self._audit.append(
            AuditAction.LOGOUT,
            AuditActor.user(ended.user_id, "?" if user is None else user.username),
            organisation_id=None if user is None else user.organisation_id,
            source=source,
        )
        return True
