"""Monitoring records and the supervision schedule over HTTP (regulation art. 12–18; issue
11 item 2).

- `GET /api/checklists`: the six key areas' checklists.
- `POST /api/channels/{id}/monitoring-records {"mode": "live"|"playback", "recorded_at"?,
  "playback_session"?, "answers": {point_id: {"answer", "remark"?}}, "remark"?,
  "corrects"?}` → 201 with the signed record (its snapshot taken at once).
- `GET /api/monitoring-records?farm=&channel=&user=&from=&to=&result=&limit=&offset=`, and
  the same filters as CSV (`/api/monitoring-records.csv`) or a printable page
  (`/monitoring-records/print`); `GET /api/monitoring-records/{id}` and its
  `snapshot.jpg`.
- `GET /api/supervision/schedule`; `PUT /api/organisations/{id}/schedule {"days": N|null}`.
"""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.monitoring_records import (
    MonitoringDraft,
    MonitoringFilter,
    MonitoringRecord,
    Outcome,
    ViewMode,
    read_remark,
)
from farmwatch.web.authorization import ACCESS_NOTE, note_opened, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import MONITORING, SCHEDULE
from farmwatch.web.monitoring_views import (
    checklists_view,
    due_view,
    record_view,
    records_csv,
    records_print_page,
)
from farmwatch.web.routes.accounts import int_field
from farmwatch.web.routes.devices import int_param
from farmwatch.web.routes.pages import PAGE_HEADERS
from farmwatch.web.routes.records import parse_local_time

__all__ = ["print_routes", "routes"]

routes = web.RouteTableDef()
print_routes = web.RouteTableDef()
"""The printable page, outside /api."""

MAX_PAGE = 500
MAX_EXPORT = 5000
"""Records in one CSV export or printed page."""
_MAX_ID = 2**63 - 1


def _number(text: str, name: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise InvalidInput(f"{name}: expected a number, got {text[:20]!r}")
    return int(text)


def _filter(request: web.Request) -> MonitoringFilter:
    query, zone = request.query, request.app[MONITORING].zone
    channel = query.get("channel") or None
    if channel is not None and not (len(channel) == 20 and channel.isascii() and channel.isdigit()):
        raise InvalidInput(f"channel: expected a 20-digit ID, got {channel[:24]!r}")
    result = query.get("result") or ""
    try:
        outcome = Outcome(result) if result else None
    except ValueError:
        raise InvalidInput(
            f"result: expected compliant, not_compliant or not_visible, got {result[:20]!r}"
        ) from None
    since, until = query.get("from") or None, query.get("to") or None
    return MonitoringFilter(
        farm_id=None if not query.get("farm") else _number(query["farm"], "farm"),
        channel_id=channel,
        user_id=None if not query.get("user") else _number(query["user"], "user"),
        since=None if since is None else parse_local_time("from", since, zone),
        until=None if until is None else parse_local_time("to", until, zone),
        outcome=outcome,
    )


async def _draft(request: web.Request) -> MonitoringDraft:
    body = await json_object(
        request, '{"mode", "recorded_at"?, "answers": {point: {"answer", "remark"?}}, ...}'
    )
    try:
        mode = ViewMode(str(body.get("mode", "live")))
    except ValueError:
        raise InvalidInput("mode: expected live or playback") from None
    answers = body.get("answers")
    if not isinstance(answers, dict):
        raise InvalidInput('answers: expected {"<point id>": {"answer": "compliant"|...}}')
    recorded_text = body.get("recorded_at")
    if recorded_text is not None and not isinstance(recorded_text, str):
        raise InvalidInput("recorded_at: expected an ISO local time")
    session = body.get("playback_session")
    if session is not None and (not isinstance(session, str) or not 0 < len(session) <= 64):
        raise InvalidInput("playback_session: expected a playback session ID")
    corrects = None if body.get("corrects") is None else int_field(body, "corrects")
    if corrects is not None and not 0 < corrects <= _MAX_ID:
        raise InvalidInput("corrects: expected a record ID")
    zone = request.app[MONITORING].zone
    return MonitoringDraft(
        mode=mode,
        recorded_at=None
        if recorded_text is None
        else parse_local_time("recorded_at", recorded_text, zone),
        answers=answers,
        remark=read_remark(body.get("remark")),
        corrects_id=corrects,
        playback_session=session,
    )


@routes.get("/checklists")
async def list_checklists(request: web.Request) -> web.Response:
    return web.json_response(checklists_view())


@routes.post("/channels/{channel_id}/monitoring-records")
async def create_record(request: web.Request) -> web.Response:
    service = request.app[MONITORING]
    draft = await _draft(request)
    record = await service.create(principal_of(request), request.match_info["channel_id"], draft)
    note_opened(request, str(record.id), (record.recorded_at, record.recorded_at))
    return web.json_response(record_view(record, service.zone), status=201)


@routes.get("/monitoring-records")
async def list_records(request: web.Request) -> web.Response:
    service = request.app[MONITORING]
    wanted = _filter(request)
    limit = max(int_param(request, "limit", 100, MAX_PAGE), 1)
    offset = int_param(request, "offset", 0, 2**31)
    found = await service.find(principal_of(request), wanted, limit=limit, offset=offset)
    return web.json_response({
        "records": [record_view(record, service.zone) for record in found],
        "next_offset": offset + limit if len(found) == limit else None,
    })  # fmt: skip


async def _exported(request: web.Request) -> list[MonitoringRecord]:
    service = request.app[MONITORING]
    wanted = _filter(request)
    found = await service.find(principal_of(request), wanted, limit=MAX_EXPORT + 1)
    if len(found) > MAX_EXPORT:
        raise InvalidInput(
            f"more than {MAX_EXPORT} records match: narrow the filters (from, to, farm)"
        )
    note = request.get(ACCESS_NOTE)
    if note is not None:
        note.detail["records"] = len(found)
        note.detail["query"] = request.query_string[:300]
    return found


@routes.get("/monitoring-records.csv")
async def export_csv(request: web.Request) -> web.Response:
    service = request.app[MONITORING]
    found = await _exported(request)
    body = records_csv(found, await service.farms(), service.zone)
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="monitoring-records.csv"'},
    )


