"""Authentication and authorisation of every request, in one middleware driven by the route
rules (`route_rules.py`; regulation art. 7–10 and 22, issue 10 §2–4).

For each request the middleware

1. finds the route's rule (a route without one is refused with 500, and `check_route_rules`
   refuses to build an application that has one);
2. lets public routes through; otherwise finds the principal: `Authorization: Bearer
   <API token>`, else the session cookie (`farmwatch_session`); none or a bad one is a 401
   (a page sends the browser to the login page instead);
3. for a console session, requires `X-CSRF-Token` equal to the session's token on POST,
   PUT, PATCH and DELETE (403 otherwise): a page of another site can make the browser send
   the cookie, never read the token. A bearer token is never sent by a browser on its own,
   so it needs none;
4. checks the role, then the target the path names (`AccessGate`, `MediaOwners`): a camera
   the caller may view, a device they may see, a user or token of their reach, or a media
   session, search, download or clip that they opened themselves — anyone else's is a 403,
   so a copied URL plays nowhere else;
5. calls the handler, then appends the route's audit row (who, organisation, camera,
   recorded range, address, result) and records what a success opened or closed.

Handlers read the principal with `principal_of(request)` and tell the middleware what they
opened with `note_opened(request, object_id, recorded)`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractRoute, SystemRoute

from farmwatch.platform.access import (
    AccessServices,
    Owned,
    Principal,
    PrincipalKind,
    Verdict,
    principal_actor,
)
from farmwatch.platform.access.credentials import same_secret
from farmwatch.platform.audit import (
    AuditAction,
    AuditLog,
    AuditResult,
    JsonValue,
    RecordedRange,
)
from farmwatch.web.middlewares import Handler, json_error
from farmwatch.web.route_rules import RouteKey, Rule, Target, Who

__all__ = [
    "CSRF_HEADER",
    "LOGIN_PAGE",
    "PRINCIPAL",
    "SESSION_COOKIE",
    "AccessNote",
    "Authorization",
    "RouteTableError",
    "authorization_middleware",
    "check_route_rules",
    "note_opened",
    "principal_of",
    "route_key",
    "routes_of",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
FarmOf = Callable[[int], Awaitable[int | None]]
"""The farm a record of one farm (an anomaly...) belongs to, by its ID; None: no such record."""

SESSION_COOKIE = "farmwatch_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PAGE = "/login"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What the audit trail's channel column takes; anything else goes to the row's detail.
_CHANNEL_TEXT = re.compile(r"[0-9A-Za-z]{1,20}")
_OWNED_LABELS = {
    Target.LIVE: "live session",
    Target.PLAYBACK: "playback session",
    Target.RECORD_SEARCH: "record search",
    Target.DOWNLOAD: "download",
    Target.CLIP: "evidence clip",
    Target.BROADCAST: "voice broadcast",
}
_FARM_RECORD_LABELS = {Target.ANOMALY: "anomaly"}


@dataclass(slots=True)
class AccessNote:
    """What a handler tells the middleware about its answer: what it opened, on which
    recorded range."""

    object_id: str | None = None
    recorded: RecordedRange | None = None
    detail: dict[str, JsonValue] = field(default_factory=dict)


PRINCIPAL = web.RequestKey("principal", Principal)
ACCESS_NOTE = web.RequestKey("access_note", AccessNote)


def principal_of(request: web.Request) -> Principal:
    """Who the request acts as (set by the middleware on every non-public route)."""
    return request[PRINCIPAL]


def note_opened(
    request: web.Request, object_id: str, recorded: tuple[datetime, datetime] | None = None
) -> None:
    """The handler opened `object_id` (a session, search, download, clip) for the caller."""
    note = request.get(ACCESS_NOTE)
    if note is not None:
        note.object_id = object_id
        if recorded is not None:
            note.recorded = RecordedRange(*recorded)


def note_recorded(request: web.Request, start: datetime, end: datetime) -> None:
    """The recorded range the request is about (for its audit row)."""
    note = request.get(ACCESS_NOTE)
    if note is not None:
        note.recorded = RecordedRange(start, end)


class RouteTableError(RuntimeError):
    """The application's routes and the route rules differ."""


