"""`GET /healthz` (public): 200 `{"status": "ok"}` while the database answers, else 503."""

from __future__ import annotations

from aiohttp import web

from farmwatch.web.keys import HEALTH

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    if await request.app[HEALTH].ping():
        return web.json_response({"status": "ok"})
    return web.json_response(
        {"status": "unavailable", "error": "the database does not answer"}, status=503
    )
