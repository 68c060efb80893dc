"""Run `farmwatch serve` as a child process on loopback (tests and benchmarks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.peers.raw_sip import free_port, udp_options

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "conf/farmwatch.toml"


@dataclass(frozen=True)
class RunningServer:
    host: str
    sip_port: int
    web_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, path: str, *, method: str = "GET") -> tuple[int, Any]:
        """Call the REST API; returns the status and the decoded JSON body."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}/api{path}", method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def api_post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST a JSON body to the REST API; the status and the decoded JSON answer."""
        return _post_json(f"http://127.0.0.1:{self.web_port}/api{path}", body)


def _post_json(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


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
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "farmwatch", "serve", "--config", str(config)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=new_session,
        )
    server = RunningServer(host, port, web_port, process, log_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"farmwatch serve exited early:\n{server.log_text()}")
        try:
            answered = udp_options(port, timeout=0.2, host=host) == 200
            if answered and server.api("/devices?limit=1")[0] == 200:
                return server
        except OSError:
            pass
    stop_server(server)
    raise RuntimeError(f"farmwatch serve did not answer OPTIONS:\n{server.log_text()}")


def stop_server(server: RunningServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
