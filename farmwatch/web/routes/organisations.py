"""Organisations, farms and where devices are (regulation art. 3–6, 10), for administrators
within their reach (the core checks and audits each change).

- `GET /api/organisations` (the caller's and those below it); `POST /api/organisations
  {"name", "tier": "bureau"|"branch", "parent_id"}` → 201;
- farms: the farm register (`farms.py`);
- `PUT /api/devices/{id}/farm {"farm_id": N|null}`: put a device (its cameras) on a farm,
  or take it off (null).
"""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.access import OrgTier
from farmwatch.platform.errors import InvalidInput
from farmwatch.web.access_views import organisation_view
from farmwatch.web.authorization import principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ACCESS
from farmwatch.web.routes.accounts import int_field, text_field

routes = web.RouteTableDef()


@routes.get("/organisations")
async def list_organisations(request: web.Request) -> web.Response:
    organisations = await request.app[ACCESS].administration.organisations(principal_of(request))
    return web.json_response({"organisations": [organisation_view(o) for o in organisations]})


@routes.post("/organisations")
async def create_organisation(request: web.Request) -> web.Response:
    body = await json_object(request, '{"name", "tier", "parent_id"}')
    try:
        tier = OrgTier(str(body.get("tier")))
    except ValueError:
        raise InvalidInput("tier: expected national, bureau or branch") from None
    name = text_field(body, "name")
    assert name is not None
    organisation = await request.app[ACCESS].administration.create_organisation(
        principal_of(request), name, tier, int_field(body, "parent_id"), source=request.remote
    )
    return web.json_response(organisation_view(organisation), status=201)


@routes.put("/devices/{device_id}/farm")
async def place_device(request: web.Request) -> web.Response:
    body = await json_object(request, '{"farm_id": N or null}')
    farm_id = None if body.get("farm_id") is None else int_field(body, "farm_id")
    device_id = request.match_info["device_id"]
    if not 0 < len(device_id) <= 20:
        raise InvalidInput("device ID: expected at most 20 characters")
    await request.app[ACCESS].administration.place_device(
        principal_of(request), device_id, farm_id, source=request.remote
    )
    return web.json_response({"device_id": device_id, "farm_id": farm_id})
