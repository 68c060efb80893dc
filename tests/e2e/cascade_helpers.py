"""A bureau and its branch with a simulated farm, for the cascade's end-to-end tests.

Three processes on three loopback addresses (bureau 127.0.0.12, branch .13, the simulated
farm .14), so that an address carried to the wrong hop fails the test.
"""

from __future__ import annotations

import asyncio
import bisect
import io
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av

from farmwatch.simulator import read_recorded_time, running_simulator
from farmwatch.simulator.fleet import SimulatorFleet
from farmwatch.simulator.record_settings import RecordSettings
from farmwatch.simulator.stream_settings import StreamSettings
from tests.e2e.live_helpers import SMALL_PICTURE
from tests.integration.cascade.tiers import (
    BRANCH,
    BUREAU,
    FARM_HOST,
    NATIONAL,
    PASSWORD,
    Tier,
    UpperLinkConfig,
    start_tier,
)
from tests.peers.raw_sip import free_port
from tests.peers.server_process import RunningServer, stop_server

MEDIA_ENV = {
    "FARMWATCH_MEDIA_IDLE_CLOSE": "3",
    "FARMWATCH_MEDIA_START_TIMEOUT": "4",
    "FARMWATCH_LIVE_INVITE_TIMEOUT": "4",
}


class PlatformsApi:
    """The REST API of several platforms through one HTTP session (each request goes to
    the server given, with that server's credentials)."""

    http: aiohttp.ClientSession

    async def request(self, server: RunningServer, method: str, path: str) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{server.web_port}{path}"
        async with self.http.request(method, url, headers=server.auth_headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def post(self, server: RunningServer, path: str, body: Any) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{server.web_port}{path}"
        async with self.http.post(url, json=body, headers=server.auth_headers) as response:
            return response.status, await response.json()

    async def read_fmp4(self, server: RunningServer, path: str, seconds: float) -> bytes:
        """Read an fMP4 output for `seconds`, then hang up like a viewer closing a tab."""
        data = bytearray()
        url = f"http://127.0.0.1:{server.web_port}{path}"
        async with self.http.get(url, headers=server.auth_headers) as response:
            assert response.status == 200, await response.text()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while (left := deadline - loop.time()) > 0:
                try:
                    async with asyncio.timeout(max(0.05, left)):
                        chunk = await response.content.readany()
                except TimeoutError:
                    break
                if not chunk:
                    break
                data += chunk
        return bytes(data)

    async def refresh_catalog(self, server: RunningServer, device_id: str) -> None:
        status, body = await self.request(server, "POST", f"/api/devices/{device_id}/catalog")
        assert status == 202, body
        async with asyncio.timeout(20):
            while True:
                _, body = await self.request(server, "GET", f"/api/devices/{device_id}/catalog")
                if body is not None and body.get("state") == "complete":
                    return
                await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Frame:
    recorded: float
    """Recorded time (Unix seconds) the simulated camera wrote into the frame."""
    arrived: float
    """Loop time the bytes holding it arrived."""


@dataclass
class RecordedTimeReader:
    """Reads a playback's fMP4 in the background, noting when each byte arrived, and reads
    back the recorded time of every frame (`read_recorded_time`)."""

    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, api: PlatformsApi, server: RunningServer, path: str) -> RecordedTimeReader:
        reader = cls()
        reader.task = asyncio.create_task(reader._run(api, server, path))
        return reader

    async def _run(self, api: PlatformsApi, server: RunningServer, path: str) -> None:
        loop = asyncio.get_running_loop()
        url = f"http://127.0.0.1:{server.web_port}{path}"
        async with api.http.get(url, headers=server.auth_headers) as response:
            assert response.status == 200, await response.text()
            async for chunk in response.content.iter_any():
                self.chunks.append((loop.time(), chunk))

    def frames(self) -> list[Frame]:
        data = b"".join(chunk for _, chunk in self.chunks)
        offsets, total = [], 0
        for _, chunk in self.chunks:
            total += len(chunk)
            offsets.append(total)
        found = []
        with av.open(io.BytesIO(data), format="mp4") as container:
            try:
                for packet in container.demux(video=0):
                    if packet.pos is None or packet.size == 0:
                        continue
                    recorded = read_recorded_time(bytes(packet), length_prefixed=True)
                    if recorded is None:
                        continue
                    index = min(bisect.bisect_right(offsets, packet.pos), len(offsets) - 1)
                    found.append(Frame(recorded / 1000, self.chunks[index][0]))
            except av.error.FFmpegError:
                pass  # cut mid-fragment when reading stopped
        return found

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


