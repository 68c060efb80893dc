"""A mobile device's track over HTTP (gb28181.md §4.11; issue 12 item 3).

`GET /api/devices/{id}/track?since=&until=`: the positions the device reported, in time
order (`since`/`until` ISO times, read in `[registrar] timezone` without an offset; at most
10,000 points, from `since`): `{"device_id", "points": [{"time", "longitude", "latitude",
"speed", "direction", "altitude", "source_id", "received_at"}]}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.position_service import TrackPoint
from farmwatch.web.keys import POSITIONS
from farmwatch.web.routes.records import parse_local_time

__all__ = ["routes"]

routes = web.RouteTableDef()


def point_view(point: TrackPoint) -> dict[str, Any]:
    return {
        "time": point.time.isoformat(),
        "longitude": point.longitude,
        "latitude": point.latitude,
        "speed": point.speed,
        "direction": point.direction,
        "altitude": point.altitude,
        "source_id": point.source_id,
        "received_at": point.received_at.isoformat(),
    }


@routes.get("/devices/{device_id}/track")
async def track(request: web.Request) -> web.Response:
    service = request.app[POSITIONS]
    device_id = request.match_info["device_id"]
    since_text, until_text = request.query.get("since"), request.query.get("until")
    since = parse_local_time("since", since_text, service.zone) if since_text else None
    until = parse_local_time("until", until_text, service.zone) if until_text else None
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until: expected a time after since")
    points = await service.track(device_id, since, until)
    return web.json_response(
        {"device_id": device_id, "points": [point_view(point) for point in points]}
    )
