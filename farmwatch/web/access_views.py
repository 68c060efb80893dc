"""Access records → JSON-ready dicts for the API: the signed-in principal, users, grants,
organisations, farms, API tokens, audit rows. No secret is ever written here (password
hashes, session IDs and token digests stay in the platform)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from farmwatch.platform.access import (
    ApiToken,
    Farm,
    Grant,
    Organisation,
    Principal,
    PrincipalKind,
    User,
)
from farmwatch.platform.audit import AuditRecord, VerifyResult


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def organisation_view(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "name": organisation.name,
        "tier": organisation.tier.value,
        "parent_id": organisation.parent_id,
        "created_at": _time(organisation.created_at),
    }


def me_view(principal: Principal, organisation: Organisation | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "kind": principal.kind.value,
        "username": principal.name if principal.kind is PrincipalKind.SESSION else None,
        "display_name": principal.display_name,
        "role": principal.role.value,
        "user_id": principal.user_id,
        "token_id": principal.token_id,
        "organisation": None if organisation is None else organisation_view(organisation),
    }
    if principal.csrf_token is not None:
        view["csrf_token"] = principal.csrf_token
    return view


def grant_view(grant: Grant) -> dict[str, Any]:
    return {
        "kind": grant.kind,
        "target": grant.target_text,
        "created_at": _time(grant.created_at),
        "created_by": grant.created_by,
    }


def user_view(user: User, grants: list[Grant] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "organisation_id": user.organisation_id,
        "role": user.role.value,
        "enabled": user.is_enabled,
        "failed_logins": user.failed_logins,
        "locked_until": _time(user.locked_until),
        "created_at": _time(user.created_at),
        "updated_at": _time(user.updated_at),
    }
    if grants is not None:
        view["grants"] = [grant_view(grant) for grant in grants]
    return view


def farm_view(farm: Farm) -> dict[str, Any]:
    return {
        "id": farm.id,
        "name": farm.name,
        "filing_number": farm.filing_number,
        "organisation_id": farm.organisation_id,
        "created_at": _time(farm.created_at),
    }


def token_view(
    token: ApiToken, grants: list[Grant] | tuple[Grant, ...] | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": token.id,
        "name": token.name,
        "role": token.role.value,
        "organisation_id": token.organisation_id,
        "created_by": token.created_by,
        "created_at": _time(token.created_at),
        "expires_at": _time(token.expires_at),
        "last_used_at": _time(token.last_used_at),
        "revoked_at": _time(token.revoked_at),
    }
    if grants is not None:
        view["grants"] = [grant_view(grant) for grant in grants]
    return view


def audit_view(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    return {
        "id": record.id,
        "at": _time(entry.at),
        "actor": {"kind": entry.actor.kind.value, "id": entry.actor.id, "name": entry.actor.name},
        "action": entry.action.value,
        "result": entry.result.value,
        "organisation_id": entry.organisation_id,
        "channel_id": entry.channel_id,
        "recorded_start": _time(entry.recorded.start) if entry.recorded else None,
        "recorded_end": _time(entry.recorded.end) if entry.recorded else None,
        "source": entry.source,
        "detail": dict(entry.detail),
        "prev_hash": record.prev_hash,
        "row_hash": record.row_hash,
    }


def verify_view(result: VerifyResult) -> dict[str, Any]:
    return {
        "intact": result.is_intact,
        "rows": result.rows,
        "head_hash": result.head_hash,
        "problem": None if result.problem is None else result.problem.value,
        "row_id": result.row_id,
        "reason": result.reason,
    }