@dataclass
class ThreeTiers(PlatformsApi):
    """National ← bureau ← branch ← farm, each on its own loopback address."""

    national: RunningServer
    bureau: RunningServer
    branch: RunningServer
    farm: SimulatorFleet
    http: aiohttp.ClientSession

    def channel(self, index: int = 0) -> str:
        return self.farm.devices[0].channels.items[index].device_id


@asynccontextmanager
async def three_tiers(
    tmp_path: Path,
    *,
    transport: str = "udp",
    records: RecordSettings | None = None,
    env: dict[str, str] | None = None,
    devices: int = 1,
    channels: int = 2,
    media: StreamSettings = SMALL_PICTURE,
    tier_env: dict[str, dict[str, str]] | None = None,
) -> AsyncIterator[ThreeTiers]:
    """The three platforms started side by side (each upper's port chosen beforehand), the
    farm registered to the branch, and the farm's channels known at the national tier.
    `transport` is how each upper asks its lower for live video and playback; `env` goes
    to every tier, `tier_env` to the tier of that name (national, bureau, branch) only."""
    media_env = {
        **MEDIA_ENV,
        "FARMWATCH_LIVE_TRANSPORT": transport,
        "FARMWATCH_RECORDINGS_TRANSPORT": transport,
        **(env or {}),
    }

    def env_of(tier: Tier) -> dict[str, str]:
        return {**media_env, **(tier_env or {}).get(tier.name, {})}

    async with AsyncExitStack() as stack:
        national_port, bureau_port = free_port(), free_port()
        national, bureau, branch = await asyncio.gather(
            asyncio.to_thread(
                start_tier, tmp_path, NATIONAL, sip_port=national_port,
                extra_env=env_of(NATIONAL),
            ),
            asyncio.to_thread(
                start_tier, tmp_path, BUREAU, (UpperLinkConfig(NATIONAL, national_port),),
                sip_port=bureau_port, extra_env=env_of(BUREAU),
            ),
            asyncio.to_thread(
                start_tier, tmp_path, BRANCH, (UpperLinkConfig(BUREAU, bureau_port),),
                extra_env=env_of(BRANCH),
            ),
        )  # fmt: skip
        for server in (national, bureau, branch):
            stack.push_async_callback(asyncio.to_thread, stop_server, server)
        farm = await stack.enter_async_context(
            running_simulator(
                server=(BRANCH.host, branch.sip_port), server_id=BRANCH.platform_id,
                devices=devices, channels=channels, password=PASSWORD, host=FARM_HOST,
                media=media, records=records, request_timeout=2.0,
            )
        )  # fmt: skip
        http = await stack.enter_async_context(aiohttp.ClientSession())
        # Stopped from the bottom up: each platform's BYEs and unregister find their peer.
        for server in (national, bureau, branch):
            stack.push_async_callback(asyncio.to_thread, stop_server, server)
        tiers = ThreeTiers(national, bureau, branch, farm, http)
        await _wait_farm_at_national(tiers)
        yield tiers


async def _wait_farm_at_national(tiers: ThreeTiers) -> None:
    """Ask each upper's catalog again once the farm is in (the first ones, at registration,
    may have come before the cameras did); then wait for the channels at the top."""
    wanted = {tiers.channel(0), tiers.channel(1)}

    async def has_farm(server: RunningServer, device_id: str) -> bool:
        status, body = await tiers.request(server, "GET", f"/api/devices/{device_id}/channels")
        return status == 200 and all(channel in str(body) for channel in wanted)

    async def online(server: RunningServer, device_id: str) -> bool:
        status, body = await tiers.request(server, "GET", f"/api/devices/{device_id}")
        return status == 200 and bool(body["online"])

    async with asyncio.timeout(30):
        while not await has_farm(tiers.branch, tiers.farm.device_ids[0]):
            await asyncio.sleep(0.1)
        for upper, lower in ((tiers.bureau, BRANCH), (tiers.national, BUREAU)):
            while not await online(upper, lower.platform_id):
                await asyncio.sleep(0.1)
            while not await has_farm(upper, lower.platform_id):
                await tiers.refresh_catalog(upper, lower.platform_id)
