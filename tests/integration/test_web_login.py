"""Logging in to a real `farmwatch serve` through its HTTP API (issue 10 §2): the session
cookie's flags, the CSRF token on every state change, logout, lockout and throttling,
API tokens, the public routes, and the audit rows all of it leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest

from tests.peers.server_process import (
    ADMIN,
    ADMIN_PASSWORD,
    RunningServer,
    start_server,
    stop_server,
)

MONITOR_PASSWORD = "Monitor-Pass-42"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("web-login"),
        {
            "FARMWATCH_ACCESS_LOCKOUT_FAILURES": "3",
            "FARMWATCH_ACCESS_THROTTLE_PER_ACCOUNT": "5",
            "FARMWATCH_ACCESS_THROTTLE_PER_SOURCE": "1000",
        },
    )
    try:
        yield running
    finally:
        stop_server(running)


class Browser:
    """One client with its own cookies, as a browser tab of one person."""

    def __init__(self, server: RunningServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.csrf = ""
        self.set_cookie = ""
        self.headers: Any = {}

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        url = self.server.base_url + path
        async with self.http.request(method, url, json=body, headers=headers) as response:
            self.set_cookie = response.headers.get("Set-Cookie", "")
            self.headers = response.headers
            text = await response.text()
            return response.status, (await response.json()) if text else None

    async def login(self, username: str, password: str) -> tuple[int, Any]:
        status, body = await self.call(
            "POST", "/api/login", {"username": username, "password": password}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status, body

    async def change(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A state change as the console makes it: with the session's CSRF token."""
        return await self.call(method, path, body, {"X-CSRF-Token": self.csrf})


@pytest.fixture
async def browsers(server: RunningServer) -> AsyncIterator[list[Browser]]:
    sessions = [
        aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
        )
        for _ in range(3)
    ]
    try:
        yield [Browser(server, http) for http in sessions]
    finally:
        await asyncio.gather(*(http.close() for http in sessions))


async def _create_monitor(server: RunningServer, admin: Browser, name: str) -> int:
    status, user = await admin.change(
        "POST", "/api/users",
        {"username": name, "display_name": name, "organisation_id": server.organisation_id,
         "role": "monitor", "password": MONITOR_PASSWORD},
    )  # fmt: skip
    assert status == 201, user
    return int(user["id"])


async def test_login_sets_an_httponly_samesite_cookie_and_answers_the_csrf_token(
    browsers: list[Browser],
) -> None:
    browser = browsers[0]
    status, body = await browser.login(ADMIN, ADMIN_PASSWORD)
    assert status == 200, body
    cookie = SimpleCookie(browser.set_cookie)["farmwatch_session"]
    assert len(cookie.value) >= 43
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain HTTP here; see the TLS test
    assert not cookie["max-age"] and not cookie["expires"]  # ends with the browser
    assert len(body["csrf_token"]) >= 43 and body["user"]["username"] == ADMIN
    status, me = await browser.call("GET", "/api/me")
    assert status == 200 and me["csrf_token"] == body["csrf_token"]
    assert me["role"] == "administrator" and me["organisation"]["tier"] == "national"


async def test_a_state_change_with_the_cookie_but_without_the_csrf_token_is_refused(
    server: RunningServer, browsers: list[Browser]
) -> None:
    browser = browsers[0]
    await browser.login(ADMIN, ADMIN_PASSWORD)
    path = "/api/devices/34020000001320000001/catalog"
    # What a page of another site can make the browser send: the cookie, no token.
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}, {"X-CSRF-Token": ""}):
        status, body = await browser.call("POST", path, headers=headers)
        assert status == 403 and "X-CSRF-Token" in body["error"], body
    status, body = await browser.call(
        "POST", path, headers={"Origin": "http://evil.example", "X-CSRF-Token": browser.csrf}
    )
    assert status == 403 and "allowed_origins" in body["error"]
    assert (await browser.change("POST", path))[0] == 404  # reached the handler: no device
    # Reading needs no token; an API token needs none either (no browser sends it alone).
    assert (await browser.call("GET", "/api/devices"))[0] == 200
    status, _ = await browser.call("POST", path, headers=server.auth_headers)
    assert status == 404


