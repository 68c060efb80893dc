"""Helpers of the live-view end-to-end tests: a platform, a streaming simulator, decoding."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av

from farmwatch.simulator import running_simulator
from farmwatch.simulator.fleet import SimulatorFleet
from farmwatch.simulator.record_settings import RecordSettings
from farmwatch.simulator.stream_settings import StreamSettings
from tests.peers.server_process import RunningServer, start_server, stop_server

PLATFORM = "34020000002000000001"
SMALL_PICTURE = StreamSettings(width=320, height=180, fps=25, bitrate=300_000, loop_seconds=2)


@dataclass
class LiveRig:
    server: RunningServer
    fleet: SimulatorFleet
    http: aiohttp.ClientSession
    """`live_rig` makes it send the administrator's API token with every request; the
    methods below send it themselves (a rig may be given another session)."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.web_port}"

    @property
    def auth(self) -> dict[str, str]:
        return self.server.auth_headers

    def channel(self, index: int = 0) -> str:
        device = self.fleet.devices[0]
        return device.channels.items[index].device_id

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.post(self.base + path, json=body, headers=self.auth) as response:
            return response.status, await response.json()

    async def put(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.put(self.base + path, json=body, headers=self.auth) as response:
            return response.status, await response.json()

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.base + path, headers=self.auth) as response:
            return response.status, await response.json()

    async def get_text(self, path: str) -> str:
        async with self.http.get(self.base + path, headers=self.auth) as response:
            assert response.status == 200
            return await response.text()

    async def sleep_briefly(self) -> None:
        """Between two polls of a state that changes by itself (a search filling in)."""
        await asyncio.sleep(0.05)

    async def delete(self, path: str) -> int:
        async with self.http.delete(self.base + path, headers=self.auth) as response:
            return response.status

    async def read_fmp4(self, path: str, seconds: float) -> bytes:
        """Read the streamed fMP4 for `seconds`, then hang up like a viewer closing a tab."""
        data = bytearray()
        async with self.http.get(self.base + path, headers=self.auth) as response:
            assert response.status == 200, await response.text()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while loop.time() < deadline:
                try:
                    async with asyncio.timeout(max(0.05, deadline - loop.time())):
                        chunk = await response.content.readany()
                except TimeoutError:
                    break
                if not chunk:
                    break
                data += chunk
        return bytes(data)


def decoded_frames(data: bytes) -> Iterator[av.VideoFrame]:
    """Every frame PyAV decodes from an fMP4 byte stream, as a player would get them.

    A packet the decoder refuses (a frame damaged by packet loss) is skipped and decoding
    goes on with the next one, as players do; the stream ending mid-fragment (the viewer
    hung up) ends it.
    """
    with av.open(io.BytesIO(data), format="mp4") as container:
        packets = container.demux(video=0)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.error.FFmpegError):
                return
            try:
                yield from packet.decode()
            except av.error.FFmpegError:
                continue


def decoded_times(data: bytes) -> list[float]:
    """The presentation times (seconds) of every frame PyAV decodes from an fMP4 stream."""
    return [float(frame.time) for frame in decoded_frames(data) if frame.time is not None]


def decode_fmp4(data: bytes) -> list[tuple[int, int]]:
    """Decode every complete frame of an fMP4 byte stream with PyAV: their sizes."""
    return [(frame.width, frame.height) for frame in decoded_frames(data)]


@asynccontextmanager
async def live_rig(
    tmp_path: Path,
    *,
    transport: str = "udp",
    channels: int = 2,
    media: StreamSettings = SMALL_PICTURE,
    env: dict[str, str] | None = None,
    records: RecordSettings | None = None,
) -> AsyncIterator[LiveRig]:
    settings = {
        "FARMWATCH_LIVE_TRANSPORT": transport,
        "FARMWATCH_MEDIA_HOST": "127.0.0.1",
        "FARMWATCH_MEDIA_IDLE_CLOSE": "5",
        "FARMWATCH_MEDIA_START_TIMEOUT": "4",
        "FARMWATCH_LIVE_INVITE_TIMEOUT": "3",
        "FARMWATCH_LIVE_WEBRTC_ADDRESSES": "127.0.0.1",  # viewers' media stays on loopback
        **(env or {}),
    }
    server = await asyncio.to_thread(start_server, tmp_path, settings)
    try:
        async with (
            running_simulator(
                server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1,
                channels=channels, media=media, records=records,
            ) as fleet,
            aiohttp.ClientSession(headers=server.auth_headers) as http,
        ):  # fmt: skip
            rig = LiveRig(server, fleet, http)
            # The tests' INVITE is not about the simulator's encoder (an H.265 loop takes
            # seconds on a slow core, where a camera answers at once).
            await fleet.prepare_media()
            await wait_channel_known(rig)
            yield rig
    finally:
        await asyncio.to_thread(stop_server, server)


async def wait_channel_known(rig: LiveRig) -> None:
    device_id = rig.fleet.device_ids[0]
    async with asyncio.timeout(20):
        while True:
            url = f"{rig.base}/api/devices/{device_id}/channels"
            async with rig.http.get(url, headers=rig.auth) as response:
                body = await response.json()
                if response.status == 200 and body["channels"]:
                    return
            await asyncio.sleep(0.1)
