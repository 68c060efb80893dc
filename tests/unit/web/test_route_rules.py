"""Every route of the web application has an authorisation rule: the application refuses to
be built otherwise, and the media routes are bound to a camera or to who opened them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp import web

from farmwatch.web.app import WebAccess, WebServices, create_web_app
from farmwatch.web.authorization import RouteTableError, routes_of
from farmwatch.web.route_rules import ROUTE_RULES, RouteKey, Rule, Target, Who
from farmwatch.web.security import HostPolicy


def _services() -> WebServices:
    """Stand-ins: building the application only stores them."""
    fields = {f.name: None for f in dataclasses.fields(WebServices)}
    fields["access"] = WebAccess(None, None, None)  # type: ignore[arg-type]
    return WebServices(**fields)  # type: ignore[arg-type]


def build(rules: Any = ROUTE_RULES) -> web.Application:
    return create_web_app(
        _services(), HostPolicy.build("127.0.0.1", (), ()), None,  # type: ignore[arg-type]
        rules=rules,
    )  # fmt: skip


def test_the_rules_cover_exactly_the_routes_of_the_application() -> None:
    assert routes_of(build()) == set(ROUTE_RULES)


def test_a_route_without_a_rule_stops_the_application_being_built() -> None:
    missing = dict(ROUTE_RULES)
    del missing[RouteKey("GET", "/api/clips/{clip_id}/file")]
    with pytest.raises(RouteTableError, match=r"GET /api/clips/\{clip_id\}/file: no authorisation"):
        build(missing)


def test_a_rule_for_no_route_or_naming_a_missing_parameter_is_refused() -> None:
    extra = {**ROUTE_RULES, RouteKey("GET", "/api/forgotten"): Rule(Who.SIGNED_IN)}
    with pytest.raises(RouteTableError, match="a rule for no route"):
        build(extra)
    wrong = {**ROUTE_RULES, RouteKey("GET", "/api/devices"): Rule(Who.SIGNED_IN, Target.CHANNEL)}
    with pytest.raises(RouteTableError, match="channel_id"):
        build(wrong)


MEDIA_PREFIXES = ("/api/live/", "/api/playback/", "/api/downloads/", "/api/clips/",
                  "/api/record-searches/", "/api/channels/")  # fmt: skip


def test_every_media_route_names_a_camera_or_what_its_caller_opened() -> None:
    for key, rule in ROUTE_RULES.items():
        if key.path.startswith(MEDIA_PREFIXES):
            assert rule.target is not None, key
            assert rule.target is Target.CHANNEL or rule.target.owned_kind is not None, key


def test_only_the_login_the_login_page_the_health_check_and_device_uploads_are_public() -> None:
    public = {str(key) for key, rule in ROUTE_RULES.items() if rule.who is Who.ANYONE}
    assert public == {
        "POST /api/login", "GET /login", "GET /healthz",
        # a camera's upload of the pictures asked of it: the path's token is the credential
        "POST /api/device-snapshots/uploads/{token}", "PUT /api/device-snapshots/uploads/{token}",
    }  # fmt: skip
