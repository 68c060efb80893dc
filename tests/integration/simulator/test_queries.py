"""The platform's queries answered by simulated devices (ref. §4.4-§4.6, §4.8, Annex N)."""

from __future__ import annotations

import asyncio

from farmwatch.simulator import running_simulator
from farmwatch.simulator.channels import channel_id
from farmwatch.sipserver.gb.manscdp import ResultCode
from farmwatch.sipserver.gb.manscdp_build import build_device_control_iframe
from tests.integration.simulator.platform import SERVER_ID, running_platform


async def test_a_thousand_channels_at_twenty_per_message_arrive_complete() -> None:
    async with (
        running_platform(catalog_on_register=False) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=1000, items_per_message=20
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        result = await platform.access.query_catalog(device.device_id)
        assert result.is_complete
        assert result.expected == 1000
        assert [item.device_id for item in result.items] == [
            channel_id(device.device_id, index, 1000) for index in range(1000)
        ]
        assert len({item.device_id for item in result.items}) == 1000


async def test_a_lost_catalog_message_leaves_a_partial_catalog() -> None:
    async with (
        running_platform(catalog_on_register=False, catalog_timeout=0.3) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=100, items_per_message=20
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        device.drop_catalog_message(2)
        async with asyncio.timeout(5):
            partial = await platform.access.query_catalog(device.device_id)
        assert not partial.is_complete
        assert partial.expected == 100
        received = {item.device_id for item in partial.items}
        lost = {channel_id(device.device_id, index, 100) for index in range(40, 60)}
        assert len(received) == 80
        assert received.isdisjoint(lost)
        # The drop was one-shot: asking again gives everything.
        complete = await platform.access.query_catalog(device.device_id)
        assert complete.is_complete and len(complete.items) == 100


async def test_device_info_and_status_are_answered() -> None:
    async with (
        running_platform(catalog_on_register=False) as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=6) as fleet,
    ):
        device_id = fleet.device_ids[0]
        info = await platform.access.query_device_info(device_id)
        assert info.result is ResultCode.OK
        assert info.channel_count == 6
        assert (info.manufacturer, info.model) == ("farmwatch", "SIM-NVR")
        status = await platform.access.query_device_status(device_id)
        assert status.result is ResultCode.OK
        assert status.online is True


async def test_iframe_command_is_accepted_without_an_answer() -> None:
    async with (
        running_platform(catalog_on_register=False) as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=1) as fleet,
    ):
        device = fleet.devices[0]
        channel = device.channels.items[0].device_id
        await platform.access.send_manscdp(
            device.device_id, build_device_control_iframe(channel, 7), target_id=channel
        )
        async with asyncio.timeout(2):
            await device.wait_for(lambda d: d.responder.iframe_requests == 1)
