"""The console's tree and each camera's place (regulation art. 11–17, 21).

- `GET /api/tree`: organisations → farms → devices → cameras, with online states and each
  camera's key area and location number, holding only what the caller may see (a monitor:
  the cameras granted to them; an administrator: what is placed within their reach);
- `PUT /api/channels/{channel_id}/placement {"key_area": "animal_house"|…|null,
  "location": "A-03"|null, "model": "DS-2CD3T46"|null, "access_method":
  "gb28181_direct"|"via_nvr"|"via_lower_platform"|null}`: an administrator of the camera sets
  where it looks and what it is; a field left out keeps its value, null unsets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from farmwatch.platform.cameras import UNCHANGED, AccessMethod, KeyArea, Unchanged
from farmwatch.platform.errors import InvalidInput
from farmwatch.web.authorization import principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.camera_views import console_tree_view, place_view
from farmwatch.web.keys import CAMERA_TREE

routes = web.RouteTableDef()
T = TypeVar("T")

_AREAS = ", ".join(area.value for area in KeyArea)
_METHODS = ", ".join(method.value for method in AccessMethod)


def _key_area(value: object) -> KeyArea:
    try:
        return KeyArea(str(value)) if isinstance(value, str) else KeyArea("")
    except ValueError:
        raise InvalidInput(f"key_area: expected one of {_AREAS} or null") from None


def _access_method(value: object) -> AccessMethod:
    try:
        return AccessMethod(str(value)) if isinstance(value, str) else AccessMethod("")
    except ValueError:
        raise InvalidInput(f"access_method: expected one of {_METHODS} or null") from None


def _string(name: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise InvalidInput(f"{name}: expected a string or null")
        return value

    return parse


def _field(body: dict[str, Any], name: str, parse: Callable[[object], T]) -> T | None | Unchanged:
    """A field of a placement change: left out, it stays; null unsets it."""
    if name not in body:
        return UNCHANGED
    value = body[name]
    return None if value is None else parse(value)


@routes.get("/tree")
async def console_tree(request: web.Request) -> web.Response:
    tree = await request.app[CAMERA_TREE].tree(principal_of(request))
    return web.json_response(console_tree_view(tree))


@routes.put("/channels/{channel_id}/placement")
async def set_placement(request: web.Request) -> web.Response:
    body = await json_object(request, '{"key_area", "location", "model", "access_method"}')
    channel_id = request.match_info["channel_id"]
    place = await request.app[CAMERA_TREE].set_place(
        channel_id,
        _field(body, "key_area", _key_area),
        _field(body, "location", _string("location")),
        _field(body, "model", _string("model")),
        _field(body, "access_method", _access_method),
    )
    return web.json_response({"channel_id": channel_id, **place_view(place)})
