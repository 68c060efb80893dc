"""schemathesis against a real `farmwatch serve` (issue 10 §6): every operation of
`/api/openapi.json`, called as the administrator (a console session) with data generated from the
document, answers no 5xx, and only the statuses, content types and bodies it describes.

A small fixed budget (derandomized, a few examples per operation) keeps the run short; the
operations left out are the ones whose side effects would end the run (the caller's own
logout, its own account's role, state or password) and the media streams,
which do not end.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import ServerError

from farmwatch.web.authorization import CSRF_HEADER, SESSION_COOKIE
from farmwatch.web.openapi.operations import OPERATIONS
from farmwatch.web.route_rules import RouteKey
from tests.e2e.live_helpers import PLATFORM
from tests.peers.server_process import (
    ADMIN,
    ADMIN_PASSWORD,
    RunningServer,
    call_json,
    log_in,
    start_server,
    stop_server,
)


@schemathesis.check
def not_an_internal_error(ctx: Any, response: Any, case: Any) -> None:
    """No 500. The 501-504 of a device that cannot, refuses, is offline or stays silent are
    answers like any other, held to the document by status_code_conformance."""
    if response.status_code == 500 or response.status_code > 504:
        raise ServerError(operation=case.operation.label, status_code=response.status_code)


CHECKS = [
    not_an_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXCLUDED = {
    RouteKey("POST", "/api/logout"): "would end the test's own session",
    RouteKey("GET", "/api/live/{session}/stream.mp4"): "a media stream",
    RouteKey("GET", "/api/live/{session}/hls/{name}"): "a media stream",
    RouteKey("GET", "/api/playback/{session}/stream.mp4"): "a media stream",
    RouteKey("GET", "/api/playback/{session}/hls/{name}"): "a media stream",
}
TESTED = sorted(OPERATIONS.keys() - EXCLUDED.keys(), key=lambda k: (k.method == "DELETE", str(k)))
"""Deletions last: what they end is used by the others first."""
EXAMPLES = 6
"""Generated calls per operation: valid data, as many with the registered camera where the
path names a device or a channel, and half as many invalid."""
OWN_ACCOUNT = ("/api/users/{user_id}/role", "/api/users/{user_id}/enabled",
               "/api/users/{user_id}/password")  # fmt: skip
"""Called for every account but the administrator's own (the token acts for it)."""


@dataclass(frozen=True)
class Rig:
    server: RunningServer
    device_id: str
    channel_id: str


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The server and a simulated camera registered to it, so that device and channel
    operations also reach real objects (and a device that answers), not only 404s. The
    server stops first: it ends its calls while the camera still answers the BYEs."""
    folder = tmp_path_factory.mktemp("openapi")
    # A device that sends no video is a 502 after the start timeout: a short one.
    server = start_server(folder, {"FARMWATCH_MEDIA_START_TIMEOUT": "5"})
    log = (folder / "simulator.log").open("wb")
    simulator = subprocess.Popen(
        [sys.executable, "-m", "farmwatch", "simulate", "--server",
         f"127.0.0.1:{server.sip_port}", "--server-id", PLATFORM, "--bind", "127.0.0.1",
         "--devices", "1", "--channels", "2", "--width", "320", "--height", "180",
         "--fps", "10", "--bitrate", "200"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield _registered_camera(server)
    finally:
        stop_server(server)
        simulator.kill()  # it would wait 10 s to unregister from the stopped server
        simulator.wait(10)
        log.close()
    assert "Traceback" not in server.log_text()


def _registered_camera(server: RunningServer) -> Rig:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, page = server.api("/devices")
        if status == 200 and page["devices"]:
            device_id = page["devices"][0]["device_id"]
            status, tree = server.api(f"/devices/{device_id}/channels")
            channels = [node["channel_id"] for node in tree.get("channels", ())]
            if status == 200 and channels:
                return Rig(server, device_id, channels[0])
        time.sleep(0.1)
    raise AssertionError("the simulated camera did not register with its catalog")


@dataclass(frozen=True)
class Login:
    cookie: str
    csrf: str
    user_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}", CSRF_HEADER: self.csrf}


@pytest.fixture(scope="module")
def login(rig: Rig) -> Login:
    """The administrator's console session: an API token may not manage accounts, grants or
    tokens, so those operations would stop at a 403 for the token."""
    cookie, csrf, user = log_in(rig.server.base_url, ADMIN, ADMIN_PASSWORD)
    return Login(cookie, csrf, int(user["user_id"]))


@pytest.fixture(scope="module")
def opened(rig: Rig, login: Login) -> dict[str, dict[str, str]]:
    """What the test's session opens before the run (a live view, a playback, a download, an
    evidence clip, a record search; a monitor's account with a grant), by the path that names
    it, so that the operations on them reach real ones: they answer only who opened them."""
    base = f"{rig.server.base_url}/api"

    def call(method: str, path: str, body: Any = None) -> Any:
        status, answer = call_json(f"{base}{path}", method, body, login.headers)
        assert status < 300, (method, path, status, answer)
        return answer

    channel = f"/channels/{rig.channel_id}"
    # Yesterday morning, in the simulator's record index (and in the zone of both).
    day = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).date().isoformat()
    span = {"start": f"{day}T08:00:00", "end": f"{day}T08:00:10"}
    monitor = call("POST", "/users", {
        "username": "schemathesis-monitor", "organisation_id": rig.server.organisation_id,
        "role": "monitor", "password": "Correct-horse-battery-9",
    })  # fmt: skip
    call("POST", f"/users/{monitor['id']}/grants", {"kind": "channel", "target": rig.channel_id})
    range_query = f"start={day}T08:00:00&end={day}T09:00:00&wait=false"
    found: dict[str, dict[str, str]] = {
        "/api/users/": {"user_id": monitor["id"], "kind": "channel", "target": rig.channel_id},
        "/api/downloads/": {"task_id": call("POST", f"{channel}/downloads", span)["id"]},
        "/api/clips/": {"clip_id": call("POST", f"{channel}/clips", {**span, "reason": "x"})["id"]},
        "/api/record-searches/": {
            "search_id": call("GET", f"{channel}/records?{range_query}")["search"]
        },
    }
    # A stream may miss the start timeout on a loaded machine: then the run calls its
    # operations with generated sessions only.
    for prefix, path, body in (("/api/live/", "live", None), ("/api/playback/", "playback", span)):
        status, answer = call_json(f"{base}{channel}/{path}", "POST", body, login.headers)
        if status == 201:
            found[prefix] = {"session": answer["session"]}
    return found


def _known(key: RouteKey, rig: Rig, opened: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The path's parameters that name the camera or something opened before the run."""
    known: dict[str, Any] = {"device_id": rig.device_id, "channel_id": rig.channel_id}
    for prefix, names in opened.items():
        if key.path.startswith(prefix):
            known.update(names)
    return {name: value for name, value in known.items() if f"{{{name}}}" in key.path}


