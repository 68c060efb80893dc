"""API tokens for integrations (issue 10 §2), issued and revoked by an administrator's
console session (a token cannot mint tokens).

- `GET /api/tokens`: the tokens of the caller's organisation and those below it (never the
  tokens themselves);
- `POST /api/tokens {"name", "role", "organisation_id", "grants"?: [{"kind", "target"}],
  "expires_at"?: ISO time}` → 201 with `"token"`: shown this once, stored only as its digest;
- `DELETE /api/tokens/{id}`: revoked at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from farmwatch.platform.access import GrantTarget
from farmwatch.platform.errors import InvalidInput
from farmwatch.web.access_views import token_view
from farmwatch.web.authorization import principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ACCESS
from farmwatch.web.routes.accounts import grant_target_of, int_field, role_field, text_field

routes = web.RouteTableDef()

MAX_TOKEN_GRANTS = 1000


def _expiry(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("expires_at: expected an ISO time such as 2027-01-01T00:00:00+08:00")
    try:
        moment = datetime.fromisoformat(value[:40])
    except ValueError:
        raise InvalidInput(f"expires_at: expected an ISO time, got {value[:40]!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _grants(value: object) -> list[GrantTarget]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_TOKEN_GRANTS:
        raise InvalidInput(
            f'grants: expected a list of at most {MAX_TOKEN_GRANTS} {{"kind", "target"}}'
        )
    targets = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidInput('grants: expected {"kind", "target"} objects')
        targets.append(grant_target_of(item.get("kind"), item.get("target")))
    return targets


@routes.get("/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[ACCESS].tokens.tokens(principal_of(request))
    return web.json_response({"tokens": [token_view(token) for token in tokens]})


@routes.post("/tokens")
async def issue_token(request: web.Request) -> web.Response:
    body = await json_object(
        request, '{"name", "role", "organisation_id", "grants"?, "expires_at"?}'
    )
    name = text_field(body, "name")
    assert name is not None
    issued = await request.app[ACCESS].tokens.issue(
        principal_of(request), name, role_field(body), int_field(body, "organisation_id"),
        _grants(body.get("grants")), expires_at=_expiry(body.get("expires_at")),
        source=request.remote,
    )  # fmt: skip
    return web.json_response(
        {**token_view(issued.record, issued.grants), "token": issued.token}, status=201
    )


@routes.delete("/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    token = await request.app[ACCESS].tokens.revoke(
        principal_of(request), int(request.match_info["token_id"]), source=request.remote
    )
    return web.json_response(token_view(token))
