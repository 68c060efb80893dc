"""The audit trail (regulation art. 22), for administrators: `GET /api/audit?before_id=&limit=`
pages through the rows of the caller's organisation and those below it, newest first (an
administrator of the top organisation also sees the rows of no organisation: failed logins
of unknown names, the platform's own actions); `GET /api/audit/verify` checks the whole
hash chain and names the first row where it breaks.
"""

from __future__ import annotations

from aiohttp import web

from farmwatch.web.access_views import audit_view, verify_view
from farmwatch.web.authorization import principal_of
from farmwatch.web.keys import ACCESS, AUDIT
from farmwatch.web.routes.devices import int_param

routes = web.RouteTableDef()

MAX_PAGE = 500


@routes.get("/audit")
async def list_audit(request: web.Request) -> web.Response:
    principal = principal_of(request)
    limit = int_param(request, "limit", 100, MAX_PAGE)
    before = request.query.get("before_id")
    before_id = None if before is None else int_param(request, "before_id", 0, 2**53)
    orgs = await request.app[ACCESS].cameras.org_tree()
    is_top = orgs.is_root(principal.organisation_id)
    records = await request.app[AUDIT].recent(
        max(limit, 1), before_id=before_id,
        organisation_ids=None if is_top else orgs.subtree(principal.organisation_id),
        with_unassigned=is_top,
    )  # fmt: skip
    return web.json_response(
        {
            "rows": [audit_view(record) for record in records],
            "next_before_id": records[-1].id if len(records) == max(limit, 1) else None,
        }
    )


@routes.get("/audit/verify")
async def verify_audit(request: web.Request) -> web.Response:
    return web.json_response(verify_view(await request.app[AUDIT].verify()))
