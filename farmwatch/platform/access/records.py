"""Who may use the platform (regulation art. 7–10): organisations in three tiers, farms,
users with one of two roles, camera grants, login sessions and API tokens.

Frozen values as the repositories hand them out; no SQLAlchemy rows, no secrets (a
password is its argon2id hash, a session ID or token only its SHA-256). Times are aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farmwatch.platform.audit import AuditActor

__all__ = [
    "ApiToken",
    "CameraPlacement",
    "ChannelGrant",
    "DeviceGrant",
    "Farm",
    "FarmGrant",
    "Grant",
    "GrantTarget",
    "LoginSession",
    "OrgTier",
    "Organisation",
    "Principal",
    "PrincipalKind",
    "Role",
    "User",
    "grant_target",
    "normalise_username",
    "principal_actor",
    "target_label",
]

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")


def normalise_username(text: str) -> str | None:
    """The stored form of a username (trimmed, lower case), or None when it is not one:
    2-64 characters of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit.
    Personal accounts (art. 8) are told apart by name; the display name carries the
    person's name in any script."""
    name = text.strip().lower()
    return name if _USERNAME.fullmatch(name) else None


class OrgTier(StrEnum):
    """The three levels of supervision (art. 3–4)."""

    NATIONAL = "national"  # 国家质检总局
    BUREAU = "bureau"  # 直属局
    BRANCH = "branch"  # 分支机构

    @property
    def parent_tier(self) -> OrgTier | None:
        """The tier an organisation of this tier sits under (None: the top)."""
        return {OrgTier.BUREAU: OrgTier.NATIONAL, OrgTier.BRANCH: OrgTier.BUREAU}.get(self)


class Role(StrEnum):
    """The two roles of art. 8."""

    ADMINISTRATOR = "administrator"  # 管理员
    MONITOR = "monitor"  # 监控员


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    name: str
    tier: OrgTier
    parent_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Farm:
    """A supervised farm; `filing_number` is its 备案编号."""

    id: int
    name: str
    filing_number: str
    organisation_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    organisation_id: int
    role: Role
    password_hash: str
    is_enabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True, slots=True)
class ChannelGrant:
    """One camera (channel ID)."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    """Every channel of one device (an NVR's cameras, or one IPC)."""

    device_id: str


@dataclass(frozen=True, slots=True)
class FarmGrant:
    """Every camera of one farm."""

    farm_id: int


GrantTarget = ChannelGrant | DeviceGrant | FarmGrant


def grant_target(kind: str, target: str) -> GrantTarget:
    """The target stored as (`kind`, `target`) text; ValueError for a kind not known."""
    if kind == "channel":
        return ChannelGrant(target)
    if kind == "device":
        return DeviceGrant(target)
    if kind == "farm":
        return FarmGrant(int(target))
    raise ValueError(f"unknown grant kind {kind!r}")


@dataclass(frozen=True, slots=True)
class Grant:
    """A camera grant held by a user or an API token."""

    target: GrantTarget
    created_at: datetime
    created_by: int | None

    @property
    def kind(self) -> str:
        return _KINDS[type(self.target)]

    @property
    def target_text(self) -> str:
        match self.target:
            case ChannelGrant(channel_id):
                return channel_id
            case DeviceGrant(device_id):
                return device_id
            case FarmGrant(farm_id):
                return str(farm_id)


def target_label(target: GrantTarget) -> str:
    """`channel 3402...`, `device 3402...` or `farm 7`, for messages."""
    grant = Grant(target, datetime.min, None)
    return f"{grant.kind} {grant.target_text}"


_KINDS: dict[type[GrantTarget], str] = {
    ChannelGrant: "channel",
    DeviceGrant: "device",
    FarmGrant: "farm",
}


@dataclass(frozen=True, slots=True)
class CameraPlacement:
    """Where a camera is: its device, the farm the device is placed on and that farm's
    organisation (None for both while the device is on no farm)."""

    channel_id: str
    device_id: str
    farm_id: int | None
    organisation_id: int | None


@dataclass(frozen=True, slots=True)
class LoginSession:
    """A console session as stored: `id_hash` is the SHA-256 of the cookie's value."""

    id_hash: str
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    csrf_token: str
    source: str | None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An integration's bearer token as stored (without the token itself)."""

    id: int
    name: str
    role: Role
    organisation_id: int
    created_by: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class PrincipalKind(StrEnum):
    SESSION = "session"
    TOKEN = "token"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, once its session or token is resolved: what the
    authorisation rules and the audit trail need.

    For a session, `user_id`, `username` and `display_name` are the user's and
    `csrf_token` the one state-changing requests must carry; for a token, `token_id` and
    the token's name, and no CSRF token (a bearer token is never sent by a browser on its
    own)."""

    kind: PrincipalKind
    role: Role
    organisation_id: int
    name: str
    display_name: str
    user_id: int | None = None
    token_id: int | None = None
    session_id_hash: str | None = None
    csrf_token: str | None = None

    @property
    def is_administrator(self) -> bool:
        return self.role is Role.ADMINISTRATOR


def principal_actor(principal: Principal) -> AuditActor:
    """How the audit trail names `principal`."""
    if principal.token_id is not None:
        return AuditActor.token(principal.token_id, principal.name)
    return AuditActor.user(principal.user_id, principal.name)
