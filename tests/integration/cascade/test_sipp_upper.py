"""sipp as an independent upper platform: our REGISTER, our answers to its catalog query and
to its live INVITE offering TCP active media, checked by sipp's own scenario
(tests/data/sipp/upper_platform_uas.xml)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from farmwatch.simulator import running_simulator
from tests.integration.cascade.tiers import (
    BRANCH,
    BUREAU,
    FARM_HOST,
    PASSWORD,
    UpperLinkConfig,
    start_tier,
)
from tests.peers.raw_sip import free_port
from tests.peers.server_process import stop_server
from tests.peers.sipp import SCENARIOS

pytestmark = [pytest.mark.slow, pytest.mark.tier_addresses]


async def test_sipp_upper_checks_our_register_catalog_answer_and_tcp_active_answer(
    tmp_path: Path,
) -> None:
    port = free_port()
    link = UpperLinkConfig(BUREAU, port, keepalive_interval=2.0, retry_interval=0.5)
    branch = start_tier(tmp_path, BRANCH, (link,))
    try:
        async with running_simulator(
            server=(BRANCH.host, branch.sip_port), server_id=BRANCH.platform_id,
            channels=1, password=PASSWORD, host=FARM_HOST, request_timeout=2.0,
        ) as farm:  # fmt: skip
            channel = farm.devices[0].channels.items[0].device_id
            assert (channel, BRANCH.host) == ("44010000001310000001", "127.0.0.13")  # the XML's
            async with asyncio.timeout(10):
                while True:
                    status, body = await asyncio.to_thread(
                        branch.api, f"/devices/{farm.device_ids[0]}/catalog"
                    )
                    if status == 200 and body["state"] == "complete":
                        break
                    await asyncio.sleep(0.1)
            sipp = await asyncio.create_subprocess_exec(
                "sipp", "-sf", str(SCENARIOS / "upper_platform_uas.xml"),
                "-i", BUREAU.host, "-p", str(port), "-m", "1", "-l", "1", "-t", "u1",
                "-key", "channel", channel, "-key", "password", PASSWORD,
                "-key", "branch_ip", BRANCH.host,
                "-timeout", "30s", "-nostdin", "-trace_err",
                "-error_file", str(tmp_path / "sipp.errors"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(sipp.communicate(), timeout=40)
            errors = tmp_path / "sipp.errors"
            detail = output.decode(errors="replace")[-3000:]
            if errors.exists():
                detail += errors.read_text(errors="replace")[-3000:]
            assert sipp.returncode == 0, detail
    finally:
        stop_server(branch)
    log = branch.log_text()
    assert "upper bureau (44000000002000000001): registered" in log
    assert f"channel {channel} relayed in call" in log
    assert "upper bureau ended call" in log  # sipp's BYE
