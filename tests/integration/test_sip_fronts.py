"""SIP fronts (`[sip] fronts`): processes sharing the SIP port answer registrations and
keepalives; the platform keeps the table of record and everything else (issue 14).

A real `farmwatch serve` with two fronts and raw UDP devices, each on its own port as real
devices are; what the fronts did is read from `/metrics`, what the platform knows from
the API.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_device_access import wait_for
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.udp_device import (
    PASSWORD,
    UdpDevice,
    digest_authorization,
    header_of,
    status_of,
)

FRONTS = {"FARMWATCH_SIP_FRONTS": "2", "FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"}
DEVICES = 24


def _device_id(index: int) -> str:
    return f"340200000013200{index:05d}"


def _front_pids(server: RunningServer) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == server.process.pid and b"sip-front" in cmdline:
            pids.add(int(entry.name))
    return pids


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path, FRONTS)
    try:
        wait_for(lambda: len(_front_pids(running)) == 2, "two SIP fronts running")
        yield running
    finally:
        stop_server(running)


def _answer_with_retransmissions(device: UdpDevice, request: bytes) -> bytes:
    """The final answer to `request`, sent again every 0.5 s as a device's timer E does."""
    for _ in range(8):
        device.send(request)
        answer = device.next_response(0.5)
        if answer is not None:
            return answer
    raise AssertionError(f"{device.device_id}: no answer to 8 transmissions")


def _front_count(server: RunningServer, kind: str) -> float:
    return server.metric("farmwatch_sip_front_requests_total", kind=kind)


def test_fronts_answer_registrations_and_keepalives_and_the_platform_keeps_the_table(
    server: RunningServer,
) -> None:
    devices = [UdpDevice(server.sip_port, _device_id(index)) for index in range(DEVICES)]
    try:
        for device in devices:
            response, _ = device.register()
            assert status_of(response) == 200, response
            assert status_of(device.request(device.keepalive_bytes())) == 200
        wait_for(
            lambda: server.api("/devices?online=true&limit=1")[1]["total"] == DEVICES,
            f"{DEVICES} devices online in the API",
        )
        # The fronts answered them all, the platform's own registrar none (its socket
        # is steered past while the fronts run); the fronts report each second.
        wait_for(lambda: _front_count(server, "accepted") == DEVICES, "fronts' 200s counted")
        wait_for(lambda: _front_count(server, "keepalive") == DEVICES, "fronts' keepalives")
        assert server.metric("farmwatch_sip_registers_total", answer="accepted") == 0

        # A keepalive naming a device, from another address: not the device's, refused.
        with UdpDevice(server.sip_port, devices[0].device_id) as spoofer:
            assert status_of(spoofer.request(spoofer.keepalive_bytes())) == 403

        # The platform's own requests reach the device, and its answers reach the platform
        # through whichever front reads them.
        device = devices[1]
        status, _ = server.api(f"/devices/{device.device_id}/catalog", method="POST")
        assert status == 202
        query = device.next_request(timeout=5)
        assert query is not None and b"<CmdType>Catalog</CmdType>" in query
        sn = query.split(b"<SN>")[1].split(b"</SN>")[0].decode()
        channel = f"{device.device_id[:10]}1310000001"
        catalog = (
            '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n'
            f"<CmdType>Catalog</CmdType>\r\n<SN>{sn}</SN>\r\n<DeviceID>{device.device_id}"
            '</DeviceID>\r\n<SumNum>1</SumNum>\r\n<DeviceList Num="1">\r\n<Item>\r\n'
            f"<DeviceID>{channel}</DeviceID>\r\n<Name>Gate</Name>\r\n<Status>ON</Status>\r\n"
            "</Item>\r\n</DeviceList>\r\n</Response>\r\n"
        ).encode()
        assert status_of(device.request(device.message_bytes(catalog))) == 200
        wait_for(
            lambda: channel in str(server.api(f"/devices/{device.device_id}/channels")[1]),
            "the catalog answered through a front stored",
        )

        # An unregistration goes to the platform, which makes the front forget the device:
        # its keepalives are refused from then on, so that it registers again.
        leaving = devices[2]
        challenge = leaving.request(leaving.register_bytes(expires=0))
        www = header_of(challenge, "WWW-Authenticate")
        assert status_of(challenge) == 401 and www is not None
        authorization = digest_authorization(
            www, device_id=leaving.device_id, password=PASSWORD, use_qop=True
        )
        goodbye = leaving.register_bytes(authorization=authorization, expires=0)
        assert status_of(leaving.request(goodbye)) == 200
        wait_for(
            lambda: status_of(leaving.request(leaving.keepalive_bytes())) == 403,
            "the front forgot the device the platform unregistered",
            timeout=5,
        )
    finally:
        for device in devices:
            device.close()


def test_a_front_that_dies_is_started_again_and_its_devices_are_served_meanwhile(
    server: RunningServer,
) -> None:
    devices = [UdpDevice(server.sip_port, _device_id(100 + index)) for index in range(DEVICES)]
    try:
        for device in devices:
            response, _ = device.register()
            assert status_of(response) == 200, response
        before = _front_pids(server)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        # Every device's keepalive is answered while the front is away: the kernel spreads
        # its devices over the sockets left, and the platform knows them all. (What was
        # queued at the killed front's socket is lost with it: devices retransmit.)
        for device in devices:
            assert status_of(_answer_with_retransmissions(device, device.keepalive_bytes())) == 200
        wait_for(
            lambda: server.metric("farmwatch_sip_front_restarts_total") == 1,
            "the front started again",
        )
        after = _front_pids(server)
        assert len(after) == 2 and victim not in after
        assert server.metric("farmwatch_sip_fronts_running") == 2
        # And devices register through the fronts again.
        for device in devices:
            response, _ = device.register()
            assert status_of(response) == 200, response
            assert status_of(device.request(device.keepalive_bytes())) == 200
        status, body = server.api("/devices?online=true&limit=1")
        assert status == 200 and body["total"] == DEVICES
    finally:
        for device in devices:
            device.close()


def test_a_device_enrolled_while_the_fronts_run_registers_with_its_own_password(
    tmp_path: Path,
) -> None:
    """Only enrolled devices may register here: the fronts learn an enrolment made after
    they started, and check its password as the platform would."""
    running = start_server(
        tmp_path, {**FRONTS, "FARMWATCH_REGISTRAR_ACCEPT_UNKNOWN_DEVICES": "false"}
    )
    enrolled = UdpDevice(running.sip_port, _device_id(200))
    try:
        wait_for(lambda: len(_front_pids(running)) == 2, "two SIP fronts running")
        response, _ = enrolled.register()
        assert status_of(response) == 403, response  # not enrolled yet
        status, _ = running.api_post(
            "/devices", {"device_id": enrolled.device_id, "password": "Own-Pass-77"}
        )
        assert status == 201

        def registered_with_own_password() -> bool:
            answer, _ = enrolled.register(password="Own-Pass-77")
            return status_of(answer) == 200

        wait_for(registered_with_own_password, "the enrolled device registered", timeout=5)
        response, _ = enrolled.register()  # the platform's default password: wrong for it
        assert status_of(response) == 403, response
        # It was a front that answered (the platform's own registrar answers no device
        # while the fronts run).
        wait_for(lambda: _front_count(running, "accepted") == 1, "the front's 200 counted")
        assert running.metric("farmwatch_sip_registers_total", answer="accepted") == 0
    finally:
        enrolled.close()
        stop_server(running)
