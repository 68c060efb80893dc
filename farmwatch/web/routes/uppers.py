"""/api/uppers: the upper platforms this one registers to, and each link's state."""

from __future__ import annotations

from aiohttp import web

from farmwatch.web.keys import UPPER_LINKS
from farmwatch.web.views import upper_view

routes = web.RouteTableDef()


@routes.get("/uppers")
async def list_uppers(request: web.Request) -> web.Response:
    statuses = request.app[UPPER_LINKS].statuses()
    return web.json_response({"uppers": [upper_view(status) for status in statuses]})
