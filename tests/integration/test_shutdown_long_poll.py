"""A stopping platform answers the console's alarm feed at once (the long poll of `GET
/api/alarms/events` would otherwise hold the web server's shutdown for its whole wait)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.peers.server_process import start_server, stop_server


async def test_a_waiting_alarm_feed_does_not_hold_the_shutdown(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"})
    try:
        async with aiohttp.ClientSession(headers=server.auth_headers) as http:
            url = f"{server.base_url}/api/alarms/events?wait=25"
            polling = asyncio.create_task(http.get(url))
            await asyncio.sleep(1.0)  # the request is in and waiting
            assert not polling.done()
            began = time.monotonic()
            await asyncio.to_thread(server.process.terminate)
            async with asyncio.timeout(10):
                answer = await polling
            async with answer:
                assert answer.status == 200
                assert (await answer.json())["alarms"] == []
            code = await asyncio.to_thread(server.process.wait, 10)
            stopped = time.monotonic() - began
        assert code == 0
        assert stopped < 5, f"the shutdown took {stopped:.1f} s"
    finally:
        stop_server(server)
