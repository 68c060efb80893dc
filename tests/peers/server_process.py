"""Run `farmwatch serve` as a child process on loopback (tests and benchmarks).

Every API route needs a login, so `start_server` first creates the administrator `admin`
(`farmwatch create-admin`, the password piped in) on the server's database, then, once the
server answers, logs in through `POST /api/login` and issues itself an administrator API
token through `POST /api/tokens`. `RunningServer.api()`/`api_post()` send that token;
`RunningServer.auth_headers` is the header for tests that call the API themselves. The token
is kept in the server's folder: a restart on the same data uses it again.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from aiohttp import ClientHandlerType, ClientMiddlewareType, ClientRequest, ClientResponse
from prometheus_client.parser import text_string_to_metric_families

from farmwatch.platform.db import resolve_database_url
from farmwatch.settings import load_settings
from tests.peers.raw_sip import free_port, udp_options

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "conf/farmwatch.toml"
# The tests' own self-signed certificates are taken as they are.
_UNCHECKED_TLS = ssl.create_default_context()
_UNCHECKED_TLS.check_hostname = False
_UNCHECKED_TLS.verify_mode = ssl.CERT_NONE
ADMIN = "admin"
ADMIN_PASSWORD = "Test-Farm-Watch-9"
TOKEN_FILE = "admin-api-token"


@dataclass(frozen=True)
class RunningServer:
    host: str
    sip_port: int
    web_port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    token: str = ""
    """The administrator API token issued at start (empty until then)."""
    organisation_id: int = 0
    """The top organisation, the administrator's."""
    scheme: str = "http"
    """https when started with `[web] tls_cert` (its certificate is not checked here)."""

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.web_port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <the administrator token>`."""
        return {"Authorization": f"Bearer {self.token}"}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, path: str, *, method: str = "GET") -> tuple[int, Any]:
        """Call the REST API as the administrator; the status and the decoded JSON body."""
        return call_json(f"{self.base_url}/api{path}", method, None, self.auth_headers)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of `GET /metrics` (parsed as Prometheus text) by name and labels."""
        request = urllib.request.Request(f"{self.base_url}/metrics", headers=self.auth_headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return float(sample.value)
        raise AssertionError(f"{name} {labels} not exported")

    def api_post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST a JSON body to the REST API as the administrator; the status and the
        decoded JSON answer."""
        return call_json(f"{self.base_url}/api{path}", "POST", body, self.auth_headers)

    def api_call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Any method, with an optional JSON body, as the administrator."""
        return call_json(f"{self.base_url}/api{path}", method, body, self.auth_headers)


def call_json(
    url: str, method: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One HTTP request with an optional JSON body; the status and the decoded JSON answer
    (None for an empty one)."""
    sent = {**(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10, context=_UNCHECKED_TLS) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def server_auth(*servers: RunningServer) -> ClientMiddlewareType:
    """An aiohttp client middleware: a request to one of `servers` (by its web port) that
    carries no credentials of its own gets that server's `auth_headers`. For a session
    shared by tests talking to several platforms, each with its own administrator."""
    by_port = {server.web_port: server for server in servers}

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        server = by_port.get(request.url.port or 0)
        headers = request.headers
        if server is not None and "Authorization" not in headers and "Cookie" not in headers:
            request.headers.update(server.auth_headers)
        return await handler(request)

    return middleware


_TEMPLATES: dict[Path, Path] = {}
"""Per configuration file, a SQLite database holding the administrator, made once by
`farmwatch create-admin` and copied into each fresh server's data folder: the command costs
about a second per server, and the suite starts hundreds of them."""


def create_admin(config: Path, env: dict[str, str], cwd: Path) -> None:
    """The administrator `admin` on the database `env` points at: a copy of the template for a
    fresh embedded database, else `farmwatch create-admin` (a second start on the same data
    finds the administrator there)."""
    database = _fresh_sqlite_database(config, env, cwd)
    if database is not None:
        template = _TEMPLATES.get(config)
        if template is None:
            folder = Path(tempfile.mkdtemp(prefix="fw-admin-template-"))
            atexit.register(shutil.rmtree, folder, True)
            _run_create_admin(config, {**env, "FARMWATCH_STORAGE_DIR": str(folder)}, folder)
            template = _TEMPLATES[config] = folder / database.name
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, database)
        return
    _run_create_admin(config, env, cwd)


def _fresh_sqlite_database(config: Path, env: dict[str, str], cwd: Path) -> Path | None:
    """The embedded database file `serve` (run in `cwd`) will make, when it does not exist."""
    settings = load_settings(config, environ=env)
    if settings.database.url:
        return None
    url = resolve_database_url("", cwd / settings.storage.dir)
    database = Path(url.split(":///", 1)[1])
    return None if database.exists() else database


def _run_create_admin(config: Path, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "farmwatch", "create-admin", ADMIN, "--config", str(config)],
        input=f"{ADMIN_PASSWORD}\n".encode(), env=env, cwd=cwd, capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    if done.returncode != 0 and b"exists" not in done.stderr:
        raise RuntimeError(f"farmwatch create-admin failed: {done.stderr.decode(errors='replace')}")


def log_in(base_url: str, username: str, password: str) -> tuple[str, str, Any]:
    """`POST /api/login`: the session cookie's value, the CSRF token and the user."""
    request = urllib.request.Request(
        f"{base_url}/api/login", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": username, "password": password}).encode(),
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30, context=_UNCHECKED_TLS) as response:
        cookie = SimpleCookie(response.headers["Set-Cookie"])
        body = json.loads(response.read())
    return cookie["farmwatch_session"].value, body["csrf_token"], body["user"]


def issue_token(
    base_url: str, username: str = ADMIN, password: str = ADMIN_PASSWORD
) -> tuple[str, int]:
    """Log in and issue an administrator API token of the user's organisation: (the token,
    the organisation)."""
    session, csrf, user = log_in(base_url, username, password)
    organisation = user["organisation"]["id"]
    headers = {"Cookie": f"farmwatch_session={session}", "X-CSRF-Token": csrf}
    body = {"name": "tests", "role": "administrator", "organisation_id": organisation}
    status, issued = call_json(f"{base_url}/api/tokens", "POST", body, headers)
    if status != 201:
        raise RuntimeError(f"cannot issue an API token: {status} {issued}")
    return issued["token"], organisation


def start_server(
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
    *,
    sip_port: int | None = None,
    new_session: bool = False,
    host: str = "127.0.0.1",
    config: Path = CONFIG,
) -> RunningServer:
    """Start `farmwatch serve` with its data in `tmp_path/data`; wait until SIP and web answer.

    `host`: the loopback address its SIP and media bind to (the web API stays on 127.0.0.1).
    `new_session`: in a process group of its own, which a test may signal as a whole (as
    a terminal's Ctrl-C or systemd's stop does)."""
    port = sip_port or free_port()
    web_port = free_port()
    env = {
        **os.environ,
        "FARMWATCH_SIP_HOST": host,
        **({"FARMWATCH_MEDIA_HOST": host} if host != "127.0.0.1" else {}),
        "FARMWATCH_SIP_PORT": str(port),
        "FARMWATCH_WEB_HOST": "127.0.0.1",
        "FARMWATCH_WEB_PORT": str(web_port),
        "FARMWATCH_STORAGE_DIR": str(tmp_path / "data"),
        **(extra_env or {}),
    }
    log_path = tmp_path / "server.log"
    create_admin(config, env, tmp_path)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "farmwatch", "serve", "--config", str(config)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=new_session,
        )
    scheme = "https" if env.get("FARMWATCH_WEB_TLS_CERT") else "http"
    server = RunningServer(host, port, web_port, process, log_path, scheme=scheme)
    try:
        _wait_until_serving(server)
        token, organisation = _kept_token(server.base_url, tmp_path / TOKEN_FILE)
    except BaseException:
        stop_server(server)  # whatever went wrong, no server is left running behind the test
        raise
    return dataclasses.replace(server, token=token, organisation_id=organisation)


def _wait_until_serving(server: RunningServer) -> None:
    """Until the server answers OPTIONS and /healthz; raises `RuntimeError` otherwise.
    Generous: a start takes 1-2 s on a quiet machine, many times that on a loaded one."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"farmwatch serve exited early:\n{server.log_text()}")
        try:
            answered = udp_options(server.sip_port, timeout=0.2, host=server.host) == 200
            if answered and call_json(f"{server.base_url}/healthz", "GET", None)[0] == 200:
                return
        except OSError:
            pass
    raise RuntimeError(f"farmwatch serve did not answer OPTIONS:\n{server.log_text()}")


def _kept_token(base_url: str, kept: Path) -> tuple[str, int]:
    """The administrator token issued at an earlier start on the same data (tokens outlive
    restarts, and what a token opened stays its own), else a new one, kept for next time."""
    if kept.exists():
        token = kept.read_text().strip()
        status, me = call_json(
            f"{base_url}/api/me", "GET", None, {"Authorization": f"Bearer {token}"}
        )
        if status == 200:
            return token, int(me["organisation"]["id"])
    token, organisation = issue_token(base_url)
    kept.write_text(token)
    return token, organisation


def stop_server(server: RunningServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
