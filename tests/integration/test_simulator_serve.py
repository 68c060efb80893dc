"""The bundled simulator against a real `farmwatch serve`, observed through the REST API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from farmwatch.simulator import running_simulator
from tests.peers.server_process import RunningServer, start_server, stop_server

PLATFORM = "34020000002000000001"


async def api(server: RunningServer, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(server.api, path)


async def eventually(server: RunningServer, path: str, check: Any, timeout: float = 30) -> Any:
    """Poll the API until `check(body)` holds; bounded."""
    async with asyncio.timeout(timeout):
        while True:
            status, body = await api(server, path)
            if status == 200 and check(body):
                return body
            await asyncio.sleep(0.1)


def _count_channels(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + _count_channels(node["children"]) for node in nodes)


async def test_fifty_udp_and_fifty_tcp_devices_with_eight_channels_each(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        address = ("127.0.0.1", server.sip_port)
        async with (
            running_simulator(
                server=address, server_id=PLATFORM, devices=50, channels=8, transport="udp",
                device_id_base=1, register_timeout=30,
            ) as udp_fleet,
            running_simulator(
                server=address, server_id=PLATFORM, devices=50, channels=8, transport="tcp",
                device_id_base=101, register_timeout=30,
            ) as tcp_fleet,
        ):  # fmt: skip
            await eventually(server, "/devices?online=true&limit=1", lambda b: b["total"] == 100)
            for fleet, transport in ((udp_fleet, "UDP"), (tcp_fleet, "TCP")):
                for device_id in fleet.device_ids:
                    body = await eventually(
                        server,
                        f"/devices/{device_id}/channels",
                        lambda b: _count_channels(b["channels"]) == 8,
                    )
                    channels = body["channels"]
                    # Every channel hangs directly under its NVR, with the simulator's names.
                    assert all(c["parent"] == device_id and not c["children"] for c in channels)
                    assert all(c["online"] for c in channels)
                    assert {c["channel_id"] for c in channels} == {
                        item.device_id for item in fleet.device(device_id).channels.items
                    }
                    status, device = await api(server, f"/devices/{device_id}")
                    assert device["transport"] == transport
    finally:
        stop_server(server)


async def test_thousand_channels_complete_and_a_lost_message_partial(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"FARMWATCH_REGISTRAR_CATALOG_TIMEOUT": "1.5"})
    try:
        async with running_simulator(
            server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1,
            channels=1000, items_per_message=20,
        ) as fleet:  # fmt: skip
            device_id = fleet.device_ids[0]
            progress = await eventually(
                server, f"/devices/{device_id}/catalog", lambda b: b["state"] == "complete"
            )
            assert (progress["received"], progress["expected"]) == (1000, 1000)
            fleet.device(device_id).drop_catalog_message(3)
            status, body = await asyncio.to_thread(
                server.api, f"/devices/{device_id}/catalog", method="POST"
            )
            assert status == 202 and body["state"] == "running"
            partial = await eventually(
                server, f"/devices/{device_id}/catalog", lambda b: b["state"] == "partial"
            )
            assert (partial["received"], partial["expected"]) == (980, 1000)
    finally:
        stop_server(server)


async def test_silent_device_goes_offline_and_comes_back(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        {
            "FARMWATCH_REGISTRAR_KEEPALIVE_INTERVAL": "0.5",
            "FARMWATCH_REGISTRAR_KEEPALIVE_TIMEOUT_COUNT": "3",
        },
    )
    try:
        async with running_simulator(
            server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=2,
            channels=1, keepalive_interval=0.3,
        ) as fleet:  # fmt: skip
            silent, steady = fleet.device_ids
            path = f"/devices/{silent}"
            await eventually(server, path, lambda b: b["online"])
            fleet.device(silent).go_silent()
            loop = asyncio.get_running_loop()
            went_silent = loop.time()
            body = await eventually(server, path, lambda b: not b["online"], timeout=10)
            # Offline within the window (3 × 0.5 s) plus one keepalive interval of slack.
            assert loop.time() - went_silent < 1.5 + 0.5 + 1.0
            assert body["offline_reason"] == "keepalive_timeout"
            status, other = await api(server, f"/devices/{steady}")
            assert other["online"], "a silent device must not affect the others"
            fleet.device(silent).come_back()
            await eventually(server, path, lambda b: b["online"], timeout=10)
    finally:
        stop_server(server)


async def test_device_info_and_catalog_notifications_reach_the_api(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        async with running_simulator(
            server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1, channels=3
        ) as fleet:
            device = fleet.device(fleet.device_ids[0])
            path = f"/devices/{device.device_id}"
            body = await eventually(server, path, lambda b: b["manufacturer"] is not None)
            assert body["channel_count"] == 3
            await eventually(
                server, f"{path}/channels", lambda b: _count_channels(b["channels"]) == 3
            )
            async with asyncio.timeout(10):
                await device.wait_for(lambda d: d.subscription_count > 0)
            channel = device.channels.items[1].device_id
            assert await device.set_channel_status(channel, False) >= 1

            def channel_online(body: dict[str, Any]) -> bool | None:
                states = {c["channel_id"]: c["online"] for c in body["channels"]}
                return states.get(channel)

            await eventually(server, f"{path}/channels", lambda b: channel_online(b) is False)
            assert await device.set_channel_status(channel, True) >= 1
            await eventually(server, f"{path}/channels", lambda b: channel_online(b) is True)
    finally:
        stop_server(server)


async def test_device_status_is_asked_on_demand(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        async with running_simulator(
            server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1, channels=1
        ) as fleet:
            device_id = fleet.device_ids[0]
            await eventually(server, f"/devices/{device_id}", lambda b: b["online"])
            status, body = await api(server, f"/devices/{device_id}/status")
            assert status == 200
            assert body["device_id"] == device_id
            assert body["online"] is True and body["result"] == "OK"
        status, body = await api(server, f"/devices/{device_id}/status")
        assert status == 503 and "offline" in body["error"]
    finally:
        stop_server(server)
