"""Answers schemathesis found wrong (tests/e2e/test_openapi_conformance.py), each fixed where
the handler reads its input: a device the platform does not know is a 404, not an offline
device's 503; an ID too large for the database is a 400, not a 500 from the query."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from farmwatch.platform.errors import DeviceOffline, InvalidInput, NotFound
from farmwatch.web.app import WebAccess, WebServices, create_api_app
from farmwatch.web.routes.accounts import int_field
from farmwatch.web.routes.records import parse_local_time


class _NoDevices:
    async def get_device(self, device_id: str) -> Any:
        raise NotFound(f"no device {device_id}")


class _Offline:
    async def send(self, device_id: str, *_: Any) -> Any:
        raise DeviceOffline(f"device {device_id} is offline")

    read_config = write_config = send


def _services() -> WebServices:
    fields: dict[str, Any] = {f.name: None for f in dataclasses.fields(WebServices)}
    fields["access"] = WebAccess(None, None, None)  # type: ignore[arg-type]
    fields["devices"] = _NoDevices()
    fields["control"] = SimpleNamespace(commands=_Offline())
    return WebServices(**fields)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/devices/0/commands", {"command": "iframe"}),
        ("GET", "/devices/0/config", None),
        ("PUT", "/devices/0/config", {"BasicParam": {"Name": "x"}}),
    ],
)
async def test_a_command_to_an_unknown_device_is_a_404(
    aiohttp_client: Any, method: str, path: str, body: Any
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(create_api_app(_services()))
    response = await client.request(method, path, json=body)
    assert response.status == 404
    assert await response.json() == {"error": "no device 0"}


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 54631369768298181107384320])
def test_an_id_beyond_a_bigint_is_invalid_input(value: int) -> None:
    with pytest.raises(InvalidInput, match="farm_id: expected an integer"):
        int_field({"farm_id": value}, "farm_id")
    assert int_field({"farm_id": 2**63 - 1}, "farm_id") == 2**63 - 1


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",  # the zone's offset takes it before year 1
        "9999-12-31T23:59:59-14:00",  # ... or past year 9999
        "2024-13-01T00:00:00",
        "\x00",
    ],
)
def test_a_time_at_the_edge_of_the_calendar_is_a_400_not_a_500(text: str) -> None:
    with pytest.raises(InvalidInput, match="expected an ISO time"):
        parse_local_time("position", text, ZoneInfo("Asia/Shanghai"))
