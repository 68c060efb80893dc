"""User accounts and their camera grants (regulation art. 10: the administrator manages
users, roles and grants), for administrators; the core (`AccessAdministration`) checks that
each organisation and user concerned is the administrator's or below it, and audits every
change.

- `GET /api/users`; `POST /api/users {"username", "display_name"?, "organisation_id",
  "role": "administrator"|"monitor", "password"}` → 201;
- `GET /api/users/{id}` (with its grants); `PUT /api/users/{id}/role {"role"}`;
  `PUT /api/users/{id}/enabled {"enabled": true|false}`; `POST /api/users/{id}/unlock`;
  `PUT /api/users/{id}/password {"password"}` (the user's sessions end);
- `GET /api/users/{id}/grants`; `POST /api/users/{id}/grants {"kind": "channel"|"device"|
  "farm", "target"}` → 201 (200 when it was held already); `DELETE
  /api/users/{id}/grants/{kind}/{target}` → 204 (404 when it was not held).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.access import GrantTarget, Role
from farmwatch.platform.access.records import grant_target
from farmwatch.platform.errors import InvalidInput, NotFound
from farmwatch.web.access_views import grant_view, user_view
from farmwatch.web.authorization import principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ACCESS

routes = web.RouteTableDef()


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected a string")
    return value


_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1  # BIGINT


def int_field(body: dict[str, Any], name: str) -> int:
    """An ID of the body: an integer the database can hold (a larger one is a 400, not an
    overflow in the query)."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not _MIN_ID <= value <= _MAX_ID:
        raise InvalidInput(f"{name}: expected an integer")
    return value


def role_field(body: dict[str, Any]) -> Role:
    try:
        return Role(str(body.get("role")))
    except ValueError:
        raise InvalidInput("role: expected administrator or monitor") from None


def grant_target_of(kind: object, target: object) -> GrantTarget:
    """A grant's target from its kind and ID as a request names them."""
    if isinstance(target, int) and not isinstance(target, bool):
        target = str(target)
    if not isinstance(kind, str) or not isinstance(target, str) or not 0 < len(target) <= 20:
        raise InvalidInput('expected {"kind": "channel"|"device"|"farm", "target": ID}')
    try:
        return grant_target(kind, target)
    except ValueError:
        raise InvalidInput(
            f"kind: expected channel, device or farm (a farm by its number), got {kind[:20]!r}"
        ) from None


def _user_id(request: web.Request) -> int:
    return int(request.match_info["user_id"])  # the middleware let only digits through


@routes.get("/users")
async def list_users(request: web.Request) -> web.Response:
    users = await request.app[ACCESS].administration.users(principal_of(request))
    return web.json_response({"users": [user_view(user) for user in users]})


@routes.post("/users")
async def create_user(request: web.Request) -> web.Response:
    body = await json_object(
        request, '{"username", "display_name"?, "organisation_id", "role", "password"}'
    )
    username = text_field(body, "username")
    password = text_field(body, "password")
    assert username is not None and password is not None
    user = await request.app[ACCESS].administration.create_user(
        principal_of(request), username, text_field(body, "display_name", required=False) or "",
        int_field(body, "organisation_id"), role_field(body), password, source=request.remote,
    )  # fmt: skip
    return web.json_response(user_view(user, []), status=201)


@routes.get("/users/{user_id}")
async def get_user(request: web.Request) -> web.Response:
    user, grants = await request.app[ACCESS].administration.user(
        principal_of(request), _user_id(request)
    )
    return web.json_response(user_view(user, grants))


@routes.put("/users/{user_id}/role")
async def set_role(request: web.Request) -> web.Response:
    body = await json_object(request, '{"role"}')
    user = await request.app[ACCESS].administration.set_role(
        principal_of(request), _user_id(request), role_field(body), source=request.remote
    )
    return web.json_response(user_view(user))


@routes.put("/users/{user_id}/enabled")
async def set_enabled(request: web.Request) -> web.Response:
    body = await json_object(request, '{"enabled"}')
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled: expected true or false")
    user = await request.app[ACCESS].administration.set_enabled(
        principal_of(request), _user_id(request), enabled, source=request.remote
    )
    return web.json_response(user_view(user))


@routes.post("/users/{user_id}/unlock")
async def unlock(request: web.Request) -> web.Response:
    user = await request.app[ACCESS].administration.unlock(
        principal_of(request), _user_id(request), source=request.remote
    )
    return web.json_response(user_view(user))


@routes.put("/users/{user_id}/password")
async def set_password(request: web.Request) -> web.Response:
    body = await json_object(request, '{"password"}')
    password = text_field(body, "password")
    assert password is not None
    user = await request.app[ACCESS].administration.set_password(
        principal_of(request), _user_id(request), password, source=request.remote
    )
    return web.json_response(user_view(user))


@routes.get("/users/{user_id}/grants")
async def list_grants(request: web.Request) -> web.Response:
    _, grants = await request.app[ACCESS].administration.user(
        principal_of(request), _user_id(request)
    )
    return web.json_response({"grants": [grant_view(grant) for grant in grants]})


@routes.post("/users/{user_id}/grants")
async def add_grant(request: web.Request) -> web.Response:
    body = await json_object(request, '{"kind", "target"}')
    target = grant_target_of(body.get("kind"), body.get("target"))
    added = await request.app[ACCESS].administration.grant(
        principal_of(request), _user_id(request), target, source=request.remote
    )
    return web.json_response({"granted": True, "added": added}, status=201 if added else 200)


@routes.delete("/users/{user_id}/grants/{kind}/{target}")
async def remove_grant(request: web.Request) -> web.Response:
    target = grant_target_of(request.match_info["kind"], request.match_info["target"])
    removed = await request.app[ACCESS].administration.revoke_grant(
        principal_of(request), _user_id(request), target, source=request.remote
    )
    if not removed:
        raise NotFound("the user does not hold that grant")
    return web.Response(status=204)
