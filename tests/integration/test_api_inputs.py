"""Odd input to the REST API of a real `farmwatch serve`: a clear 400, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import RunningServer
from tests.peers.raw_device import RawDevice


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def _get(http: aiohttp.ClientSession, server: RunningServer, path: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{server.web_port}/api{path}"
    async with http.get(url, headers=server.auth_headers) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=²", "limit"),  # str.isdigit() says yes, int() says no
        ("offset=١٢", "offset"),  # Arabic-Indic digits
        ("limit=" + "9" * 5000, "limit"),  # longer than int() converts
        ("limit=-1", "limit"),
        ("limit=1e3", "limit"),
        ("limit= 5", "limit"),
    ],
)
async def test_integer_parameters_take_only_ascii_digits(
    farmwatch_server: RunningServer, http: aiohttp.ClientSession, query: str, name: str
) -> None:
    status, body = await _get(http, farmwatch_server, f"/devices?{query}")
    assert status == 400, body
    assert body["error"].startswith(f"{name}: expected an integer")


async def test_integer_parameters_in_range_work(
    farmwatch_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, body = await _get(http, farmwatch_server, "/devices?limit=1000&offset=0")
    assert status == 200 and body["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"sdp": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b"\xff\xfe not utf-8",
        b"",
    ],
    ids=["deep-array", "deep-in-object", "not-utf8", "empty"],
)
async def test_a_body_that_is_not_usable_json_is_refused(
    farmwatch_server: RunningServer, http: aiohttp.ClientSession, body: bytes
) -> None:
    # The login is public: anyone reaches its body parser.
    url = f"http://127.0.0.1:{farmwatch_server.web_port}/api/login"
    async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400, await response.text()
        assert "expected a JSON body" in (await response.json())["error"]


async def test_a_body_over_the_size_bound_is_refused(
    farmwatch_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{farmwatch_server.web_port}/api/login"
    body = b'{"username": "admin", "password": "' + b"a" * 300_000 + b'"}'
    async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
        assert response.status == 413, await response.text()
        assert "error" in await response.json()


CHAIN_DEPTH = 1500
DEVICE = "34020000001180000077"


def _chain(depth: int) -> list[tuple[str, str, str | None]]:
    """Virtual organisations (type 216) each naming the previous one as its parent."""
    ids = [f"3402000000216{index:07d}" for index in range(depth)]
    return [
        (item_id, f"org{index}", ids[index - 1] if index else DEVICE)
        for index, item_id in enumerate(ids)
    ]


def _depth(nodes: list[dict[str, Any]]) -> int:
    """Nesting depth of the channel tree, without recursion (the tree may be deep)."""
    deepest, level = 0, nodes
    while level:
        deepest += 1
        level = [child for node in level for child in node["children"]]
    return deepest


def _ids(nodes: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        found.add(node["channel_id"])
        stack.extend(node["children"])
    return found


async def test_a_catalog_with_a_very_deep_parent_chain_and_a_cycle_gives_its_tree(
    farmwatch_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """A device whose catalog nests 1,500 levels (and has a parent cycle) still gets a tree.

    Every item is in the tree once; the tree is only as deep as JSON parsers (browsers,
    Python's json) take.
    """
    chain = _chain(CHAIN_DEPTH)
    cycle = [
        ("34020000002169000001", "loop-a", "34020000002169000002"),
        ("34020000002169000002", "loop-b", "34020000002169000001"),
    ]
    items = chain + cycle
    device = await RawDevice.connect(DEVICE, ("127.0.0.1", farmwatch_server.sip_port), "UDP")
    device.timeout = 30
    try:
        assert await device.register() == 200
        info = await device.next_request(method="MESSAGE", cmd_type="DeviceInfo")
        await device.send_device_info(info.sn)
        query = await device.next_request(method="MESSAGE", cmd_type="Catalog")
        await device.send_catalog(query.sn, items, per_message=25)
        async with asyncio.timeout(30):
            while True:
                status, progress = await _get(http, farmwatch_server, f"/devices/{DEVICE}/catalog")
                # 404 until the registration is written behind the SIP side's back
                assert status in (200, 404), progress
                if status == 200 and progress["state"] == "complete":
                    break
                await asyncio.sleep(0.2)
            while True:  # the catalog is written behind the SIP side's back
                status, body = await _get(http, farmwatch_server, f"/devices/{DEVICE}/channels")
                assert status == 200, body
                if len(_ids(body["channels"])) == len(items):
                    break
                await asyncio.sleep(0.2)
    finally:
        await device.close_and_wait()
    assert _ids(body["channels"]) == {item_id for item_id, _, _ in items}
    assert _depth(body["channels"]) <= 64
