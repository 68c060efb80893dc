"""The aiohttp application: the REST API under /api (the console comes later)."""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.services.device_service import DeviceService
from farmwatch.web.keys import DEVICE_SERVICE
from farmwatch.web.middlewares import error_middleware, json_error
from farmwatch.web.routes import devices


async def _not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no such endpoint: {request.method} {request.path}")


def create_api_app(device_service: DeviceService) -> web.Application:
    api = web.Application(middlewares=[error_middleware])
    api[DEVICE_SERVICE] = device_service
    api.add_routes(devices.routes)
    return api


def create_web_app(device_service: DeviceService) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app.add_subapp("/api", create_api_app(device_service))
    app.router.add_route("*", "/api/{tail:.*}", _not_found)
    return app
