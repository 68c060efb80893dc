"""Console login and logout (regulation art. 7; issue 10 §2).

`POST /api/login {"username", "password"}` sets the session cookie and answers
`{"csrf_token", "user"}`: state-changing requests of that session carry the token as
`X-CSRF-Token`. The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's
page or link makes the browser send it: the console's pages are entered from its own
origin and fetch everything with the cookie as same-site requests, so Strict costs the
console nothing, where Lax would still send it on a top-level GET from another site), Path=/,
and Secure when the server speaks HTTPS; it carries no expiry, so it ends with the browser,
and the server ends the session after `[access] session_idle` and `session_lifetime` anyway.

A refused login is answered as the core decides, revealing no more: 401 (unknown username
or wrong password, never told apart), 423 (the account is locked; `Retry-After`), 429 (too
many failed logins for this username or from this address; `Retry-After`), 403 (the right
password of a disabled account). `POST /api/logout` ends the session and the live and
playback sessions it opened; `GET /api/me` says who is signed in (and the session's CSRF
token, for a page reloaded in the same session).
"""

from __future__ import annotations

import logging
import math

from aiohttp import web

from farmwatch.platform.access import (
    LoginFailure,
    LoginRefused,
    OwnedKind,
    Principal,
    PrincipalKind,
    principal_actor,
)
from farmwatch.platform.audit import AuditAction, AuditResult
from farmwatch.platform.errors import InvalidInput, NotFound, PlatformError
from farmwatch.web.access_views import me_view
from farmwatch.web.authorization import SESSION_COOKIE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ACCESS, AUDIT, BROADCASTS, LIVE_SERVICE, PLAYBACK_SERVICE
from farmwatch.web.middlewares import json_error

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_REFUSALS: dict[LoginFailure, tuple[int, str]] = {
    LoginFailure.INVALID_CREDENTIALS: (401, "wrong username or password"),
    LoginFailure.LOCKED: (
        423, "the account is locked after too many wrong passwords: wait, or ask an "
        "administrator to unlock it",
    ),
    LoginFailure.THROTTLED: (429, "too many failed logins just now: wait before trying again"),
    LoginFailure.DISABLED: (403, "the account is disabled: ask an administrator"),
}  # fmt: skip


def _refusal(refused: LoginRefused) -> web.Response:
    status, message = _REFUSALS[refused.reason]
    response = json_error(status, message)
    if refused.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(refused.retry_after)))
    return response


async def _me(request: web.Request, principal: Principal) -> dict[str, object]:
    orgs = await request.app[ACCESS].cameras.org_tree()
    return me_view(principal, orgs.get(principal.organisation_id))


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    body = await json_object(request, '{"username", "password"}')
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidInput('expected a JSON body {"username", "password"} of two strings')
    result = await request.app[ACCESS].logins.login(username, password, request.remote)
    if isinstance(result, LoginRefused):
        return _refusal(result)
    response = web.json_response(
        {
            "csrf_token": result.csrf_token,
            "expires_at": result.expires_at.isoformat(),
            "user": await _me(request, result.principal),
        }
    )
    response.set_cookie(
        SESSION_COOKIE, result.session_id, path="/", httponly=True, samesite="Strict",
        secure=request.secure,
    )  # fmt: skip
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    principal = principal_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if principal.kind is not PrincipalKind.SESSION or not session_id:
        raise InvalidInput("an API token has no session to end: an administrator revokes it")
    await _close_held(request, principal)
    await request.app[ACCESS].logins.logout(session_id, request.remote)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def _close_held(request: web.Request, principal: Principal) -> None:
    """End the live, playback and broadcast sessions the login opened: its URLs die with it."""
    owners = request.app[ACCESS].owners
    assert principal.session_id_hash is not None
    for owned in owners.held_by_login(principal.session_id_hash):
        owners.forget(owned.kind, owned.object_id)
        try:
            if owned.kind is OwnedKind.LIVE:
                await request.app[LIVE_SERVICE].close_session(owned.object_id)
            elif owned.kind is OwnedKind.PLAYBACK:
                await request.app[PLAYBACK_SERVICE].stop(owned.object_id)
            elif owned.kind is OwnedKind.BROADCAST:
                await request.app[BROADCASTS].stop(owned.object_id)
        except NotFound:
            continue  # it had ended by itself
        except PlatformError as error:
            # One session that will not close must not keep the person logged in.
            log.warning("closing %s %s at logout: %s", owned.kind.value, owned.object_id, error)
            continue
        if owned.kind is OwnedKind.LIVE:
            await request.app[AUDIT].append(
                AuditAction.LIVE_STOP, principal_actor(principal),
                result=AuditResult.OK, organisation_id=principal.organisation_id,
                channel_id=owned.channel_id, source=request.remote,
                detail={"id": owned.object_id, "reason": "logout"},
            )  # fmt: skip


@routes.get("/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response(await _me(request, principal_of(request)))
