"""The web server of a real `farmwatch serve` refuses foreign Host names (DNS rebinding)
and state changes asked for by foreign web pages (Origin), before it looks at credentials
(the requests here carry the administrator's API token)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.peers.server_process import RunningServer, start_server, stop_server

ALLOWED_HOST = "farmwatch.example.gov"
ALLOWED_ORIGIN = "https://console.example.gov"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("web-security"),
        {
            "FARMWATCH_WEB_ALLOWED_HOSTS": ALLOWED_HOST,
            "FARMWATCH_WEB_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
        },
    )
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _call(
    http: aiohttp.ClientSession,
    server: RunningServer,
    method: str,
    path: str,
    headers: dict[str, str],
) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.web_port}{path}"
    async with http.request(method, url, headers={**server.auth_headers, **headers}) as response:
        return response.status, await response.text()


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "localhost.evil.example:{port}",
        "127.0.0.1.evil.example",
        "evil.example.:{port}",
        "127.0.0.1:notaport",
        "evil.example@127.0.0.1:{port}",
    ],
)
@pytest.mark.parametrize("path", ["/api/devices", "/live?channel=1"])
async def test_a_foreign_host_name_is_refused(
    server: RunningServer, http: aiohttp.ClientSession, host: str, path: str
) -> None:
    status, body = await _call(
        http, server, "GET", path, {"Host": host.format(port=server.web_port)}
    )
    assert status == 400, body
    assert "Host" in body or "allowed_hosts" in body


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "127.0.0.1",
        "localhost:{port}",
        "LOCALHOST",
        "[::1]:{port}",
        "192.0.2.7:{port}",  # any IP address: rebinding needs a name
        ALLOWED_HOST,
        ALLOWED_HOST.upper() + ".:443",
    ],
)
async def test_own_names_and_ip_addresses_are_answered(
    server: RunningServer, http: aiohttp.ClientSession, host: str
) -> None:
    status, body = await _call(
        http, server, "GET", "/api/devices", {"Host": host.format(port=server.web_port)}
    )
    assert status == 200, body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/devices/34020000001320000001/catalog"),
        ("POST", "/api/channels/34020000001310000001/live"),
        ("DELETE", "/api/live/some-session"),
        ("PUT", "/api/devices"),
        ("PATCH", "/api/devices"),
    ],
)
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",
        "http://127.0.0.1:1",  # our host, another port: another origin
        "http://127.0.0.1.evil.example:{port}",
        "garbage",
    ],
)
async def test_a_state_change_from_a_foreign_page_is_refused(
    server: RunningServer, http: aiohttp.ClientSession, method: str, path: str, origin: str
) -> None:
    headers = {"Origin": origin.format(port=server.web_port)}
    status, body = await _call(http, server, method, path, headers)
    assert status == 403, body
    assert "allowed_origins" in body


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts
        {"Origin": "http://127.0.0.1:{port}"},  # the live page itself
        {"Origin": "http://localhost:{port}", "Host": "localhost:{port}"},
        {"Origin": "https://farmwatch.example.gov", "Host": "farmwatch.example.gov"},
        {"Origin": ALLOWED_ORIGIN},
        {"Origin": ALLOWED_ORIGIN + ":443"},
    ],
)
async def test_a_state_change_from_our_own_page_or_without_origin_goes_through(
    server: RunningServer, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    sent = {name: value.format(port=server.web_port) for name, value in headers.items()}
    path = "/api/devices/34020000001320000001/catalog"
    status, body = await _call(http, server, "POST", path, sent)
    assert status == 404 and "no device" in body, body  # reached the handler


async def test_reading_is_not_restricted_by_origin(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, body = await _call(
        http, server, "GET", "/api/devices", {"Origin": "http://evil.example"}
    )
    assert status == 200, body
    assert "access-control-allow-origin" not in body.lower()


def test_by_default_only_own_names_are_answered(tmp_path: Path) -> None:
    """Without allowed_hosts, a name that works above is refused."""
    running = start_server(tmp_path)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{running.web_port}/api/devices", headers={"Host": ALLOWED_HOST}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
    finally:
        stop_server(running)
