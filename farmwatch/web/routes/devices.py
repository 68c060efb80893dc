"""/api/devices: devices with their online state, channel trees, catalog refresh; a caller
sees only the devices and cameras within their reach (the route rules check the device of
each path)."""

from __future__ import annotations

import re

from aiohttp import web

from farmwatch.platform.catalog_tree import visible_tree
from farmwatch.platform.errors import InvalidInput
from farmwatch.web.authorization import principal_of
from farmwatch.web.keys import ACCESS, DEVICE_SERVICE
from farmwatch.web.views import device_view, progress_view, status_view, tree_view

routes = web.RouteTableDef()

# ASCII digits only: str.isdigit() also takes '²' and other scripts' digits, which int()
# refuses or reads; ten digits are more than any bound here and keep int() cheap.
_DIGITS = re.compile(r"[0-9]{1,10}")


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
    return web.json_response(
        {"total": page.total, "devices": [device_view(record) for record in page.items]}
    )


@routes.get("/devices/{device_id}")
async def get_device(request: web.Request) -> web.Response:
    record = await request.app[DEVICE_SERVICE].get_device(request.match_info["device_id"])
    return web.json_response(device_view(record))


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
    return web.json_response({"device_id": device_id, "channels": tree_view(nodes)})


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
