"""`make demo` (scripts/demo.py) brings up the three tiers and the farm, and the farm's
cameras reach the national tier, from a clean data folder."""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.peers.raw_sip import free_port

pytestmark = [pytest.mark.slow, pytest.mark.tier_addresses]
ROOT = Path(__file__).resolve().parents[3]


def _free_web_ports(count: int) -> int:
    """The first of `count` consecutive TCP ports free on 127.0.0.1 now (the demo's tiers
    listen on its `--web-port` and the ports after it; one free port alone was seen taken
    by a neighbour's server at +1)."""
    for _ in range(50):
        first = free_port()
        with ExitStack() as held:
            try:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise RuntimeError(f"no {count} consecutive free ports found")


def test_the_demo_reaches_the_national_tier(tmp_path: Path) -> None:
    web = _free_web_ports(3)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/demo.py"), "--until-ready",
         "--data", str(tmp_path / "demo-data"), "--web-port", str(web),
         "--sip-port", str(free_port()), "--devices", "1", "--channels", "2"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    logs = "".join(
        f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
        for log in sorted((tmp_path / "demo-data").glob("*.log"))
    )
    assert result.returncode == 0, result.stdout + result.stderr + logs
    assert f"National platform: http://127.0.0.1:{web}/" in result.stdout
