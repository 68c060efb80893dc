"""`farmwatch simulate` as an operator runs it: a separate process against a platform."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable

import pytest

from farmwatch.simulator.broadcast_receiver import (
    BroadcastMode,
    BroadcastSettings,
    BroadcastTransport,
)
from farmwatch.simulator.cli import build_parser, fleet_settings
from farmwatch.sipserver.device_events import (
    DeviceCameOnline,
    DeviceEvent,
    DeviceWentOffline,
    OfflineReason,
)
from farmwatch.sipserver.sip.address import Transport
from tests.conftest import ROOT
from tests.integration.simulator.platform import SERVER_ID, running_platform

DEVICE_IDS = ["34020000001180000041", "34020000001180000042"]


def _came_online(device_id: str) -> Callable[[DeviceEvent], bool]:
    def matches(event: DeviceEvent) -> bool:
        return isinstance(event, DeviceCameOnline) and event.registration.device_id == device_id

    return matches


async def test_farmwatch_simulate_registers_until_ctrl_c_then_unregisters() -> None:
    async with running_platform(catalog_on_register=False) as platform:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "farmwatch", "simulate",
            "--server", f"127.0.0.1:{platform.endpoint.port}", "--server-id", SERVER_ID,
            "--devices", "2", "--channels", "4", "--transport", "tcp", "--bind", "127.0.0.1",
            "--device-id-base", "41",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(20):
                for device_id in DEVICE_IDS:
                    await platform.listener.wait_for(_came_online(device_id))
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(20):
                _, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode(errors="replace")
        offline = platform.listener.of_type(DeviceWentOffline)
        assert sorted(e.device_id for e in offline) == DEVICE_IDS
        assert {e.reason for e in offline} == {OfflineReason.UNREGISTERED}
        assert b"registered for 3600 s" in stderr


def test_options_map_to_fleet_settings() -> None:
    args = build_parser().parse_args(
        ["--server", "10.0.0.5:5070", "--server-id", "44010000002000000001", "--devices", "10",
         "--channels", "1", "--transport", "tcp", "--keepalive", "30", "--items-per-message", "5",
         "--domain", "4401000000", "--password", "secret", "--broadcast-format", "ps",
         "--broadcast-transport", "tcp-active"]
    )  # fmt: skip
    settings = fleet_settings(args)
    assert settings.server.host == "10.0.0.5" and settings.server.port == 5070
    assert settings.server.transport is Transport.TCP
    assert settings.timers.keepalive_interval == 30
    ids = [s.device_id for s in settings.device_settings()]
    assert ids[0] == "44010000001320000001"  # one channel: an IPC
    assert len(ids) == 10 and len(set(ids)) == 10
    assert {s.password for s in settings.device_settings()} == {"secret"}
    assert {s.broadcast for s in settings.device_settings()} == {
        BroadcastSettings(BroadcastMode.PS, BroadcastTransport.TCP_ACTIVE)
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["--server", "127.0.0.1", "--server-id", SERVER_ID],
        ["--server", "127.0.0.1:5060", "--server-id", "123"],
        ["--server", "127.0.0.1:5060", "--server-id", SERVER_ID, "--devices", "0"],
        ["--server", "127.0.0.1:5060", "--server-id", SERVER_ID, "--transport", "tls"],
    ],
)
def test_bad_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
