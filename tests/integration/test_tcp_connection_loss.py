"""A device registered over TCP is offline once its connection closes (2022 §9.1.1 f).

Raw devices (tests/peers/raw_device.py: hand-written SIP, hashlib digest) register over
real TCP and UDP on 127.0.0.1, with the in-process `DeviceAccess` (its events observed)
and with `farmwatch serve` (observed through the REST API).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from farmwatch.sipserver.device_events import DeviceEvent, DeviceWentOffline, OfflineReason
from tests.integration.simulator.platform import Platform, running_platform
from tests.peers.raw_device import RawDevice
from tests.peers.server_process import RunningServer, start_server, stop_server

DEVICE = "34020000001320000031"
OTHER = "34020000001320000032"
SENTINEL = "34020000001320000033"


def _offline(device_id: str) -> Any:
    return lambda e: isinstance(e, DeviceWentOffline) and e.device_id == device_id


def _offline_events(events: list[DeviceEvent], device_id: str) -> list[DeviceWentOffline]:
    return [e for e in events if isinstance(e, DeviceWentOffline) and e.device_id == device_id]


@asynccontextmanager
async def _platform() -> AsyncIterator[Platform]:
    # No first-contact queries: the raw devices answer nothing.
    async with running_platform(catalog_on_register=False) as platform:
        yield platform


async def _udp_and_tcp_on_one_port(server: tuple[str, int]) -> tuple[RawDevice, RawDevice]:
    """A UDP device and a TCP device whose sockets share one local port number."""
    for _ in range(20):
        udp = await RawDevice.connect(OTHER, server, "UDP")
        try:
            tcp = await RawDevice.connect(DEVICE, server, "TCP", local_port=udp.local_port)
        except OSError as error:
            await udp.close_and_wait()
            if error.errno != errno.EADDRINUSE:
                raise
            continue
        return udp, tcp
    raise RuntimeError("no local port free for both UDP and TCP")


async def test_closing_the_connection_takes_the_device_offline_but_not_udp_on_its_port() -> None:
    async with _platform() as platform:
        udp, tcp = await _udp_and_tcp_on_one_port(platform.address)
        assert await udp.register() == 200
        assert await tcp.register() == 200
        assert platform.access.is_online(DEVICE) and platform.access.is_online(OTHER)

        await tcp.close_and_wait()
        async with asyncio.timeout(5):
            event = await platform.listener.wait_for(_offline(DEVICE))
        assert event == DeviceWentOffline(DEVICE, OfflineReason.CONNECTION_LOST)
        assert not platform.access.is_online(DEVICE)
        # Same host and port number, but UDP: not the connection that closed. Its offline
        # event, had there been one, would have been published with the TCP device's.
        assert _offline_events(platform.listener.events, OTHER) == []
        assert platform.access.is_online(OTHER)
        assert await udp.keepalive() == 200
        await udp.close_and_wait()


async def test_a_device_registered_again_over_a_new_connection_survives_the_old_close() -> None:
    async with _platform() as platform:
        old = await RawDevice.connect(DEVICE, platform.address, "TCP")
        assert await old.register() == 200
        new = await RawDevice.connect(DEVICE, platform.address, "TCP")
        assert await new.register() == 200  # before the old connection closes
        sentinel = await RawDevice.connect(SENTINEL, platform.address, "TCP")
        assert await sentinel.register() == 200

        await old.close_and_wait()
        # The platform handles closes in order: once the sentinel's later close is seen,
        # the old connection's close has been handled too.
        await sentinel.close_and_wait()
        async with asyncio.timeout(5):
            await platform.listener.wait_for(_offline(SENTINEL))

        assert _offline_events(platform.listener.events, DEVICE) == []
        assert platform.access.is_online(DEVICE)
        registration = platform.access.registration(DEVICE)
        assert registration is not None and registration.address.port == new.local_port
        # The platform still knows the device over the new connection (403 if it did not).
        assert await new.keepalive() == 200

        await new.close_and_wait()
        async with asyncio.timeout(5):
            event = await platform.listener.wait_for(_offline(DEVICE))
        assert event == DeviceWentOffline(DEVICE, OfflineReason.CONNECTION_LOST)


async def test_a_device_whose_connection_closed_must_register_again() -> None:
    async with _platform() as platform:
        first = await RawDevice.connect(DEVICE, platform.address, "TCP")
        assert await first.register() == 200
        await first.close_and_wait()
        async with asyncio.timeout(5):
            await platform.listener.wait_for(_offline(DEVICE))

        again = await RawDevice.connect(DEVICE, platform.address, "TCP")
        assert await again.keepalive() == 403  # unknown now: the device re-registers
        assert await again.register() == 200
        assert platform.access.is_online(DEVICE)
        await again.close_and_wait()


async def _device_body(server: RunningServer, device_id: str) -> tuple[int, Any]:
    return await asyncio.to_thread(server.api, f"/devices/{device_id}")


async def test_the_api_shows_a_device_offline_with_its_connection_lost(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"})
    try:
        device = await RawDevice.connect(DEVICE, ("127.0.0.1", server.sip_port), "TCP")
        assert await device.register() == 200
        async with asyncio.timeout(10):
            while True:
                status, body = await _device_body(server, DEVICE)
                if status == 200 and body["online"]:
                    break
                await asyncio.sleep(0.05)  # polling the API; it has nothing to wait on
        assert body["transport"] == "TCP"

        await device.close_and_wait()
        async with asyncio.timeout(10):
            while True:
                status, body = await _device_body(server, DEVICE)
                if status == 200 and not body["online"]:
                    break
                await asyncio.sleep(0.05)
        assert body["offline_reason"] == "connection_lost"
    finally:
        stop_server(server)