def route_key(route: AbstractRoute) -> RouteKey | None:
    """The rule key of a matched route; None for aiohttp's 404/405 stand-ins."""
    if isinstance(route, SystemRoute) or route.resource is None:
        return None
    method = "GET" if route.method == "HEAD" else route.method
    return RouteKey(method, route.resource.canonical)


def routes_of(app: web.Application) -> set[RouteKey]:
    """Every route of `app` and its sub-applications, HEAD folded into GET."""
    return {key for route in app.router.routes() if (key := route_key(route)) is not None}


def check_route_rules(app: web.Application, rules: Mapping[RouteKey, Rule]) -> None:
    """Raise `RouteTableError` unless every route has a rule and every rule a route, and
    each rule's target is a parameter of its path."""
    routes = routes_of(app)
    problems = [f"{key}: no authorisation rule" for key in sorted(routes - rules.keys(), key=str)]
    problems += [f"{key}: a rule for no route" for key in sorted(rules.keys() - routes, key=str)]
    for key, rule in rules.items():
        if rule.target is not None and f"{{{rule.target.parameter}}}" not in key.path:
            problems.append(f"{key}: the rule's target {{{rule.target.parameter}}} is not in it")
    if problems:
        raise RouteTableError("route rules: " + "; ".join(problems))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _unauthenticated(message: str) -> web.Response:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="farmwatch"'
    return response


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _audit_channel(text: str | None) -> str | None:
    return text if text is not None and _CHANNEL_TEXT.fullmatch(text) else None


def _error_text(response: web.StreamResponse) -> str | None:
    """The `error` of a JSON error answer, for the audit row."""
    if not isinstance(response, web.Response) or response.status < 400:
        return None
    body = response.body
    if not isinstance(body, bytes) or len(body) > 4096:
        return None
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return error[:200] if isinstance(error, str) else None


@dataclass(frozen=True, slots=True)
class _Reached:
    """What the target check found: the camera concerned and what the caller holds."""

    channel_id: str | None = None
    owned: Owned | None = None


def authorization_middleware(
    access: AccessServices,
    audit: AuditLog,
    rules: Mapping[RouteKey, Rule],
    *,
    farm_of: Mapping[Target, FarmOf] | None = None,
) -> Middleware:
    """The middleware checking every request against `rules`; `farm_of` finds the farm of
    each kind of farm record a path may name (`Target.is_farm_record`)."""
    authorization = Authorization(access, audit, rules, farm_of=farm_of or {})

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await authorization.handle(request, handler)

    return middleware


