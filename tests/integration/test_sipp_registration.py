"""sipp as 500 devices registering with digest and sending keepalives (issue 3)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_device_access import wait_for
from tests.peers.raw_sip import free_port
from tests.peers.server_process import start_server, stop_server
from tests.peers.sipp import run_sipp, write_devices


def test_sipp_registers_500_devices_with_digest(tmp_path: Path) -> None:
    # sipp cannot answer catalog queries, so the platform is told not to send them.
    server = start_server(tmp_path, {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"})
    try:
        devices = write_devices(tmp_path / "devices.csv", 500, "34020000002000000001")
        result = run_sipp(
            server.sip_port,
            "register_keepalive_uac.xml",
            tmp_path,
            calls=500,
            rate=250,
            extra=("-inf", str(devices)),
        )
        assert result.failed == 0, result.output
        assert result.successful == 500, result.output

        def all_online() -> bool:
            status, body = server.api("/devices?online=true&limit=1")
            return status == 200 and body["total"] == 500

        wait_for(all_online, "500 devices online in the API", timeout=20)

        def all_kept_alive() -> bool:
            status, body = server.api("/devices?limit=1000")
            return all(device["last_keepalive_at"] for device in body["devices"])

        # Keepalives are written in batches, up to a second after they arrive.
        wait_for(all_kept_alive, "every device's keepalive recorded", timeout=10)
    finally:
        stop_server(server)


def test_registered_devices_are_known_again_after_a_restart(tmp_path: Path) -> None:
    """The platform restarts; devices keep sending keepalives without re-registering.

    From the address they registered from (only there does a keepalive count)."""
    quiet = {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"}
    server = start_server(tmp_path, quiet)
    devices = write_devices(tmp_path / "devices.csv", 50, "34020000002000000001")
    device_port = free_port()
    try:
        registered = run_sipp(
            server.sip_port, "register_keepalive_uac.xml", tmp_path,
            calls=50, rate=50, extra=("-inf", str(devices)), local_port=device_port,
        )  # fmt: skip
        assert (registered.successful, registered.failed) == (50, 0), registered.output
        wait_for(
            lambda: server.api("/devices?online=true&limit=1")[1]["total"] == 50,
            "50 devices online",
        )
    finally:
        stop_server(server)
    again = start_server(tmp_path, quiet, sip_port=server.sip_port)
    try:
        # Keepalives only: a platform that forgot them would answer 403 and sipp would fail.
        keepalives = run_sipp(
            again.sip_port, "keepalive_uac.xml", tmp_path,
            calls=50, rate=50, extra=("-inf", str(devices)), local_port=device_port,
        )  # fmt: skip
        assert (keepalives.successful, keepalives.failed) == (50, 0), keepalives.output
        status, body = again.api("/devices?online=true&limit=1")
        assert status == 200 and body["total"] == 50
        assert "restored 50 registrations" in again.log_text()
    finally:
        stop_server(again)


def test_keepalive_from_an_unknown_device_is_refused_so_it_registers(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        devices = write_devices(tmp_path / "unknown.csv", 3, "34020000002000000001", first=900)
        result = run_sipp(
            server.sip_port, "keepalive_uac.xml", tmp_path,
            calls=3, rate=10, extra=("-inf", str(devices)),
        )  # fmt: skip
        # Each got 403 instead of the 200 the scenario expects.
        assert (result.successful, result.failed) == (0, 3), result.output
    finally:
        stop_server(server)
