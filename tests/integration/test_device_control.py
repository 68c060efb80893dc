"""PTZ through `DeviceControlService` and `POST /channels/{id}/ptz` to a simulated device.

The platform side is real: `DeviceAccess` on a loopback `SipEndpoint`, channels in a
migrated SQLite database filled from the device's own catalog answer, and the routes on an
aiohttp application with the error middleware. What is checked is what the simulated
device received: the channel each DeviceControl named and its PTZCmd bytes
(gb28181.md §4.8, §11.9).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from farmwatch.platform.catalog_mapping import channel_data
from farmwatch.platform.db import create_database, default_database_url
from farmwatch.platform.errors import DeviceOffline, DeviceTimeout, NotFound, NotSupported
from farmwatch.platform.records import ChannelData, Transport
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.services.device_control_service import (
    DeviceControlService,
    PanDirection,
    Preset,
    PresetOperation,
    PtzMove,
    PtzStop,
)
from farmwatch.platform.services.device_state_queries import GuardPosition
from farmwatch.simulator import SimulatedDevice, running_simulator
from farmwatch.web.keys import DEVICE_CONTROL
from farmwatch.web.middlewares import error_middleware
from farmwatch.web.routes import control
from tests.integration.simulator.platform import SERVER_ID, Platform, running_platform

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ABSENT_DEVICE = "34020000001320000099"
ABSENT_CHANNEL = "34020000001310000099"
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@dataclass
class ControlEnv:
    platform: Platform
    device: SimulatedDevice
    service: DeviceControlService
    channels: ChannelRepository

    @property
    def channel_ids(self) -> list[str]:
        return [item.device_id for item in self.device.channels.items]

    async def received(self, count: int) -> list[tuple[str, str]]:
        """The first `count` PTZ commands the device got, waiting (bounded) for them."""
        async with asyncio.timeout(5):
            await self.device.wait_for(lambda d: len(d.responder.ptz_commands) >= count)
        return self.device.responder.ptz_commands[:count]


async def _register(devices: DeviceRepository, device_id: str, port: int) -> None:
    await devices.upsert_registration(
        device_id,
        transport=Transport.UDP,
        remote_host="127.0.0.1",
        remote_port=port,
        contact_uri=f"sip:{device_id}@127.0.0.1:{port}",
        expires=3600,
        gb_version="2.0",
        at=NOW,
    )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[ControlEnv]:
    database = create_database(default_database_url(tmp_path / "data"))
    await database.start()
    try:
        async with (
            running_platform(catalog_on_register=False) as platform,
            running_simulator(server=platform.address, server_id=SERVER_ID, channels=2) as fleet,
        ):  # fmt: skip
            device = fleet.devices[0]
            devices = DeviceRepository(database.sessions)
            channels = ChannelRepository(database.sessions)
            await _register(devices, device.device_id, device.endpoint.port)
            catalog = await platform.access.query_catalog(device.device_id)
            items = [channel_data(item) for item in catalog.items]
            await channels.replace_catalog(device.device_id, items, at=NOW)
            # A device known to the database that is not registered now.
            await _register(devices, ABSENT_DEVICE, 5060)
            await channels.replace_catalog(ABSENT_DEVICE, [ChannelData(ABSENT_CHANNEL)], at=NOW)
            service = DeviceControlService(platform.access, channels, answer_timeout=1.0)
            yield ControlEnv(platform, device, service, channels)
    finally:
        await database.close()


@pytest.fixture
async def client(env: ControlEnv, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    app = web.Application(middlewares=[error_middleware])
    app[DEVICE_CONTROL] = env.service
    app.add_routes(control.routes)
    return await aiohttp_client(app)


# -- the service --------------------------------------------------------------------------


async def test_move_then_stop_reach_the_channel_with_the_standard_bytes(env: ControlEnv) -> None:
    first, second = env.channel_ids
    right = await env.service.ptz(first, PtzMove(pan=PanDirection.RIGHT, pan_speed=0x80))
    await env.service.ptz(first, PtzStop())
    await env.service.ptz(second, Preset(PresetOperation.CALL, 3))

    assert await env.received(3) == [
        (first, "A50F010180000036"),
        (first, "A50F0100000000B5"),
        (second, "A50F01820003003A"),
    ]
    assert (right.channel_id, right.device_id) == (first, env.device.device_id)
    assert right.ptz_cmd == "A50F010180000036"


async def test_unknown_channel_is_not_found(env: ControlEnv) -> None:
    with pytest.raises(NotFound, match="34020000001310009999"):
        await env.service.ptz("34020000001310009999", PtzStop())


async def test_channel_of_an_unregistered_device_is_offline(env: ControlEnv) -> None:
    with pytest.raises(DeviceOffline, match=f"device {ABSENT_DEVICE} of channel"):
        await env.service.ptz(ABSENT_CHANNEL, PtzStop())


async def test_a_device_that_does_not_answer_is_reported_after_the_answer_timeout(
    env: ControlEnv,
) -> None:
    env.device.go_silent()
    with pytest.raises(DeviceTimeout, match="did not answer PTZ command A50F0100000000B5 .*1 s"):
        await env.service.ptz(env.channel_ids[0], PtzStop())
    assert env.device.responder.ptz_commands == []


async def test_a_2022_query_never_answered_is_not_asked_again_for_a_minute(
    env: ControlEnv,
) -> None:
    now = [1000.0]
    service = DeviceControlService(
        env.platform.access, env.channels, answer_timeout=0.5, clock=lambda: now[0]
    )
    channel, loop = env.channel_ids[0], asyncio.get_running_loop()
    env.device.control.answers_state_queries = False
    with pytest.raises(NotSupported, match="took HomePositionQuery .* within 0.5 s"):
        await service.queries.home_position(channel)
    env.device.control.answers_state_queries = True  # it would answer now, but is not asked
    now[0] += 59.0
    started = loop.time()
    with pytest.raises(NotSupported, match="did not answer the last time"):
        await service.queries.home_position(channel)
    assert loop.time() - started < 0.2
    tracks = await service.queries.cruise_tracks(channel)  # another query: asked
    assert tracks.tracks == ()
    now[0] += 2.0  # a minute on: asked again, and answered
    found = await service.queries.home_position(channel)
    assert found == GuardPosition(channel, None)


# -- the HTTP API -------------------------------------------------------------------------

# Every computed example of gb28181.md §4.8 as an API body, in the order sent.
API_EXAMPLES: list[tuple[dict[str, Any], str]] = [
    ({"action": "move", "pan": "right", "speed": 0x80}, "A50F010180000036"),
    ({"action": "move", "pan": "left", "tilt": None, "speed": 0x40}, "A50F0102400000F7"),
    ({"action": "move", "tilt": "up", "speed": 0x80}, "A50F01080080003D"),
    ({"action": "move", "tilt": "down", "speed": 0x80}, "A50F010400800039"),
    ({"action": "move", "zoom": "in", "speed": 0x80}, "A50F011000008045"),
    ({"action": "move", "zoom": "out", "speed": 0, "zoom_speed": 8}, "A50F012000008055"),
    (
        {"action": "move", "pan": "right", "tilt": "up", "zoom": "out", "speed": 0x80},
        "A50F01298080805E",
    ),
    ({"action": "stop"}, "A50F0100000000B5"),
    ({"action": "focus_iris_stop"}, "A50F0140000000F5"),
    ({"action": "focus_iris", "iris": "open", "speed": 0x80}, "A50F014400800079"),
    ({"action": "focus_iris", "focus": "far", "speed": 0x80}, "A50F014180000076"),
    ({"action": "preset", "op": "set", "index": 3}, "A50F018100030039"),
    ({"action": "preset", "op": "call", "index": 3}, "A50F01820003003A"),
    ({"action": "preset", "op": "delete", "index": 3}, "A50F01830003003B"),
    ({"action": "cruise", "op": "add", "group": 1, "preset": 3}, "A50F01840103003D"),
    ({"action": "cruise", "op": "start", "group": 1}, "A50F01880100003E"),
    ({"action": "aux", "switch": 1, "on": True}, "A50F018C01000042"),
    # Beyond the table (computed with §4.8's Python line): other cruise and scan forms.
    ({"action": "cruise", "op": "speed", "group": 1, "speed": 0x123}, "A50F01860123106F"),
    ({"action": "cruise", "op": "dwell", "group": 1, "seconds": 30}, "A50F0187011E005B"),
    ({"action": "cruise", "op": "delete", "group": 1, "preset": 3}, "A50F01850103003E"),
    ({"action": "cruise", "op": "clear", "group": 1}, "A50F01850100003B"),
    ({"action": "scan", "op": "left", "group": 1}, "A50F018901010040"),
    ({"action": "scan", "op": "right", "group": 1}, "A50F018901020041"),
    ({"action": "scan", "op": "speed", "group": 1, "speed": 0x40}, "A50F018A01400080"),
    ({"action": "scan", "op": "start", "group": 1}, "A50F01890100003F"),
    ({"action": "aux", "switch": 1, "on": False}, "A50F018D01000043"),
]


async def test_every_api_body_reaches_the_device_as_its_ptz_cmd(
    env: ControlEnv, client: TestClient[Any, Any]
) -> None:
    channel = env.channel_ids[1]
    for body, expected in API_EXAMPLES:
        response = await client.post(f"/channels/{channel}/ptz", json=body)
        assert response.status == 202, (body, await response.text())
        assert await response.json() == {
            "channel_id": channel,
            "device_id": env.device.device_id,
            "ptz_cmd": expected,
        }
    received = await env.received(len(API_EXAMPLES))
    assert received == [(channel, expected) for _, expected in API_EXAMPLES]


BAD_BODIES: list[tuple[Any, str]] = [
    ([], "expected a JSON body"),
    ({}, "action: expected one of move, stop"),
    ({"action": "spin"}, "action: expected one of"),
    ({"action": 1}, "action: expected one of"),
    ({"action": "move", "speed": 10}, "pan, tilt, zoom: a move needs at least one"),
    ({"action": "move", "pan": "up", "speed": 10}, "pan: expected one of left, right"),
    ({"action": "move", "tilt": "left", "speed": 10}, "tilt: expected one of up, down"),
    ({"action": "move", "zoom": 1, "speed": 10}, "zoom: expected one of in, out"),
    ({"action": "move", "pan": "left"}, "speed: expected an integer 0..255"),
    ({"action": "move", "pan": "left", "speed": 256}, "speed: expected an integer 0..255"),
    ({"action": "move", "pan": "left", "speed": -1}, "speed: expected an integer 0..255"),
    ({"action": "move", "pan": "left", "speed": 1.5}, "speed: expected an integer"),
    ({"action": "move", "pan": "left", "speed": True}, "speed: expected an integer"),
    ({"action": "move", "pan": "left", "speed": "80"}, "speed: expected an integer"),
    (
        {"action": "move", "zoom": "in", "speed": 1, "zoom_speed": 16},
        "zoom_speed: expected an integer 0..15",
    ),
    ({"action": "move", "pan": "left", "speed": 1, "tilt_speed": 2}, "tilt_speed: not a field"),
    ({"action": "stop", "speed": 0}, "speed: not a field of action stop"),
    ({"action": "focus_iris", "speed": 1}, "focus, iris: needs at least one"),
    ({"action": "focus_iris", "focus": "in", "speed": 1}, "focus: expected one of near, far"),
    ({"action": "focus_iris", "iris": "wide", "speed": 1}, "iris: expected one of open, close"),
    ({"action": "preset", "op": "goto", "index": 3}, "op: expected one of set, call, delete"),
    ({"action": "preset", "op": "call", "index": 0}, "index: expected an integer 1..255"),
    ({"action": "preset", "op": "call", "index": 256}, "index: expected an integer 1..255"),
    ({"action": "preset", "op": "call"}, "index: expected an integer 1..255"),
    ({"action": "cruise", "op": "run", "group": 1}, "op: expected one of add, delete, clear"),
    ({"action": "cruise", "op": "add", "group": 1}, "preset: expected an integer 1..255"),
    ({"action": "cruise", "op": "add", "group": 256, "preset": 1}, "group: expected an integer"),
    ({"action": "cruise", "op": "start", "group": 1, "preset": 1}, "preset: not a field"),
    ({"action": "cruise", "op": "speed", "group": 1, "speed": 4096}, "speed: expected an integer"),
    ({"action": "cruise", "op": "dwell", "group": 1}, "seconds: expected an integer 0..4095"),
    ({"action": "scan", "op": "up", "group": 1}, "op: expected one of start, left, right, speed"),
    ({"action": "scan", "op": "start"}, "group: expected an integer 0..255"),
    ({"action": "scan", "op": "speed", "group": 1}, "speed: expected an integer 0..4095"),
    ({"action": "aux", "switch": 1}, "on: expected true or false"),
    ({"action": "aux", "switch": 1, "on": 1}, "on: expected true or false"),
    ({"action": "aux", "switch": 300, "on": True}, "switch: expected an integer 0..255"),
]


async def test_bad_bodies_are_400_naming_the_field_and_send_nothing(
    env: ControlEnv, client: TestClient[Any, Any]
) -> None:
    wrong = []
    for body, expected in BAD_BODIES:
        response = await client.post(f"/channels/{env.channel_ids[0]}/ptz", json=body)
        answer = await response.json()
        if response.status != 400 or not answer["error"].startswith(expected):
            wrong.append((body, response.status, answer))
    not_json = await client.post(f"/channels/{env.channel_ids[0]}/ptz", data=b"{not json")
    assert not_json.status == 400
    assert wrong == []
    # Each bad body was refused before anything went out: a stop still arrives first.
    await env.service.ptz(env.channel_ids[0], PtzStop())
    assert await env.received(1) == [(env.channel_ids[0], "A50F0100000000B5")]
    assert len(env.device.responder.ptz_commands) == 1


async def test_unknown_channel_is_404_and_offline_device_is_503(
    env: ControlEnv, client: TestClient[Any, Any]
) -> None:
    missing = await client.post("/channels/34020000001310009999/ptz", json={"action": "stop"})
    assert missing.status == 404
    assert await missing.json() == {"error": "no channel 34020000001310009999"}
    offline = await client.post(f"/channels/{ABSENT_CHANNEL}/ptz", json={"action": "stop"})
    assert offline.status == 503
    assert (await offline.json())["error"].startswith(f"device {ABSENT_DEVICE} of channel")
