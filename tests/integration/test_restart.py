"""Restarting a real `farmwatch serve`: registrations are back before SIP answers, a catalog
cut short by `kill -9` is asked again, and catalog progress outlives the SIP side's memory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.peers.raw_device import RawDevice, RawRequest
from tests.peers.server_process import RunningServer, start_server, stop_server

ITEMS = [
    ("34020000001310000001", "cam 1", None),
    ("34020000001310000002", "cam 2", None),
    ("34020000001310000003", "cam 3", None),
]


async def api(server: RunningServer, path: str, method: str = "GET") -> tuple[int, Any]:
    return await asyncio.to_thread(server.api, path, method=method)


async def eventually(server: RunningServer, path: str, check: Any, timeout: float = 20) -> Any:
    """Poll the API until `check(body)` holds; bounded."""
    async with asyncio.timeout(timeout):
        while True:
            status, body = await api(server, path)
            if status == 200 and check(body):
                return body
            await asyncio.sleep(0.1)


async def registered(server: RunningServer, device_id: str, timeout: float = 15) -> RawDevice:
    device = await RawDevice.connect(device_id, ("127.0.0.1", server.sip_port), "UDP")
    device.timeout = timeout
    assert await device.register() == 200
    return device


async def first_contact(device: RawDevice, items: list[tuple[str, str, str | None]]) -> None:
    """Answer DeviceInfo and the catalog (the SUBSCRIBE that follows is answered 200)."""
    info = await device.next_request(method="MESSAGE", cmd_type="DeviceInfo")
    await device.send_device_info(info.sn)
    query = await device.next_request(method="MESSAGE", cmd_type="Catalog")
    await device.send_catalog(query.sn, items)


async def requests_until(device: RawDevice, method: str) -> list[RawRequest]:
    """Every request the platform sends, up to and including the first `method` one."""
    seen: list[RawRequest] = []
    while not seen or seen[-1].method != method:
        seen.append(await device.next_request())
    return seen


async def test_a_device_whose_catalog_was_cut_short_by_kill_9_is_asked_again(
    tmp_path: Path,
) -> None:
    """SIGKILL between a device's registration and the end of its catalog: after the
    restart its first keepalive brings DeviceInfo and a catalog query again, so it does not
    stay online with no channels; a device whose catalog was complete is only subscribed."""
    env = {"FARMWATCH_REGISTRAR_CATALOG_TIMEOUT": "60"}  # still collecting at the kill
    server = await asyncio.to_thread(start_server, tmp_path, env)
    complete = cut_short = None
    try:
        complete = await registered(server, "34020000001320000001")
        await first_contact(complete, ITEMS)
        await complete.next_request(method="SUBSCRIBE")
        cut_short = await registered(server, "34020000001320000002")
        info = await cut_short.next_request(method="MESSAGE", cmd_type="DeviceInfo")
        await cut_short.send_device_info(info.sn)
        await cut_short.next_request(method="MESSAGE", cmd_type="Catalog")  # never answered
        await eventually(
            server,
            f"/devices/{complete.device_id}/channels",
            lambda body: len(body["channels"]) == len(ITEMS),
        )
        await eventually(server, f"/devices/{cut_short.device_id}", lambda body: body["online"])
        server.process.kill()
        await asyncio.to_thread(server.process.wait, 10)

        server = await asyncio.to_thread(start_server, tmp_path, env, sip_port=server.sip_port)
        complete.forget_requests()
        cut_short.forget_requests()
        assert await cut_short.keepalive() == 200  # restored, no new registration
        assert await complete.keepalive() == 200
        await first_contact(cut_short, ITEMS)
        again = await requests_until(complete, "SUBSCRIBE")
        assert [request.cmd_type for request in again if request.method == "MESSAGE"] == []
        body = await eventually(
            server,
            f"/devices/{cut_short.device_id}/channels",
            lambda body: len(body["channels"]) == len(ITEMS),
        )
        assert {node["channel_id"] for node in body["channels"]} == {i for i, _, _ in ITEMS}
    finally:
        for device in (complete, cut_short):
            if device is not None:
                await device.close_and_wait()
        await asyncio.to_thread(stop_server, server)


async def test_catalog_progress_is_reported_after_the_sip_side_forgot_it_and_after_a_restart(
    tmp_path: Path,
) -> None:
    """`GET /devices/{id}/catalog` reports the latest query, however long ago it ended."""
    env = {"FARMWATCH_REGISTRAR_CATALOG_TIMEOUT": "0.3"}
    server = await asyncio.to_thread(start_server, tmp_path, env)
    whole = partial = None
    try:
        whole = await registered(server, "34020000001320000003")
        await first_contact(whole, ITEMS)
        partial = await registered(server, "34020000001320000004")
        info = await partial.next_request(method="MESSAGE", cmd_type="DeviceInfo")
        await partial.send_device_info(info.sn)
        query = await partial.next_request(method="MESSAGE", cmd_type="Catalog")
        # SumNum 3, one item arrives, then nothing: partial after catalog_timeout.
        await partial.send_catalog(query.sn, ITEMS, per_message=1, messages=1)

        expected = {
            whole.device_id: {"state": "complete", "received": 3, "expected": 3},
            partial.device_id: {"state": "partial", "received": 1, "expected": 3},
        }

        def progress_is(device_id: str) -> Any:
            return lambda body: (
                {k: body[k] for k in ("state", "received", "expected")} == (expected[device_id])
            )

        for device_id in expected:
            await eventually(server, f"/devices/{device_id}/catalog", progress_is(device_id))
        # The SIP side forgets a finished collection `catalog_timeout` after its end.
        await asyncio.sleep(1.0)
        for device_id in expected:
            status, body = await api(server, f"/devices/{device_id}/catalog")
            assert status == 200 and progress_is(device_id)(body), body

        await asyncio.to_thread(stop_server, server)
        server = await asyncio.to_thread(start_server, tmp_path, env, sip_port=server.sip_port)
        for device_id in expected:
            status, body = await api(server, f"/devices/{device_id}/catalog")
            assert status == 200 and progress_is(device_id)(body), body
        status, body = await api(server, f"/devices/{whole.device_id}")
        assert (body["catalog_complete"], body["catalog_received"]) == (True, 3)
        status, body = await api(server, f"/devices/{partial.device_id}")
        assert (body["catalog_complete"], body["catalog_received"]) == (False, 1)
    finally:
        for device in (whole, partial):
            if device is not None:
                await device.close_and_wait()
        await asyncio.to_thread(stop_server, server)


async def test_keepalives_during_start_up_are_never_refused(tmp_path: Path) -> None:
    """Registrations are restored before SIP listens: a restored device's keepalive that
    arrives the moment the port opens gets 200, never the 403 that makes it register."""
    quiet = {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"}
    server = await asyncio.to_thread(start_server, tmp_path, quiet)
    devices: list[RawDevice] = []
    try:
        devices = await asyncio.gather(
            *(registered(server, f"340200000013200001{n:02d}") for n in range(20))
        )
        await eventually(server, "/devices?online=true&limit=1", lambda b: b["total"] == 20)
        await asyncio.to_thread(stop_server, server)

        # Every device retransmits its keepalive every 10 ms while the platform starts (as
        # long as `start_server` waits for it: many seconds on a loaded machine).
        keepalives = asyncio.gather(
            *(device.keepalive_until_answered(interval=0.01, within=60) for device in devices)
        )
        server = await asyncio.to_thread(start_server, tmp_path, quiet, sip_port=server.sip_port)
        assert await keepalives == [200] * len(devices)
    finally:
        for device in devices:
            await device.close_and_wait()
        await asyncio.to_thread(stop_server, server)