class Authorization:
    """What the middleware does for each request."""

    def __init__(
        self,
        access: AccessServices,
        audit: AuditLog,
        rules: Mapping[RouteKey, Rule],
        *,
        farm_of: Mapping[Target, FarmOf] | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self._access = access
        self._audit = audit
        self._rules = rules
        self._farm_of = farm_of or {}
        self._clock = clock

    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        key = route_key(request.match_info.route)
        if key is None:
            if not _is_api(request.path):
                return await handler(request)
            rule = Rule(Who.SIGNED_IN)  # an unknown API path or method: 401, else 404/405
        else:
            found = self._rules.get(key)
            if found is None:
                log.error("no authorisation rule for %s: refused", key)
                return json_error(500, f"no authorisation rule for {key}")
            rule = found
        if rule.who is Who.ANYONE:
            return await handler(request)
        principal = await self._authenticate(request)
        if not isinstance(principal, Principal):
            if rule.page and request.method in ("GET", "HEAD"):
                target = quote(request.path_qs, safe="")
                return web.Response(status=303, headers={"Location": f"{LOGIN_PAGE}?next={target}"})
            return principal
        if (
            principal.kind is PrincipalKind.SESSION
            and request.method in STATE_CHANGING
            and not same_secret(request.headers.get(CSRF_HEADER, ""), principal.csrf_token or "")
        ):
            return json_error(
                403, f"missing or wrong {CSRF_HEADER} (the csrf_token of the login, or of "
                "GET /api/me)",
            )  # fmt: skip
        request[PRINCIPAL] = principal
        if rule.who is Who.ADMINISTRATOR and not principal.is_administrator:
            return await self._refuse(request, principal, rule, None, "administrators only")
        reached = await self._reach(request, principal, rule)
        if isinstance(reached, web.Response):
            return reached
        note = AccessNote()
        request[ACCESS_NOTE] = note
        response = await handler(request)
        return await self._after(request, principal, rule, reached, note, response)

    async def _authenticate(self, request: web.Request) -> Principal | web.Response:
        now = self._clock()
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, credentials = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                return _unauthenticated("expected Authorization: Bearer <API token>")
            token = await self._access.tokens.resolve(credentials.strip(), now)
            return token or _unauthenticated("unknown, revoked or expired API token")
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return _unauthenticated("log in first (POST /api/login), or send an API token")
        principal = await self._access.sessions.resolve(session_id, now)
        if principal is None:
            response = _unauthenticated("the session has ended: log in again")
            response.del_cookie(SESSION_COOKIE, path="/")
            return response
        return principal

    async def _reach(
        self, request: web.Request, principal: Principal, rule: Rule
    ) -> _Reached | web.Response:
        target = rule.target
        if target is None:
            return _Reached()
        text = request.match_info[target.parameter]
        gate = self._access.gate
        if target is Target.CHANNEL:
            if await gate.channel(principal, text) is Verdict.REFUSED:
                return await self._refuse(
                    request, principal, rule, text, f"channel {text[:40]} is not within your reach"
                )
            return _Reached(channel_id=text)
        if target is Target.DEVICE:
            if await gate.device(principal, text) is Verdict.REFUSED:
                return await self._refuse(
                    request, principal, rule, None, f"device {text[:40]} is not within your reach"
                )
            return _Reached()
        if target is Target.FARM:
            return await self._reach_farm(request, principal, rule, text)
        if target.is_farm_record:
            return await self._reach_farm_record(request, principal, rule, target, text)
        if target in (Target.USER, Target.TOKEN):
            return await self._reach_account(request, principal, rule, target, text)
        return await self._reach_owned(request, principal, rule, target, text)

    async def _reach_farm(
        self, request: web.Request, principal: Principal, rule: Rule, text: str
    ) -> _Reached | web.Response:
        identifier = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
        if identifier is None:
            return json_error(404, f"no farm {text[:40]}")
        verdict = await self._access.gate.farm(principal, identifier)
        if verdict is Verdict.UNKNOWN:
            return json_error(404, f"no farm {identifier}")
        if verdict is Verdict.REFUSED:
            return await self._refuse(
                request, principal, rule, None, f"farm {identifier} is not within your reach"
            )
        return _Reached()

    async def _reach_farm_record(
        self, request: web.Request, principal: Principal, rule: Rule, target: Target, text: str
    ) -> _Reached | web.Response:
        label = _FARM_RECORD_LABELS[target]
        identifier = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
        find = self._farm_of.get(target)
        if find is None:
            log.error("no farm lookup for %s records: refused", label)
            return json_error(500, f"no farm lookup for {label} records")
        farm_id = None if identifier is None else await find(identifier)
        if farm_id is None:
            return json_error(404, f"no {label} {text[:40]}")
        if await self._access.gate.farm(principal, farm_id) is not Verdict.ALLOWED:
            return await self._refuse(
                request, principal, rule, None, f"{label} {identifier} is not within your reach"
            )
        return _Reached()

    async def _reach_account(
        self, request: web.Request, principal: Principal, rule: Rule, target: Target, text: str
    ) -> _Reached | web.Response:
        label = "user" if target is Target.USER else "API token"
        identifier = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
        if identifier is None:
            return json_error(404, f"no {label} {text[:40]}")
        gate = self._access.gate
        check = gate.user if target is Target.USER else gate.token
        verdict = await check(principal, identifier)
        if verdict is Verdict.UNKNOWN:
            return json_error(404, f"no {label} {identifier}")
        if verdict is Verdict.REFUSED:
            return await self._refuse(
                request, principal, rule, None, f"{label} {identifier} is not within your reach"
            )
        return _Reached()

    async def _reach_owned(
        self, request: web.Request, principal: Principal, rule: Rule, target: Target, text: str
    ) -> _Reached | web.Response:
        kind = target.owned_kind
        assert kind is not None
        label = _OWNED_LABELS[target]
        owned = await self._access.owners.owner(kind, text)
        if owned is None:
            return json_error(404, f"no {label} {text[:40]}")
        if not owned.is_held_by(principal):
            return await self._refuse(
                request, principal, rule, owned.channel_id,
                f"this {label} was opened by another login: open your own",
            )  # fmt: skip
        if await self._access.gate.channel(principal, owned.channel_id) is Verdict.REFUSED:
            return await self._refuse(
                request, principal, rule, owned.channel_id,
                f"channel {owned.channel_id} is no longer within your reach",
            )  # fmt: skip
        return _Reached(channel_id=owned.channel_id, owned=owned)

    async def _refuse(
        self,
        request: web.Request,
        principal: Principal,
        rule: Rule,
        channel_id: str | None,
        reason: str,
    ) -> web.Response:
        action = rule.audit or rule.audit_refusal
        if action is not None:
            await self._append(
                request, principal, action, AuditResult.DENIED, channel_id, None,
                {"reason": reason},
            )  # fmt: skip
        return json_error(403, reason)

    async def _after(
        self,
        request: web.Request,
        principal: Principal,
        rule: Rule,
        reached: _Reached,
        note: AccessNote,
        response: web.StreamResponse,
    ) -> web.StreamResponse:
        is_success = response.status < 400
        owners = self._access.owners
        if is_success and rule.opens is not None and note.object_id is not None:
            assert reached.channel_id is not None
            await owners.record(rule.opens, note.object_id, principal, reached.channel_id)
        if is_success and rule.closes and reached.owned is not None:
            owners.forget(reached.owned.kind, reached.owned.object_id)
        if rule.audit is None:
            return response
        if is_success:
            result = AuditResult.OK
        else:
            result = AuditResult.DENIED if response.status == 403 else AuditResult.FAILED
        detail: dict[str, JsonValue] = {"status": response.status, **note.detail}
        if note.object_id is not None:
            detail["id"] = note.object_id
        elif reached.owned is not None:
            detail["id"] = reached.owned.object_id
        error = _error_text(response)
        if error is not None:
            detail["error"] = error
        try:
            await self._append(
                request, principal, rule.audit, result, reached.channel_id, note.recorded, detail
            )
        except Exception:
            # The access happened and cannot be traced: the caller is not given its answer.
            log.exception("audit row for %s %s not written", request.method, request.path)
            if response.prepared:
                return response
            return json_error(500, "the audit trail could not be written; nothing was shown")
        return response

    async def _append(
        self,
        request: web.Request,
        principal: Principal,
        action: AuditAction,
        result: AuditResult,
        channel_id: str | None,
        recorded: RecordedRange | None,
        detail: dict[str, JsonValue],
    ) -> None:
        route = f"{request.method} {request.path[:200]}"
        channel = _audit_channel(channel_id)
        if channel_id is not None and channel is None:
            detail = {**detail, "channel": channel_id[:40]}
        await self._audit.append(
            action,
            principal_actor(principal),
            result=result,
            organisation_id=principal.organisation_id,
            channel_id=channel,
            recorded=recorded,
            source=request.remote,
            detail={"route": route, **detail},
        )
