"""/api/uppers: the upper platforms this one registers to, each link's state, and what each
may see (`/api/uppers/{name}/share`: read, set, or reset to the `[[upper]]` table's).

`PUT /api/uppers/{name}/share {"share": "all"|"selected", "farms": [filing numbers],
"devices": [IDs], "channels": [IDs]}` stores the share (it wins over the configuration's
from then on, restarts included) and applies it to the running link at once; `DELETE`
removes it, so the configuration's applies again.
"""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.sharing.upper_shares import EffectiveShare, parse_share
from farmwatch.web.authorization import ACCESS_NOTE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import UPPER_LINKS, UPPER_SHARES
from farmwatch.web.views import share_view, upper_view

routes = web.RouteTableDef()
_SHAPE = '{"share": "all"|"selected", "farms"?: [...], "devices"?: [...], "channels"?: [...]}'


@routes.get("/uppers")
async def list_uppers(request: web.Request) -> web.Response:
    statuses = request.app[UPPER_LINKS].statuses()
    shares = await request.app[UPPER_SHARES].all()
    return web.json_response(
        {"uppers": [upper_view(status, shares.get(status.name)) for status in statuses]}
    )


@routes.get("/uppers/{name}/share")
async def get_share(request: web.Request) -> web.Response:
    share = await request.app[UPPER_SHARES].get(request.match_info["name"])
    return web.json_response(share_view(share))


@routes.put("/uppers/{name}/share")
async def put_share(request: web.Request) -> web.Response:
    body = await json_object(request, _SHAPE)
    rule = parse_share(body)
    share = await request.app[UPPER_SHARES].set(
        request.match_info["name"], rule, by=principal_of(request).name
    )
    return _answer(request, share)


@routes.delete("/uppers/{name}/share")
async def reset_share(request: web.Request) -> web.Response:
    share = await request.app[UPPER_SHARES].reset(
        request.match_info["name"], by=principal_of(request).name
    )
    return _answer(request, share)


def _answer(request: web.Request, share: EffectiveShare) -> web.Response:
    view = share_view(share)
    note = request.get(ACCESS_NOTE)
    if note is not None:  # the audit row says which upper now sees what
        note.detail.update({"upper": share.upper_name, "share": view["share"],
                            "source": view["source"]})  # fmt: skip
    return web.json_response(view)
