"""Random spot checks over HTTP (抽查; regulation art. 4; issue 11 item 6).

- `POST /api/spot-checks {"count": 1..100, "period"?}` → 201: K cameras drawn among those
  the caller may view, farms not checked recently first, with the seed and the digest of
  the population drawn from.
- `GET /api/spot-checks?limit=&offset=`; `GET /api/spot-checks/{id}`;
  `GET /api/spot-checks/{id}/verify` (the draw run again from the stored seed).
- `POST /api/spot-checks/{id}/items/{position}/result {"state": "recorded", "mode",
  "key_area"?, "answers", "remark"?}` or `{"state": "unplayable", "remark": why}`.
- `GET /api/spot-checks/report?from=&to=`: the checks drawn in the period, per farm.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from farmwatch.platform.cameras import KeyArea
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.monitoring_records import ViewMode, read_remark
from farmwatch.platform.supervision.spot_checks.records import MAX_COUNT, ItemState
from farmwatch.platform.supervision.spot_checks.service import ResultDraft
from farmwatch.web.authorization import ACCESS_NOTE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import MONITORING, SPOT_CHECKS
from farmwatch.web.routes.devices import int_param
from farmwatch.web.routes.records import parse_local_time
from farmwatch.web.spot_check_views import (
    check_view,
    item_view,
    report_view,
    verification_view,
)

__all__ = ["routes"]

routes = web.RouteTableDef()
MAX_PAGE = 200


def _number(text: str, name: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise InvalidInput(f"{name}: expected a number, got {text[:20]!r}")
    return int(text)


def _zone(request: web.Request) -> ZoneInfo:
    return request.app[MONITORING].zone


def _note(request: web.Request, **detail: str | int | None) -> None:
    note = request.get(ACCESS_NOTE)
    if note is not None:
        note.detail.update(detail)


@routes.post("/spot-checks")
async def draw(request: web.Request) -> web.Response:
    body = await json_object(request, f'{{"count": 1-{MAX_COUNT}, "period"?: text}}')
    count = body.get("count")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidInput(f"count: expected an integer 1-{MAX_COUNT}")
    period = body.get("period")
    if period is not None and not isinstance(period, str):
        raise InvalidInput("period: expected text such as 2026-12")
    check = await request.app[SPOT_CHECKS].draw(
        principal_of(request), count, None if period is None else period.strip() or None
    )
    _note(
        request, spot_check=check.id, seed=check.seed, requested=count,
        drawn=",".join(item.channel_id for item in check.items)[:600],
    )  # fmt: skip
    return web.json_response(check_view(check, _zone(request)), status=201)


@routes.get("/spot-checks")
async def list_checks(request: web.Request) -> web.Response:
    limit = max(int_param(request, "limit", 50, MAX_PAGE), 1)
    offset = int_param(request, "offset", 0, 2**31)
    found = await request.app[SPOT_CHECKS].find(principal_of(request), limit=limit, offset=offset)
    zone = _zone(request)
    return web.json_response({
        "spot_checks": [check_view(check, zone) for check in found],
        "next_offset": offset + limit if len(found) == limit else None,
    })  # fmt: skip


@routes.get("/spot-checks/report")
async def report(request: web.Request) -> web.Response:
    zone, query = _zone(request), request.query
    since, until = query.get("from") or None, query.get("to") or None
    found = await request.app[SPOT_CHECKS].report(
        principal_of(request),
        None if since is None else parse_local_time("from", since, zone),
        None if until is None else parse_local_time("to", until, zone),
    )
    return web.json_response(report_view(found, zone))


@routes.get("/spot-checks/{spot_check_id}")
async def get_check(request: web.Request) -> web.Response:
    check_id = _number(request.match_info["spot_check_id"], "spot check")
    check = await request.app[SPOT_CHECKS].get(principal_of(request), check_id)
    return web.json_response(check_view(check, _zone(request)))


@routes.get("/spot-checks/{spot_check_id}/verify")
async def verify(request: web.Request) -> web.Response:
    check_id = _number(request.match_info["spot_check_id"], "spot check")
    verification = await request.app[SPOT_CHECKS].verify(principal_of(request), check_id)
    return web.json_response(verification_view(check_id, verification))


def _result(body: dict[str, object]) -> ResultDraft:
    try:
        state = ItemState(str(body.get("state")))
    except ValueError:
        state = ItemState.PENDING
    if state is ItemState.PENDING:
        raise InvalidInput("state: expected recorded or unplayable")
    mode_text = body.get("mode")
    try:
        mode = None if mode_text is None else ViewMode(str(mode_text))
    except ValueError:
        raise InvalidInput("mode: expected live or playback") from None
    area_text = body.get("key_area")
    try:
        area = None if area_text in (None, "") else KeyArea(str(area_text))
    except ValueError:
        raise InvalidInput(
            f"key_area: expected one of {', '.join(a.value for a in KeyArea)}"
        ) from None
    answers = body.get("answers")
    if state is ItemState.RECORDED and not isinstance(answers, dict):
        raise InvalidInput('answers: expected {"<point id>": {"answer": "compliant"|...}}')
    return ResultDraft(
        state=state, mode=mode, key_area=area,
        answers=answers if isinstance(answers, dict) else None,
        remark=read_remark(body.get("remark")),
    )  # fmt: skip


@routes.post("/spot-checks/{spot_check_id}/items/{position}/result")
async def record_result(request: web.Request) -> web.Response:
    check_id = _number(request.match_info["spot_check_id"], "spot check")
    position = _number(request.match_info["position"], "position")
    body = await json_object(
        request, '{"state": "recorded"|"unplayable", "mode"?, "key_area"?, "answers"?, "remark"?}'
    )
    draft = _result(body)
    _note(request, spot_check=check_id, position=position, state=draft.state.value)
    item = await request.app[SPOT_CHECKS].record(principal_of(request), check_id, position, draft)
    _note(
        request, channel=item.channel_id, farm=item.farm_name[:64],
        outcome=None if item.outcome is None else item.outcome.value,
    )  # fmt: skip
    return web.json_response(item_view(item, _zone(request)))
