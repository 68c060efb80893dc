"""The console's tree and each camera's place (regulation art. 11–17, 21).

- `GET /api/tree`: organisations → farms → devices → cameras, with online states and each
  camera's key area and location number, holding only what the caller may see (a monitor:
  the cameras granted to them; an administrator: what is placed within their reach);
- `PUT /api/channels/{channel_id}/placement {"key_area": "animal_house"|…|null,
  "location": "A-03"|null}`: an administrator of the camera sets where it looks.
"""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.cameras import KeyArea
from farmwatch.platform.errors import InvalidInput
from farmwatch.web.authorization import principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.camera_views import console_tree_view, place_view
from farmwatch.web.keys import CAMERA_TREE

routes = web.RouteTableDef()

_AREAS = ", ".join(area.value for area in KeyArea)


def _key_area(value: object) -> KeyArea:
    try:
        return KeyArea(str(value)) if isinstance(value, str) else KeyArea("")
    except ValueError:
        raise InvalidInput(f"key_area: expected one of {_AREAS} or null") from None


@routes.get("/tree")
async def console_tree(request: web.Request) -> web.Response:
    tree = await request.app[CAMERA_TREE].tree(principal_of(request))
    return web.json_response(console_tree_view(tree))


@routes.put("/channels/{channel_id}/placement")
async def set_placement(request: web.Request) -> web.Response:
    body = await json_object(request, '{"key_area", "location"}')
    area, location = body.get("key_area"), body.get("location")
    key_area = None if area is None else _key_area(area)
    if location is not None and not isinstance(location, str):
        raise InvalidInput("location: expected a string or null")
    channel_id = request.match_info["channel_id"]
    place = await request.app[CAMERA_TREE].set_place(channel_id, key_area, location)
    return web.json_response({"channel_id": channel_id, **place_view(place)})
