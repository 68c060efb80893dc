"""Devices registering to `farmwatch serve`: independent pjsua2 peers (issue 3)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import ROOT, RunningServer

DEVICE = "34020000001320000011"


@contextmanager
def pjsua_device(server: RunningServer, transport: str, **options: str) -> Iterator[dict[str, Any]]:
    """A pjsua2 device that registers, sends keepalives and stays registered meanwhile."""
    arguments = [
        sys.executable, "-m", "tests.peers.pjsua_peer", "register",
        "--server", f"127.0.0.1:{server.sip_port}",
        "--transport", transport,
        "--hold", "20",
    ]  # fmt: skip
    for name, value in options.items():
        arguments += [f"--{name.replace('_', '-')}", value]
    process = subprocess.Popen(
        arguments, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        line = ""
        for line in process.stdout:  # pjsua2 prints its JSON line before holding
            if line.startswith("{"):
                break
        assert line.startswith("{"), "pjsua2 printed nothing"
        yield dict(json.loads(line))
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(probe: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll an observable condition until it holds, bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pjsua2_registers_with_digest_and_is_listed_online(
    farmwatch_server: RunningServer, transport: str
) -> None:
    device = DEVICE[:-1] + ("1" if transport == "udp" else "2")
    with pjsua_device(farmwatch_server, transport, device=device, keepalives="2") as observed:
        assert observed["register"] == 200
        assert observed["keepalives"] == [200, 200]

        def listed() -> dict[str, Any] | None:
            status, body = farmwatch_server.api(f"/devices/{device}")
            if status == 200 and body["online"] and body["last_keepalive_at"]:
                return dict(body)
            return None

        body = wait_for(listed, f"device {device} online with a keepalive")
        assert body["transport"] == transport.upper()
        assert body["address"].startswith("127.0.0.1:")
        status, page = farmwatch_server.api("/devices?online=true")
        assert status == 200 and device in [d["device_id"] for d in page["devices"]]


def test_pjsua2_with_a_wrong_password_is_refused(farmwatch_server: RunningServer) -> None:
    with pjsua_device(
        farmwatch_server, "udp", device="34020000001320000019", password="not-the-password"
    ) as observed:
        assert observed["register"] == 403
    assert farmwatch_server.api("/devices/34020000001320000019")[0] == 404


def test_api_errors_are_json(farmwatch_server: RunningServer) -> None:
    assert farmwatch_server.api("/devices/34020000001320009999") == (
        404,
        {"error": "no device 34020000001320009999"},
    )
    status, body = farmwatch_server.api("/devices?limit=abc")
    assert status == 400 and "limit" in body["error"]
    status, body = farmwatch_server.api("/nothing-here")
    assert status == 404 and "error" in body
