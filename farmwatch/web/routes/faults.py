"""Fault tickets over HTTP (regulation art. 19; issue 11 item 4).

`GET /api/faults?state=&kind=&farm=&organisation=&open=&limit=&offset=`: the tickets of the
farms the caller may supervise, newest first. `POST /api/faults {"channel_id", "kind"?,
"detail"?}`: a ticket opened by hand on a camera the caller may view (kind `other` unless
given; an open one of the same camera and kind is updated instead). `GET
/api/faults/{id}`: one ticket with its history. `POST /api/faults/{id}/state {"state",
"remark"?}`: notified or fixed by anyone within the farm's reach; verified, sent back or
closed by an administrator; an impossible step is a 409. `GET /api/faults/events?since_id=
&wait=`: the console's feed (long poll, as `/api/alarms/events`). `GET
/api/faults/statistics?organisation=&since=&until=`: open tickets by kind and repair times
per organisation. `GET /api/faults/farms`: the farms flagged for more on-site inspection
(with an open ticket) and how many tickets each has open.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.faults.feed import FaultEvent
from farmwatch.platform.supervision.faults.records import FaultFilter, FaultTicket
from farmwatch.platform.supervision.faults.service import FaultStatistics, ticket_json
from farmwatch.platform.supervision.faults.states import FaultKind, FaultState
from farmwatch.web.authorization import ACCESS_NOTE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import FAULTS
from farmwatch.web.routes.devices import int_param
from farmwatch.web.routes.records import parse_local_time

__all__ = ["fault_view", "routes"]

routes = web.RouteTableDef()

MAX_PAGE = 500
MAX_DETAIL = 512
MAX_REMARK = 1024
DEFAULT_WAIT = 25
_KINDS = ", ".join(kind.value for kind in FaultKind)
_STATES = ", ".join(state.value for state in FaultState)


def fault_view(
    ticket: FaultTicket, names: dict[int, str], *, history: bool = False
) -> dict[str, Any]:
    view: dict[str, Any] = dict(ticket_json(ticket))
    view["farm_name"] = None if ticket.farm_id is None else names.get(ticket.farm_id)
    if history:
        view["history"] = [
            {
                "from": None if step.source is None else step.source.value,
                "to": step.target.value,
                "by": step.by,
                "at": step.at.isoformat(),
                "remark": step.remark,
            }  # fmt: skip
            for step in ticket.history
        ]
    return view


def _event_view(event: FaultEvent, names: dict[int, str]) -> dict[str, Any]:
    return {"id": event.id, "event": event.kind.value, "at": event.at.isoformat(),
            "fault": fault_view(event.ticket, names)}  # fmt: skip


def _fault_id(request: web.Request) -> int:
    text = request.match_info["fault_id"]
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise InvalidInput(f"fault: expected a number, got {text[:20]!r}")
    return int(text)


def _kind(text: Any, name: str = "kind") -> FaultKind:
    try:
        return FaultKind(text)
    except ValueError:
        raise InvalidInput(f"{name}: expected one of {_KINDS}, got {str(text)[:20]!r}") from None


def _state(text: Any, name: str = "state") -> FaultState:
    try:
        return FaultState(text)
    except ValueError:
        raise InvalidInput(f"{name}: expected one of {_STATES}, got {str(text)[:20]!r}") from None


def _optional_id(request: web.Request, name: str) -> int | None:
    if not request.query.get(name):
        return None
    return int_param(request, name, 0, 2**53)


def _open_param(request: web.Request) -> bool | None:
    text = request.query.get("open")
    if not text:
        return None
    if text.lower() not in ("true", "false"):
        raise InvalidInput(f"open: expected true or false, got {text[:20]!r}")
    return text.lower() == "true"


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{name}: expected a text of at most {limit} characters")
    return value.strip() or None


@routes.get("/faults")
async def list_faults(request: web.Request) -> web.Response:
    query = request.query
    wanted = FaultFilter(
        state=_state(query["state"]) if query.get("state") else None,
        kind=_kind(query["kind"]) if query.get("kind") else None,
        farm_id=_optional_id(request, "farm"),
        is_open=_open_param(request),
    )
    limit = max(int_param(request, "limit", 100, MAX_PAGE), 1)
    offset = int_param(request, "offset", 0, 2**31)
    service = request.app[FAULTS]
    found = await service.find(
        principal_of(request), wanted, organisation_id=_optional_id(request, "organisation"),
        limit=limit, offset=offset,
    )  # fmt: skip
    names = await service.farm_names([ticket.farm_id for ticket in found])
    return web.json_response(
        {
            "faults": [fault_view(ticket, names) for ticket in found],
            "next_offset": offset + limit if len(found) == limit else None,
        }
    )


@routes.post("/faults")
async def open_fault(request: web.Request) -> web.Response:
    body = await json_object(request, '{"channel_id": text, "kind"?: text, "detail"?: text}')
    unknown = set(body) - {"channel_id", "kind", "detail"}
    if unknown:
        raise InvalidInput(f"unexpected field {sorted(unknown)[0]!r}")
    channel_id = body.get("channel_id")
    if not (isinstance(channel_id, str) and channel_id.isascii() and channel_id.isdigit()
            and len(channel_id) == 20):  # fmt: skip
        raise InvalidInput("channel_id: expected a 20-digit camera ID")
    kind = _kind(body.get("kind", FaultKind.OTHER.value))
    detail = _text(body, "detail", MAX_DETAIL)
    request[ACCESS_NOTE].detail["channel"] = channel_id
    service = request.app[FAULTS]
    ticket = await service.open_by_hand(principal_of(request), channel_id, kind, detail)
    request[ACCESS_NOTE].object_id = str(ticket.id)
    names = await service.farm_names([ticket.farm_id])
    return web.json_response(fault_view(ticket, names, history=True), status=201)


@routes.get("/faults/events")
async def fault_events(request: web.Request) -> web.Response:
    since = request.query.get("since_id")
    since_id = None if since is None else int_param(request, "since_id", 0, 2**53)
    wait = int_param(request, "wait", DEFAULT_WAIT, 30)
    service = request.app[FAULTS]
    found, next_id = await service.events(principal_of(request), since_id, wait=wait)
    names = await service.farm_names([event.ticket.farm_id for event in found])
    return web.json_response({"events": [_event_view(e, names) for e in found], "next_id": next_id})


def _statistics_view(stats: FaultStatistics) -> dict[str, Any]:
    return {
        "since": stats.period.start.isoformat(),
        "until": stats.period.end.isoformat(),
        "organisations": [
            {
                "organisation_id": o.organisation_id,
                "name": stats.names.get(o.organisation_id, ""),
                "open": {kind.value: count for kind, count in sorted(o.open_by_kind.items())},
                "open_total": o.open_total,
                "repaired": o.repaired,
                "mean_repair_seconds": o.mean_repair_seconds,
                "median_repair_seconds": o.median_repair_seconds,
            }
            for o in stats.organisations
        ],
    }


@routes.get("/faults/statistics")
async def fault_statistics(request: web.Request) -> web.Response:
    service = request.app[FAULTS]
    query = request.query
    since = query.get("since")
    until = query.get("until")
    stats = await service.statistics(
        principal_of(request),
        organisation_id=_optional_id(request, "organisation"),
        since=parse_local_time("since", since, service.zone) if since else None,
        until=parse_local_time("until", until, service.zone) if until else None,
    )
    return web.json_response(_statistics_view(stats))


@routes.get("/faults/farms")
async def flagged_farms(request: web.Request) -> web.Response:
    service = request.app[FAULTS]
    counts = await service.flagged_farms(principal_of(request))
    names = await service.farm_names(counts)
    return web.json_response(
        {
            "farms": [
                {"farm_id": farm, "name": names.get(farm), "open": count}
                for farm, count in sorted(counts.items())
            ]
        }
    )


@routes.get("/faults/{fault_id}")
async def get_fault(request: web.Request) -> web.Response:
    service = request.app[FAULTS]
    ticket = await service.get(principal_of(request), _fault_id(request))
    names = await service.farm_names([ticket.farm_id])
    return web.json_response(fault_view(ticket, names, history=True))


@routes.post("/faults/{fault_id}/state")
async def change_fault_state(request: web.Request) -> web.Response:
    fault_id = _fault_id(request)
    request[ACCESS_NOTE].object_id = str(fault_id)
    body = await json_object(request, '{"state": text, "remark"?: text}')
    unknown = set(body) - {"state", "remark"}
    if unknown:
        raise InvalidInput(f"unexpected field {sorted(unknown)[0]!r}")
    if "state" not in body:
        raise InvalidInput(f"state: expected one of {_STATES}")
    target = _state(body["state"])
    remark = _text(body, "remark", MAX_REMARK)
    request[ACCESS_NOTE].detail["state"] = target.value
    service = request.app[FAULTS]
    ticket = await service.change_state(principal_of(request), fault_id, target, remark)
    request[ACCESS_NOTE].detail["channel"] = ticket.channel_id
    names = await service.farm_names([ticket.farm_id])
    return web.json_response(fault_view(ticket, names, history=True))
