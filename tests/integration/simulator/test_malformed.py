"""Misbehaving traffic from a simulated device: the platform answers and keeps serving."""

from __future__ import annotations

import pytest

from farmwatch.simulator import MalformedKind, running_simulator
from tests.integration.simulator.platform import SERVER_ID, running_platform


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_platform_answers_malformed_traffic_and_keeps_serving(transport: str) -> None:
    async with (
        running_platform(catalog_on_register=False) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, transport=transport
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        assert await device.send_malformed(MalformedKind.BROKEN_XML) == 400
        assert await device.send_malformed(MalformedKind.GARBAGE, wait=0.2) is None
        wrong_length = await device.send_malformed(MalformedKind.WRONG_CONTENT_LENGTH, wait=0.3)
        if transport == "udp":
            assert wrong_length == 400  # the datagram is shorter than it claims
        else:
            assert wrong_length is None  # the stream waits for bytes that never come
        # Nothing of this broke the device's registration or the platform.
        assert platform.access.is_online(device.device_id)
        result = await platform.access.query_catalog(device.device_id)
        assert result.is_complete and len(result.items) == 2