@pytest.fixture(scope="module")
def api_schema(rig: Rig) -> Any:
    server = rig.server
    return schemathesis.openapi.from_url(
        f"{server.base_url}/api/openapi.json", headers=server.auth_headers
    )


@pytest.mark.parametrize("key", TESTED, ids=str)
def test_the_api_answers_as_its_description_says(
    key: RouteKey, api_schema: Any, rig: Rig, login: Login, opened: dict[str, dict[str, str]]
) -> None:
    operation = api_schema[key.path][key.method]
    runs = [(operation.as_strategy(GenerationMode.POSITIVE), EXAMPLES)]
    described = OPERATIONS[key]
    if "{" in key.path or described.query or described.request is not None:
        runs.append((operation.as_strategy(GenerationMode.NEGATIVE), EXAMPLES // 2))
    holes = _known(key, rig, opened)
    if holes:  # and the registered camera, or what the session opened
        cases = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=holes)
        runs.append((cases, EXAMPLES))
    # The document's example of the operation, at the camera where it names one.
    explicit = operation.get_strategies_from_examples(
        **({"path_parameters": holes} if holes else {})
    )
    runs += [(cases, 1) for cases in explicit]
    for cases, examples in runs:
        _run(cases, examples, key, rig.server, login)


def _run(cases: Any, examples: int, key: RouteKey, server: RunningServer, login: Login) -> None:
    @given(cases)
    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        if key.path in OWN_ACCOUNT and case.path_parameters.get("user_id") == login.user_id:
            return
        if key.path in ("/api/alarms/events", "/api/faults/events", "/api/anomalies/events"):
            case.query = {**(case.query or {}), "wait": 0}  # a long poll: answer at once
        # schemathesis fills the document's security schemes (a bearer token, the session
        # cookie, the CSRF header) with generated values: the test's own login replaces them.
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = {**headers, CSRF_HEADER: login.csrf}
        case.cookies = {**(case.cookies or {}), SESSION_COOKIE: login.cookie}
        case.call_and_validate(base_url=server.base_url, checks=CHECKS, timeout=15)

    call()


def test_the_docs_page_is_served_with_its_own_code_only(rig: Rig, login: Login) -> None:
    server = rig.server
    started = time.monotonic()
    status, document = call_json(f"{server.base_url}/api/openapi.json", "GET", None, login.headers)
    assert status == 200 and document["openapi"].startswith("3.1")
    request = urllib.request.Request(f"{server.base_url}/api/docs", headers=login.headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "/api/openapi.json" in page and "default-src 'none'" in policy
    assert time.monotonic() - started < 5


def test_the_document_needs_a_login(rig: Rig) -> None:
    status, _ = call_json(f"{rig.server.base_url}/api/openapi.json", "GET", None, {})
    assert status == 401