@routes.get("/monitoring-records/{record_id}")
async def get_record(request: web.Request) -> web.Response:
    service = request.app[MONITORING]
    record_id = _number(request.match_info["record_id"], "record")
    record = await service.get(principal_of(request), record_id)
    return web.json_response(record_view(record, service.zone))


@routes.get("/monitoring-records/{record_id}/snapshot.jpg")
async def record_snapshot(request: web.Request) -> web.Response:
    record_id = _number(request.match_info["record_id"], "record")
    jpeg = await request.app[MONITORING].snapshot(principal_of(request), record_id)
    return web.Response(body=jpeg, content_type="image/jpeg")


@routes.get("/supervision/schedule")
async def schedule(request: web.Request) -> web.Response:
    due = await request.app[SCHEDULE].due(principal_of(request))
    zone = request.app[MONITORING].zone
    return web.json_response({
        "farms": [due_view(farm, zone) for farm in due],
        "overdue": sum(1 for farm in due if farm.overdue),
    })  # fmt: skip


@routes.put("/organisations/{organisation_id}/schedule")
async def set_schedule(request: web.Request) -> web.Response:
    organisation_id = _number(request.match_info["organisation_id"], "organisation")
    body = await json_object(request, '{"days": 1-366 or null}')
    if "days" not in body:
        raise InvalidInput('expected a JSON body {"days": 1-366 or null}')
    days = None if body["days"] is None else int_field(body, "days")
    found = await request.app[SCHEDULE].set_days(principal_of(request), organisation_id, days)
    note = request.get(ACCESS_NOTE)
    if note is not None:
        note.detail.update({"organisation_id": organisation_id, "schedule_days": days})
    return web.json_response(
        {"organisation_id": found.organisation_id, "days": found.days, "own": found.own}
    )


@print_routes.get("/monitoring-records/print")
async def print_page(request: web.Request) -> web.Response:
    service = request.app[MONITORING]
    found = await _exported(request)
    page = records_print_page(found, await service.farms(), service.zone, service.now())
    return web.Response(text=page, content_type="text/html", headers=PAGE_HEADERS)
