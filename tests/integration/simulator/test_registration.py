"""Simulated devices registering with the real `DeviceAccess` on loopback (ref. §3, §4.3)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from farmwatch.simulator import FailureKind, SessionState, running_simulator
from farmwatch.sipserver.device_events import (
    CatalogReceived,
    DeviceCameOnline,
    DeviceEvent,
    DeviceWentOffline,
    OfflineReason,
    RegistrationRefreshed,
)
from farmwatch.sipserver.sip.address import Transport
from tests.integration.simulator.platform import SERVER_ID, running_platform


def _catalog_of(device_id: str) -> Callable[[DeviceEvent], bool]:
    return lambda e: isinstance(e, CatalogReceived) and e.device_id == device_id


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_five_devices_register_and_report_complete_catalogs(transport: str) -> None:
    async with (
        running_platform() as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, devices=5, channels=4,
            transport=transport,
        ) as fleet,
    ):  # fmt: skip
        async with asyncio.timeout(10):
            for device in fleet.devices:
                event = await platform.listener.wait_for(_catalog_of(device.device_id))
                assert isinstance(event, CatalogReceived)
                assert event.result.is_complete
                assert [item.device_id for item in event.result.items] == [
                    item.device_id for item in device.channels.items
                ]
                assert {item.parent_id for item in event.result.items} == {device.device_id}
                assert event.result.items[1].name == "药库1号"
        registrations = [platform.access.registration(d) for d in fleet.device_ids]
        assert all(platform.access.is_online(d) for d in fleet.device_ids)
        # Distinct source addresses, like real cameras, over the transport asked for.
        assert len({r.address for r in registrations if r is not None}) == 5
        assert {r.address.transport for r in registrations if r is not None} == {
            Transport(transport.upper())
        }
        source_ports = {r.address.port for r in registrations if r is not None}
        listening_ports = {d.endpoint.port for d in fleet.devices}
        if transport == "udp":
            assert source_ports == listening_ports
        else:  # the connections the devices opened, which the platform's requests reuse
            assert source_ports.isdisjoint(listening_ports)
        # The platform can ask again, over the same path (for TCP: the device's connection).
        result = await platform.access.query_catalog(fleet.device_ids[3])
        assert result.is_complete and len(result.items) == 4
        all_channels = {item.device_id for d in fleet.devices for item in d.channels.items}
        assert len(all_channels) == 20


async def test_stop_unregisters_every_device() -> None:
    async with running_platform(catalog_on_register=False) as platform:
        async with running_simulator(
            server=platform.address, server_id=SERVER_ID, devices=3, channels=1
        ) as fleet:
            ids = fleet.device_ids
            assert all(platform.access.is_online(d) for d in ids)
        offline = platform.listener.of_type(DeviceWentOffline)
        assert sorted(e.device_id for e in offline) == sorted(ids)
        assert {e.reason for e in offline} == {OfflineReason.UNREGISTERED}
        assert not any(platform.access.is_online(d) for d in ids)
        assert all(fleet.device(d).state is SessionState.STOPPED for d in ids)


async def test_wrong_password_is_refused_and_reported() -> None:
    async with (
        running_platform(password="the-right-one") as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, password="a-wrong-one",
            wait_registered=False,
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.last_failure is not None)
        failure = device.last_failure
        assert failure is not None
        assert (failure.kind, failure.status) == (FailureKind.REFUSED, 403)
        assert device.state in (SessionState.BACKOFF, SessionState.REGISTERING)
        assert not platform.access.is_online(device.device_id)
        assert platform.listener.of_type(DeviceCameOnline) == []


async def test_registration_is_refreshed_before_it_expires() -> None:
    async with (
        running_platform(min_expires=1, catalog_on_register=False) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=1, expires=2
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.registrations >= 2 and d.is_registered)
            await platform.listener.wait_for(lambda e: isinstance(e, RegistrationRefreshed))
        assert platform.access.is_online(device.device_id)
        # Refreshed in time: never seen offline.
        assert platform.listener.of_type(DeviceWentOffline) == []


async def test_device_registers_again_when_a_restarted_platform_rejects_its_keepalive() -> None:
    settings: dict[str, object] = {"catalog_on_register": False}
    async with running_platform(**settings) as first:
        port = first.endpoint.port
        async with running_simulator(
            server=first.address, server_id=SERVER_ID, channels=1, keepalive_interval=0.2
        ) as fleet:
            device = fleet.devices[0]
            await first.access.close()
            await first.endpoint.close()
            # Same address, empty registration table: the keepalive gets 403.
            async with running_platform(port=port, **settings) as second:
                async with asyncio.timeout(5):
                    event = await second.listener.wait_for(
                        lambda e: isinstance(e, DeviceCameOnline)
                    )
                    await device.wait_for(lambda d: d.registrations >= 2 and d.is_registered)
                assert isinstance(event, DeviceCameOnline)
                assert event.is_new_registration
                assert event.registration.device_id == device.device_id
                await fleet.stop()  # unregister while this platform still listens
