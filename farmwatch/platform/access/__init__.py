"""Who may use the platform (regulation art. 7–10; issue 10): organisations in three tiers,
farms, users with the administrator (管理员) or monitor (监控员) role, camera grants, console
sessions, API tokens, argon2id passwords with a policy, throttling and lockout.

`create_access_services` builds every service from `[access]` settings; the web layer calls
`LoginService`, `SessionStore`, `ApiTokenService`, `CameraAccess`, `AccessAdministration`,
`AccessGate` (what a request may reach) and `MediaOwners` (who opened which media URL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.access.access_cache import AccessCache
from farmwatch.platform.access.administration import AccessAdministration, PasswordRejected
from farmwatch.platform.access.camera_access import CameraAccess
from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.gate import AccessGate, Verdict
from farmwatch.platform.access.hashing_pool import HashingPool
from farmwatch.platform.access.login_service import (
    LoginFailure,
    LoginPolicy,
    LoginRefused,
    LoginResult,
    LoginService,
)
from farmwatch.platform.access.media_owners import (
    Holder,
    HolderKind,
    MediaOwners,
    Owned,
    OwnedKind,
    holder_of,
)
from farmwatch.platform.access.passwords import (
    Argon2Parameters,
    PasswordHashing,
    PasswordIssue,
    PasswordPolicy,
    PasswordProblem,
)
from farmwatch.platform.access.records import (
    ApiToken,
    CameraPlacement,
    ChannelGrant,
    DeviceGrant,
    Farm,
    FarmGrant,
    Grant,
    GrantTarget,
    LoginSession,
    Organisation,
    OrgTier,
    Principal,
    PrincipalKind,
    Role,
    User,
    normalise_username,
    principal_actor,
)
from farmwatch.platform.access.rules import (
    OrgTree,
    can_manage,
    can_view,
    organisation_problem,
    visible_channels,
)
from farmwatch.platform.access.session_repository import SessionRepository
from farmwatch.platform.access.session_store import OpenedSession, SessionLimits, SessionStore
from farmwatch.platform.access.throttle import LoginThrottle, ThrottleLimits
from farmwatch.platform.access.token_service import ApiTokenService, IssuedToken
from farmwatch.platform.audit import AuditLog
from farmwatch.platform.settings import AccessSettings

__all__ = [
    "AccessAdministration",
    "AccessGate",
    "AccessServices",
    "ApiToken",
    "ApiTokenService",
    "Argon2Parameters",
    "CameraAccess",
    "CameraPlacement",
    "ChannelGrant",
    "DeviceGrant",
    "DirectoryRepository",
    "Farm",
    "FarmGrant",
    "Grant",
    "GrantTarget",
    "HashingPool",
    "Holder",
    "HolderKind",
    "IssuedToken",
    "LoginFailure",
    "LoginPolicy",
    "LoginRefused",
    "LoginResult",
    "LoginService",
    "LoginSession",
    "LoginThrottle",
    "MediaOwners",
    "OpenedSession",
    "Owned",
    "OwnedKind",
    "OrgTier",
    "OrgTree",
    "Organisation",
    "PasswordHashing",
    "PasswordIssue",
    "PasswordPolicy",
    "PasswordProblem",
    "PasswordRejected",
    "Principal",
    "PrincipalKind",
    "Role",
    "SessionLimits",
    "SessionRepository",
    "SessionStore",
    "ThrottleLimits",
    "User",
    "Verdict",
    "can_manage",
    "can_view",
    "create_access_services",
    "holder_of",
    "normalise_username",
    "organisation_problem",
    "principal_actor",
    "visible_channels",
]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AccessServices:
    """The access services of one platform, sharing one throttle and one hashing pool."""

    directory: DirectoryRepository
    sessions: SessionStore
    logins: LoginService
    tokens: ApiTokenService
    cameras: CameraAccess
    administration: AccessAdministration
    gate: AccessGate
    owners: MediaOwners


def argon2_parameters(settings: AccessSettings) -> Argon2Parameters:
    return Argon2Parameters(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def create_access_services(
    sessions: async_sessionmaker[AsyncSession],
    audit: AuditLog,
    settings: AccessSettings,
    *,
    read_sessions: async_sessionmaker[AsyncSession] | None = None,
    clock: Clock = _utc_now,
) -> AccessServices:
    """Build the access services over one database (`Database.sessions`/`read_sessions`)."""
    cache = AccessCache()  # one for both: a write in either forgets what both read
    directory = DirectoryRepository(sessions, read_sessions, cache=cache)
    credentials = SessionRepository(sessions, read_sessions, cache=cache)
    store = SessionStore(
        credentials,
        directory,
        SessionLimits(
            idle=timedelta(seconds=settings.session_idle),
            lifetime=timedelta(seconds=settings.session_lifetime),
        ),
    )
    hashing = HashingPool(PasswordHashing(argon2_parameters(settings)), settings.hash_concurrency)
    throttle = LoginThrottle(
        ThrottleLimits(
            window=settings.throttle_window,
            per_account=settings.throttle_per_account,
            per_source=settings.throttle_per_source,
        )
    )
    policy = LoginPolicy(settings.lockout_failures, timedelta(seconds=settings.lockout_seconds))
    cameras = CameraAccess(directory, credentials)
    return AccessServices(
        directory=directory,
        sessions=store,
        logins=LoginService(directory, store, hashing, throttle, audit, policy, clock),
        tokens=ApiTokenService(credentials, cameras, audit, clock),
        cameras=cameras,
        administration=AccessAdministration(
            directory,
            store,
            cameras,
            hashing,
            PasswordPolicy(min_length=settings.password_min_length),
            audit,
            clock,
        ),  # fmt: skip
        gate=AccessGate(directory, cameras, credentials),
        owners=MediaOwners(sessions, read_sessions, clock=clock),
    )
