"""An upper that goes away is noticed on our own clock and registered to again, with a
growing backoff, until it is back."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import pytest

from tests.integration.cascade.tiers import BRANCH, BUREAU, UpperLinkConfig, start_tier
from tests.peers.raw_sip import free_port
from tests.peers.server_process import RunningServer, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.tier_addresses]
_CSEQ = re.compile(rb"^CSeq:\s*(\d+)\s+REGISTER", re.IGNORECASE | re.MULTILINE)


def _attempts(sock: socket.socket, wanted: int, seconds: float) -> list[float]:
    """The first arrival of each REGISTER (by CSeq) at a dead upper's address, until
    `wanted` attempts arrived or `seconds` passed."""
    first: dict[int, float] = {}
    deadline = time.monotonic() + seconds
    while len(first) < wanted and (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            break
        match = _CSEQ.search(data)
        if match is not None:
            first.setdefault(int(match.group(1)), time.monotonic())
    return sorted(first.values())


async def _link(branch: RunningServer) -> dict[str, object]:
    status, body = await asyncio.to_thread(branch.api, "/uppers")
    assert status == 200
    return dict(body["uppers"][0])


async def test_a_lost_upper_is_registered_to_again_with_backoff(tmp_path: Path) -> None:
    port = free_port()
    bureau: RunningServer | None = start_tier(tmp_path, BUREAU, sip_port=port)
    link = UpperLinkConfig(BUREAU, port, keepalive_interval=1.0, retry_interval=0.5)
    branch = start_tier(tmp_path, BRANCH, (link,))
    try:
        async with asyncio.timeout(10):
            while not (await _link(branch))["registered"]:
                await asyncio.sleep(0.1)
        assert bureau is not None
        stop_server(bureau)
        bureau = None
        # A dead upper: its address takes datagrams and never answers.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
            dead.bind((BUREAU.host, port))
            # The loss is noticed 3 keepalive intervals after the last answer, then attempts
            # follow at about 0, 2 and 5 s: 3 of them arrive within 9.5 s of the stop. The
            # bound is generous because a loaded machine delays each step.
            starts = await asyncio.to_thread(_attempts, dead, 3, 20.0)
        status = await _link(branch)
        assert status["registered"] is False and status["state"] in ("retry-wait", "registering")
        assert "no keepalive answered" in str(status["last_error"]) or status["failures"]
        assert len(starts) >= 3, starts
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        # Each attempt waits out its REGISTER (1 s here), then a doubling, jittered pause.
        assert gaps[1] > gaps[0] + 0.3, gaps

        registrations = int(str(status["registrations"]))
        bureau = start_tier(tmp_path, BUREAU, sip_port=port)
        async with asyncio.timeout(15):
            while not (status := await _link(branch))["registered"]:
                await asyncio.sleep(0.2)
        assert int(str(status["registrations"])) > registrations
        assert status["failures"] == 0 and status["last_error"] is None
    finally:
        stop_server(branch)
        if bureau is not None:
            stop_server(bureau)
