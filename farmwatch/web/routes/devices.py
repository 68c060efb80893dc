"""/api/devices: devices with their online state, channel trees (with each camera's key
area and location number), catalog refresh, enrolment; a caller sees only the devices and
cameras within their reach (the route rules check the device of each path).

`POST /api/devices {"device_id", "password", "name"?, "farm_id"?}` (administrators): enrol
a new device with its own SIP password (regulation art. 6: per camera, its access method,
device ID and password), put on a farm of the administrator's reach when `farm_id` is given.

`PUT /api/devices/{id}/stream-dialect {"dialect": "streamprofile" | ... | null}`
(administrators): how live offers ask the device for its sub stream, stored with the device
and used from the next INVITE on; null follows the configuration again.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from farmwatch.platform.catalog_tree import visible_tree
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound
from farmwatch.platform.services.device_service import StreamDialect
from farmwatch.web.authorization import ACCESS_NOTE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.camera_views import with_places
from farmwatch.web.keys import ACCESS, CAMERA_TREE, DEVICE_SERVICE
from farmwatch.web.routes.accounts import int_field
from farmwatch.web.views import device_view, progress_view, status_view, tree_view

routes = web.RouteTableDef()

# ASCII digits only: str.isdigit() also takes '²' and other scripts' digits, which int()
# refuses or reads; ten digits are more than any bound here and keep int() cheap.
_DIGITS = re.compile(r"[0-9]{1,10}")
# A GB/T 28181 device ID: 20 digits (the standard's coding rules).
_DEVICE_ID = re.compile(r"[0-9]{20}")
# Digest passwords travel in SIP headers' hashes only, but a device's keypad and the
# platform's config take printable ASCII; the bound keeps them sane.
_PASSWORD = re.compile(r"[\x21-\x7e]{6,64}")


def int_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if _DIGITS.fullmatch(text) is None or int(text) > maximum:
        raise InvalidInput(f"{name}: expected an integer 0..{maximum}, got {text[:20]!r}")
    return int(text)


def _online_param(request: web.Request) -> bool | None:
    text = request.query.get("online")
    if text is None:
        return None
    if text.lower() not in ("true", "false"):
        raise InvalidInput(f"online: expected true or false, got {text!r}")
    return text.lower() == "true"


@routes.get("/devices")
async def list_devices(request: web.Request) -> web.Response:
    """The devices the caller may see: an administrator's reach, a monitor's granted ones."""
    service = request.app[DEVICE_SERVICE]
    online = _online_param(request)
    offset = int_param(request, "offset", 0, 10_000_000)
    limit = int_param(request, "limit", 100, 1000)
    visible = await request.app[ACCESS].gate.visible_devices(principal_of(request))
    page = await service.list_devices(online=online, offset=offset, limit=limit, device_ids=visible)
    views = [device_view(record, service.language_of(record)) for record in page.items]
    return web.json_response({"total": page.total, "devices": views})


@routes.get("/devices/{device_id}")
async def get_device(request: web.Request) -> web.Response:
    service = request.app[DEVICE_SERVICE]
    record = await service.get_device(request.match_info["device_id"])
    return web.json_response(device_view(record, service.language_of(record)))


_DIALECTS = ", ".join(member.value for member in StreamDialect)
_DIALECT_NAMES = {member.value.lower(): member for member in StreamDialect}


def _dialect_field(body: dict[str, Any]) -> StreamDialect | None:
    """The body's `dialect`: a `StreamDialect` (any case), or None for null."""
    if "dialect" not in body:
        raise InvalidInput(f"dialect: required, one of {_DIALECTS}, or null (as configured)")
    value = body["dialect"]
    if value is None:
        return None
    known = _DIALECT_NAMES.get(value.strip().lower()) if isinstance(value, str) else None
    if known is None:
        raise InvalidInput(
            f"dialect: expected one of {_DIALECTS}, or null (as configured), "
            f"got {str(value)[:40]!r}"
        )
    return known


@routes.put("/devices/{device_id}/stream-dialect")
async def set_stream_dialect(request: web.Request) -> web.Response:
    """How live offers ask the device for a sub stream, from its next INVITE on."""
    body = await json_object(request, '{"dialect": "<dialect>" | null}')
    dialect = _dialect_field(body)
    service = request.app[DEVICE_SERVICE]
    before = await service.get_device(request.match_info["device_id"])
    note = request[ACCESS_NOTE].detail
    note["stream_dialect"] = None if dialect is None else dialect.value
    note["previous"] = None if before.stream_dialect is None else before.stream_dialect.value
    record = await service.set_stream_dialect(before.device_id, dialect)
    return web.json_response(device_view(record, service.language_of(record)))


@routes.get("/devices/{device_id}/channels")
async def channel_tree(request: web.Request) -> web.Response:
    """The device's catalog tree, with only the cameras the caller may see."""
    device_id = request.match_info["device_id"]
    nodes = await request.app[DEVICE_SERVICE].channel_tree(device_id)
    visible = await request.app[ACCESS].gate.visible_device_channels(
        principal_of(request), device_id
    )
    if visible is not None:
        nodes = visible_tree(nodes, visible)
    view = tree_view(nodes)
    with_places(view, await request.app[CAMERA_TREE].places(_channel_ids(view)))
    return web.json_response({"device_id": device_id, "channels": view})


def _channel_ids(nodes: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        found.append(node["channel_id"])
        found.extend(_channel_ids(node["children"]))
    return found


@routes.post("/devices")
async def enrol_device(request: web.Request) -> web.Response:
    body = await json_object(request, '{"device_id", "password", "name"?, "farm_id"?}')
    device_id, password, name = body.get("device_id"), body.get("password"), body.get("name")
    if not isinstance(device_id, str) or _DEVICE_ID.fullmatch(device_id) is None:
        raise InvalidInput("device_id: expected the device's 20-digit GB/T 28181 ID")
    if not isinstance(password, str) or _PASSWORD.fullmatch(password) is None:
        raise InvalidInput("password: expected 6 to 64 printable ASCII characters, no spaces")
    if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 64):
        raise InvalidInput("name: expected 1 to 64 characters")
    farm_id = None if body.get("farm_id") is None else int_field(body, "farm_id")
    service = request.app[DEVICE_SERVICE]
    try:
        await service.get_device(device_id)
    except NotFound:
        pass
    else:
        # Enrolling again would replace the password of a device someone else may manage.
        raise Conflict(f"device {device_id} exists")
    if farm_id is not None:  # refused before anything is written when the farm is not theirs
        await request.app[ACCESS].administration.place_device(
            principal_of(request), device_id, farm_id, source=request.remote
        )
    record = await service.enroll(
        device_id, password=password, name=None if name is None else name.strip(), charset=None
    )
    view = device_view(record, service.language_of(record))
    return web.json_response({**view, "farm_id": farm_id}, status=201)


@routes.post("/devices/{device_id}/catalog")
async def refresh_catalog(request: web.Request) -> web.Response:
    progress = await request.app[DEVICE_SERVICE].refresh_catalog(request.match_info["device_id"])
    return web.json_response(progress_view(progress), status=202)


@routes.get("/devices/{device_id}/catalog")
async def catalog_progress(request: web.Request) -> web.Response:
    progress = await request.app[DEVICE_SERVICE].catalog_progress(request.match_info["device_id"])
    return web.json_response(progress_view(progress))


@routes.get("/devices/{device_id}/status")
async def device_status(request: web.Request) -> web.Response:
    """The device's own DeviceStatus answer, asked for now."""
    status = await request.app[DEVICE_SERVICE].query_status(request.match_info["device_id"])
    return web.json_response(status_view(status))
