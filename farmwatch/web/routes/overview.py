"""The supervision overview over HTTP (总览; issue 11 item 7).

- `GET /api/overview?from=&to=` (signed in): per organisation within the caller's reach,
  nested as a tree, its figures with those below it (`figures`), its own (`own`) and its
  own farms needing attention. A monitor's figures cover only the farms and cameras he may
  see. The period defaults to the last `[supervision] schedule_days` days up to now.
"""

from __future__ import annotations

from aiohttp import web

from farmwatch.web.authorization import principal_of
from farmwatch.web.keys import MONITORING, OVERVIEW
from farmwatch.web.overview_views import overview_view
from farmwatch.web.routes.records import parse_local_time

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/overview")
async def overview(request: web.Request) -> web.Response:
    zone, query = request.app[MONITORING].zone, request.query
    since, until = query.get("from") or None, query.get("to") or None
    period, root = await request.app[OVERVIEW].overview(
        principal_of(request),
        None if since is None else parse_local_time("from", since, zone),
        None if until is None else parse_local_time("to", until, zone),
    )
    return web.json_response(overview_view(period, root, zone))
