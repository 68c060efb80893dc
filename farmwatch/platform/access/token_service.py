"""API tokens for integrations (issue 10 §2): an administrator issues one with a role, an
organisation within their reach and, for a monitor-role token, camera grants; a request
presents it as `Authorization: Bearer ...` (no cookie, no CSRF token). Tokens can be
revoked, and both issuing and revoking are audited. The token itself is shown once, at
issue; the database keeps its SHA-256.

Only a person's session may issue or revoke tokens, so a leaked token cannot mint others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from farmwatch.platform.access.camera_access import CameraAccess
from farmwatch.platform.access.credentials import (
    API_TOKEN_PREFIX,
    new_api_token,
    secret_digest,
)
from farmwatch.platform.access.records import (
    ApiToken,
    Grant,
    GrantTarget,
    Principal,
    PrincipalKind,
    Role,
    principal_actor,
    target_label,
)
from farmwatch.platform.access.rules import can_manage
from farmwatch.platform.access.session_repository import SessionRepository
from farmwatch.platform.audit import AuditAction, AuditLog
from farmwatch.platform.errors import InvalidInput, NotFound, PermissionDenied

__all__ = ["ApiTokenService", "IssuedToken"]

Clock = Callable[[], datetime]
# last_used_at is written at most this often per token.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    """The bearer token: shown to the administrator once, never stored."""
    record: ApiToken
    grants: tuple[Grant, ...]


def require_person_administrator(principal: Principal) -> None:
    if principal.role is not Role.ADMINISTRATOR:
        raise PermissionDenied("only an administrator may do this")
    if principal.kind is not PrincipalKind.SESSION:
        raise PermissionDenied("an API token may not manage accounts, grants or tokens")


class ApiTokenService:
    def __init__(
        self,
        tokens: SessionRepository,
        cameras: CameraAccess,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._cameras = cameras
        self._audit = audit
        self._clock = clock

    async def issue(
        self,
        admin: Principal,
        name: str,
        role: Role,
        organisation_id: int,
        grants: Iterable[GrantTarget] = (),
        *,
        expires_at: datetime | None = None,
        source: str | None = None,
    ) -> IssuedToken:
        require_person_administrator(admin)
        name = name.strip()
        if not 1 <= len(name) <= 128:
            raise InvalidInput("a token needs a name of 1 to 128 characters")
        if not can_manage(admin, organisation_id, await self._cameras.org_tree()):
            raise PermissionDenied(f"organisation {organisation_id} is not within your reach")
        targets = tuple(dict.fromkeys(grants))
        if role is Role.ADMINISTRATOR and targets:
            raise InvalidInput("an administrator token sees its organisation: it takes no grants")
        for target in targets:
            if not await self._cameras.target_in_reach(admin, target):
                raise PermissionDenied(f"{target_label(target)} is not within your reach")
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("the expiry must be in the future")
        token = new_api_token()
        record = await self._tokens.add_token(
            name, secret_digest(token), role, organisation_id, targets,
            created_by=admin.user_id, at=now, expires_at=expires_at,
        )  # fmt: skip
        await self._audit.append(
            AuditAction.TOKEN_ISSUE,
            principal_actor(admin),
            organisation_id=organisation_id,
            source=source,
            detail={"token_id": record.id, "name": name, "role": role.value,
                    "grants": [f"{g.kind}:{g.target_text}" for g in _grants(targets, now)]},
        )  # fmt: skip
        return IssuedToken(token, record, _grants(targets, now, admin.user_id))

    async def resolve(self, token: str, now: datetime) -> Principal | None:
        """Who a bearer token acts as, or None (unknown, revoked, expired)."""
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        record = await self._tokens.token_by_hash(secret_digest(token))
        if record is None or not record.is_usable(now):
            return None
        if record.last_used_at is None or now - record.last_used_at >= TOUCH_INTERVAL:
            await self._tokens.touch_token(record.id, now)
        return Principal(
            PrincipalKind.TOKEN, record.role, record.organisation_id, record.name, record.name,
            token_id=record.id,
        )  # fmt: skip

    async def revoke(
        self, admin: Principal, token_id: int, *, source: str | None = None
    ) -> ApiToken:
        require_person_administrator(admin)
        record = await self._tokens.token(token_id)
        if record is None:
            raise NotFound(f"no API token {token_id}")
        if not can_manage(admin, record.organisation_id, await self._cameras.org_tree()):
            raise PermissionDenied(f"API token {token_id} is not within your reach")
        revoked = await self._tokens.revoke_token(token_id, self._clock()) or record
        await self._audit.append(
            AuditAction.TOKEN_REVOKE,
            principal_actor(admin),
            organisation_id=record.organisation_id,
            source=source,
            detail={"token_id": token_id, "name": record.name},
        )
        return revoked

    async def tokens(self, admin: Principal) -> list[ApiToken]:
        """The tokens of the organisations within `admin`'s reach."""
        require_person_administrator(admin)
        orgs = await self._cameras.org_tree()
        return await self._tokens.tokens(orgs.subtree(admin.organisation_id))

    async def grants(self, token_id: int) -> list[Grant]:
        return await self._tokens.token_grants(token_id)


def _grants(
    targets: Iterable[GrantTarget], at: datetime, by: int | None = None
) -> tuple[Grant, ...]:
    return tuple(Grant(target, at, by) for target in targets)
