"""Keepalive presence and catalog subscriptions between simulated devices and the platform.

gb28181.md §4.3 (three missed keepalives → offline), §5 and §11.10 (catalog SUBSCRIBE,
NOTIFY on a channel's status change, unsubscribe).
"""

from __future__ import annotations

import asyncio

import pytest

from farmwatch.simulator import running_simulator
from farmwatch.sipserver.device_access import QueryTimeout
from farmwatch.sipserver.device_events import (
    CatalogChanged,
    DeviceCameOnline,
    DeviceWentOffline,
    OfflineReason,
)
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, ChannelStatus
from tests.integration.simulator.platform import SERVER_ID, running_platform


async def test_a_silent_device_goes_offline_and_comes_back_online() -> None:
    async with (
        running_platform(
            catalog_on_register=False, keepalive_interval=0.2, keepalive_timeout_count=2
        ) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, devices=2, channels=1,
            keepalive_interval=0.1,
        ) as fleet,
    ):  # fmt: skip
        silent, chatty = fleet.devices
        silent.go_silent()
        async with asyncio.timeout(5):
            offline = await platform.listener.wait_for(
                lambda e: isinstance(e, DeviceWentOffline) and e.device_id == silent.device_id
            )
        assert isinstance(offline, DeviceWentOffline)
        assert offline.reason is OfflineReason.KEEPALIVE_TIMEOUT
        assert platform.access.is_online(chatty.device_id)  # the other one is unaffected
        seen = len(platform.listener.events)

        silent.come_back()
        async with asyncio.timeout(5):
            back = await platform.listener.wait_for(
                lambda e: (
                    isinstance(e, DeviceCameOnline) and e.registration.device_id == silent.device_id
                ),
                since=seen,
            )
        assert isinstance(back, DeviceCameOnline)
        assert not back.is_new_registration  # its keepalive brought it back
        assert platform.access.is_online(silent.device_id)


async def test_a_silent_device_does_not_answer_queries() -> None:
    async with (
        running_platform(catalog_on_register=False, query_timeout=0.5) as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=1) as fleet,
    ):
        device = fleet.devices[0]
        device.go_silent()
        with pytest.raises(QueryTimeout):
            await platform.access.query_device_info(device.device_id)
        device.come_back()
        info = await platform.access.query_device_info(device.device_id)
        assert info.channel_count == 1


async def test_channel_status_changes_reach_the_platform_as_catalog_notifications() -> None:
    async with (
        running_platform() as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=4) as fleet,
    ):
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.subscription_count == 1)
        channel = device.channels.items[2].device_id

        assert await device.set_channel_status(2, online=False) == 1
        async with asyncio.timeout(5):
            changed = await platform.listener.wait_for(lambda e: isinstance(e, CatalogChanged))
        assert isinstance(changed, CatalogChanged)
        assert changed.device_id == device.device_id
        assert [(i.device_id, i.event) for i in changed.items] == [(channel, CatalogEvent.OFF)]
        assert device.channels.items[2].status is ChannelStatus.OFF

        assert await device.set_channel_status(channel, online=True) == 1
        async with asyncio.timeout(5):
            await platform.listener.wait_for(
                lambda e: isinstance(e, CatalogChanged) and e.items[0].event is CatalogEvent.ON
            )
        # The catalog answers reflect the status too.
        result = await platform.access.query_catalog(device.device_id)
        assert {item.status for item in result.items} == {ChannelStatus.ON}

        await platform.access.subscriptions.unsubscribe(device.device_id)
        assert device.subscription_count == 0
        assert await device.set_channel_status(0, online=False) == 0


async def test_a_device_back_from_offline_keeps_only_the_platforms_new_subscription() -> None:
    async with (
        running_platform(keepalive_interval=0.2, keepalive_timeout_count=2) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.1
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.subscription_count == 1)
        [first] = [s.key for s in device.notifier.live()]
        device.go_silent()
        async with asyncio.timeout(5):
            await platform.listener.wait_for(lambda e: isinstance(e, DeviceWentOffline))
        device.come_back()  # the platform queries again and subscribes anew
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: [s.key for s in d.notifier.live()] not in ([], [first]))
        assert device.subscription_count == 1
        assert await device.set_channel_status(1, online=False) == 1
        async with asyncio.timeout(5):
            await platform.listener.wait_for(lambda e: isinstance(e, CatalogChanged))
