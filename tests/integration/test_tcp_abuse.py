"""Slow and greedy TCP peers cannot hold the platform (issue 13, item 3).

A real `farmwatch serve` with a small per-address cap and a short message deadline; a
flood of slow connections from 127.0.0.2 (one byte a second, never a whole message) and a
few that send only CRLF keep-alive pings from 127.0.0.3. Observed from the peers' side:
the excess is refused at once, the rest is closed at the deadline, and meanwhile a real
device from 127.0.0.1 registers over TCP and UDP, the REST API answers and shows it
registered (a database write); the refusals are on `/metrics`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.peers.raw_device import RawDevice
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.slow_tcp import SlowTcpFlood

TCP_DEVICE = "34020000001320000041"
UDP_DEVICE = "34020000001320000042"
PER_ADDRESS = 8
DEADLINE = 3.0
FLOOD = 200


async def _api(server: RunningServer, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(server.api, path)


async def _listed_online(server: RunningServer) -> set[str]:
    status, body = await _api(server, "/devices?limit=100")
    assert status == 200, body
    return {device["device_id"] for device in body["devices"] if device["online"]}


async def test_a_slow_tcp_flood_is_bounded_and_the_platform_keeps_serving(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        {
            "FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false",
            "FARMWATCH_SIP_TCP_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
            "FARMWATCH_SIP_TCP_MESSAGE_TIMEOUT": str(DEADLINE),
        },
    )
    address = ("127.0.0.1", server.sip_port)
    try:
        tcp_device = await RawDevice.connect(TCP_DEVICE, address, "TCP")
        flood = SlowTcpFlood(address, source_host="127.0.0.2", count=FLOOD, interval=0.5)
        pings = SlowTcpFlood(
            address, source_host="127.0.0.3", count=3, interval=0.5, payload=b"\r\n\r\n"
        )
        async with flood, pings:
            assert len(flood.connections) == FLOOD
            # Beyond the cap, refused (the server closes them; they are not held).
            await flood.wait_until_closed(FLOOD - PER_ADDRESS, timeout=4 * DEADLINE)

            # Meanwhile a device from another address registers over TCP and UDP,
            # and the REST API answers.
            udp_device = await RawDevice.connect(UDP_DEVICE, address, "UDP")
            assert await tcp_device.register() == 200
            assert await udp_device.register() == 200
            assert (await _api(server, "/devices?limit=1"))[0] == 200

            # The admitted slow ones, and the ping-only ones, are closed at the deadline.
            await flood.wait_until_closed(FLOOD, timeout=4 * DEADLINE + 5)
            await pings.wait_until_closed(3, timeout=4 * DEADLINE + 5)
        lifetimes = sorted(c.lifetime or 0.0 for c in flood.connections)
        refused, survivors = lifetimes[:-PER_ADDRESS], lifetimes[-PER_ADDRESS:]
        # The excess at once, well before any deadline; the admitted ones not before it
        # (the lower bound holds however loaded the machine is).
        assert max(refused) < DEADLINE * 0.9
        assert min(survivors) >= DEADLINE * 0.9
        assert min(c.lifetime or 0.0 for c in pings.connections) >= DEADLINE * 0.9

        # The device's own connection was not a victim: it still carries requests.
        assert await tcp_device.keepalive() == 200
        # Both devices registered: written to the database, shown by the API.
        async with asyncio.timeout(10):
            while not {TCP_DEVICE, UDP_DEVICE} <= await _listed_online(server):
                await asyncio.sleep(0.05)  # polling the API; it has nothing to wait on
        await tcp_device.close_and_wait()
        await udp_device.close_and_wait()

        log = server.log_text()
        refusals = [line for line in log.splitlines() if "refus" in line and "127.0.0.2" in line]
        # Logged once per burst per address, not once per connection.
        assert 1 <= len(refusals) <= 3, refusals
        assert "sip.tcp_max_connections_per_address" in log
        # ... and counted where an operator's monitoring sees them.
        refused_metric = server.metric("farmwatch_sip_tcp_refused_total", limit="per_address")
        assert refused_metric >= FLOOD - PER_ADDRESS
    finally:
        stop_server(server)
