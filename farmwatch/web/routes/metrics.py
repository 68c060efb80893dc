"""GET /metrics: the Prometheus exposition of this platform process."""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.observability import CONTENT_TYPE
from farmwatch.web.keys import METRICS

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics_exposition(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    await metrics.refresh()
    body = metrics.render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response