async def test_anonymous_callers_get_401_and_only_the_public_routes(
    server: RunningServer, browsers: list[Browser]
) -> None:
    anonymous = browsers[1]
    for method, path in (
        ("GET", "/api/devices"), ("GET", "/api/me"), ("GET", "/metrics"),
        ("POST", "/api/channels/34020000001310000001/live"), ("GET", "/api/audit"),
        ("GET", "/api/live/x/stream.mp4"), ("GET", "/api/no-such-route"),
        ("PATCH", "/api/devices"), ("POST", "/api/logout"),
    ):  # fmt: skip
        status, body = await anonymous.call(method, path)
        assert status == 401, (method, path, body)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert await anonymous.call("GET", "/healthz") == (200, {"status": "ok"})
    url = f"{server.base_url}/live?channel=34020000001310000001"
    async with anonymous.http.get(url, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == (
            "/login?next=%2Flive%3Fchannel%3D34020000001310000001"
        )
    async with anonymous.http.get(f"{server.base_url}/login") as response:
        assert response.status == 200 and "login-form" in await response.text()
        assert response.headers["X-Frame-Options"] == "DENY"
    for header in ("Bearer fwt_not-a-token", "Basic YWRtaW46eA==", "Bearer"):
        status, body = await anonymous.call("GET", "/api/me", headers={"Authorization": header})
        assert status == 401, body


async def test_logout_ends_the_session(server: RunningServer, browsers: list[Browser]) -> None:
    browser, other = browsers[0], browsers[1]
    await browser.login(ADMIN, ADMIN_PASSWORD)
    await other.login(ADMIN, ADMIN_PASSWORD)
    assert (await browser.call("POST", "/api/logout"))[0] == 403  # no CSRF token
    assert (await browser.change("POST", "/api/logout"))[0] == 204
    assert 'farmwatch_session=""' in browser.set_cookie or "Max-Age=0" in browser.set_cookie
    assert (await browser.call("GET", "/api/me"))[0] == 401
    assert (await other.call("GET", "/api/me"))[0] == 200  # another login of the same person
    status, body = await other.call("POST", "/api/logout", headers=server.auth_headers)
    assert status == 400 and "API token" in body["error"]


async def test_an_account_locks_after_the_configured_failures_until_unlocked(
    server: RunningServer, browsers: list[Browser]
) -> None:
    admin, person = browsers[0], browsers[1]
    await admin.login(ADMIN, ADMIN_PASSWORD)
    user_id = await _create_monitor(server, admin, "lock.me")
    for _ in range(2):
        status, body = await person.login("lock.me", "Wrong-Pass-42")
        assert status == 401 and body == {"error": "wrong username or password"}
    status, body = await person.login("lock.me", "Wrong-Pass-42")  # the 3rd ([access])
    assert status == 423 and "locked" in body["error"]
    assert 890 <= int(person.headers["Retry-After"]) <= 900
    status, _ = await person.login("lock.me", MONITOR_PASSWORD)  # right, but locked
    assert status == 423
    status, user = await admin.call("GET", f"/api/users/{user_id}")
    assert status == 200 and user["locked_until"] is not None
    assert (await admin.change("POST", f"/api/users/{user_id}/unlock"))[0] == 200
    assert (await person.login("lock.me", MONITOR_PASSWORD))[0] == 200


async def test_failed_logins_of_one_name_are_throttled_and_a_disabled_account_refused(
    server: RunningServer, browsers: list[Browser]
) -> None:
    admin, person = browsers[0], browsers[2]
    for _ in range(5):  # throttle_per_account
        assert (await person.login("nobody.here", "Some-Pass-42"))[0] == 401
    status, body = await person.login("nobody.here", "Some-Pass-42")
    assert status == 429 and int(person.headers["Retry-After"]) > 0, body

    await admin.login(ADMIN, ADMIN_PASSWORD)
    user_id = await _create_monitor(server, admin, "off.duty")
    assert (await person.login("off.duty", MONITOR_PASSWORD))[0] == 200
    status, _ = await admin.change("PUT", f"/api/users/{user_id}/enabled", {"enabled": False})
    assert status == 200
    assert (await person.call("GET", "/api/me"))[0] == 401  # its sessions ended
    status, body = await person.login("off.duty", MONITOR_PASSWORD)
    assert status == 403 and "disabled" in body["error"]
    status, body = await person.login("off.duty", "Wrong-Pass-42")
    assert status == 401  # a wrong password learns nothing about the account


async def test_api_tokens_are_shown_once_used_as_bearer_and_revoked(
    server: RunningServer, browsers: list[Browser]
) -> None:
    admin, integration = browsers[0], browsers[1]
    await admin.login(ADMIN, ADMIN_PASSWORD)
    status, issued = await admin.change(
        "POST", "/api/tokens",
        {"name": "reports", "role": "monitor", "organisation_id": server.organisation_id,
         "grants": [{"kind": "channel", "target": "34020000001310000001"}]},
    )  # fmt: skip
    assert status == 201 and issued["token"].startswith("fwt_"), issued
    assert issued["grants"][0]["target"] == "34020000001310000001"
    status, listed = await admin.call("GET", "/api/tokens")
    assert status == 200 and issued["token"] not in str(listed)
    assert all("token" not in token for token in listed["tokens"])
    assert any(token["name"] == "reports" for token in listed["tokens"])
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    status, me = await integration.call("GET", "/api/me", headers=bearer)
    assert status == 200 and (me["kind"], me["role"]) == ("token", "monitor")
    assert "csrf_token" not in me
    status, _ = await integration.call("GET", "/api/users", headers=bearer)
    assert status == 403  # a monitor
    status, _ = await integration.call("GET", "/api/users", headers=server.auth_headers)
    assert status == 403  # an administrator token manages no accounts
    status, revoked = await admin.change("DELETE", f"/api/tokens/{issued['id']}")
    assert status == 200 and revoked["revoked_at"] is not None
    assert (await integration.call("GET", "/api/me", headers=bearer))[0] == 401


async def test_logins_logouts_and_changes_leave_audit_rows(
    server: RunningServer, browsers: list[Browser]
) -> None:
    admin, person = browsers[0], browsers[2]
    await person.login(ADMIN, "Wrong-Pass-42")
    await admin.login(ADMIN, ADMIN_PASSWORD)
    await person.login(ADMIN, ADMIN_PASSWORD)
    await person.change("POST", "/api/logout")
    status, page = await admin.call("GET", "/api/audit?limit=4")
    assert status == 200
    rows = page["rows"]
    assert [(row["action"], row["result"]) for row in reversed(rows)] == [
        ("login_failed", "denied"), ("login", "ok"), ("login", "ok"), ("logout", "ok"),
    ]  # fmt: skip
    assert all(row["source"] == "127.0.0.1" and row["actor"]["name"] == ADMIN for row in rows)
    assert all(row["organisation_id"] == server.organisation_id for row in rows)
    assert rows[0]["prev_hash"] == rows[1]["row_hash"]
    older = await admin.call("GET", f"/api/audit?limit=4&before_id={page['next_before_id']}")
    assert older[0] == 200 and all(row["id"] < rows[-1]["id"] for row in older[1]["rows"])
    status, verified = await admin.call("GET", "/api/audit/verify")
    assert status == 200 and verified["intact"] and verified["rows"] >= len(rows)


async def test_a_password_against_the_policy_is_a_400_saying_every_rule_broken(
    server: RunningServer, browsers: list[Browser]
) -> None:
    admin = browsers[0]
    await admin.login(ADMIN, ADMIN_PASSWORD)
    status, body = await admin.change(
        "POST", "/api/users",
        {"username": "weak.one", "organisation_id": server.organisation_id, "role": "monitor",
         "password": "weak.one"},
    )  # fmt: skip
    assert status == 400, body
    assert "username" in body["error"] and "characters" in body["error"]
