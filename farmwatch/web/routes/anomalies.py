"""Anomalies over HTTP (regulation art. 20–21; issue 11 item 3).

`POST /api/channels/{channel_id}/anomalies {"description", "mode": "live"|"playback",
"time"?, "category"?}`: "report anomaly" from a camera's live or playback view (201; its
evidence clip is taken in the background). `GET /api/anomalies?state=&farm=&limit=&offset=`
(overdue rectifications first, then newest); `GET /api/anomalies/events?since_id=&wait=`
(administrators: the console's long poll). `GET /api/anomalies/{id}` (with evidence,
history, follow-ups); `POST …/rectification {"order", "deadline"}`; `POST …/state {"state",
"remark", "case_number"?}`; `GET|POST …/evidence` (`{"clip_id"}` or `{"start", "end"}`);
`GET …/evidence/{clip_id}/verify`, `GET …/evidence/{clip_id}/file`; `POST …/follow-ups
{"monitoring_record_id"}`. Times are ISO local times of the platform's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from farmwatch.platform.access import Farm
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.recordings.records import EvidenceClip
from farmwatch.platform.supervision.anomalies.records import Anomaly, ViewMode
from farmwatch.platform.supervision.anomalies.service import AnomalyDetail
from farmwatch.platform.supervision.anomalies.states import AnomalyState, is_overdue
from farmwatch.web.authorization import ACCESS_NOTE, note_recorded, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ANOMALIES
from farmwatch.web.routes.devices import int_param
from farmwatch.web.routes.records import local_text, parse_local_time

__all__ = ["anomaly_view", "routes"]

routes = web.RouteTableDef()

MAX_PAGE = 500
DEFAULT_WAIT = 25
_STATES = ", ".join(state.value for state in AnomalyState)


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else local_text(moment.astimezone(zone))


def anomaly_view(
    anomaly: Anomaly, farm: Farm | None, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    rectification = None
    if anomaly.order is not None:
        rectification = {
            "order": anomaly.order, "deadline": _local(anomaly.deadline, zone),
            "ordered_by": anomaly.ordered_by, "ordered_at": _local(anomaly.ordered_at, zone),
        }  # fmt: skip
    return {
        "id": anomaly.id, "farm_id": anomaly.farm_id,
        "farm": None if farm is None else farm.name,
        "filing_number": None if farm is None else farm.filing_number,
        "channel_id": anomaly.channel_id, "reporter": anomaly.reporter,
        "reported_at": _local(anomaly.reported_at, zone), "time": _local(anomaly.seen_at, zone),
        "mode": anomaly.mode.value, "category": anomaly.category,
        "description": anomaly.description, "state": anomaly.state.value,
        "state_label": anomaly.state.zh, "evidence_state": anomaly.evidence_state.value,
        "evidence_error": anomaly.evidence_error, "rectification": rectification,
        "overdue": is_overdue(anomaly.state, anomaly.deadline, now),
        "case_number": anomaly.case_number, "closed_at": _local(anomaly.closed_at, zone),
        "updated_at": _local(anomaly.updated_at, zone),
    }  # fmt: skip


def _clip_view(
    anomaly_id: int, clip_id: str, clip: EvidenceClip | None, zone: ZoneInfo
) -> dict[str, Any]:
    base = f"/api/anomalies/{anomaly_id}/evidence/{clip_id}"
    if clip is None:
        return {"id": clip_id, "state": "missing", "sha256": None, "file": None,
                "verify": None, "start": None, "end": None, "source": None,
                "bytes": None, "error": "the clip is not in the evidence store"}  # fmt: skip
    ready = clip.path is not None
    return {
        "id": clip.id, "channel_id": clip.channel_id, "start": _local(clip.start_at, zone),
        "end": _local(clip.end_at, zone), "source": clip.source, "state": clip.state.value,
        "sha256": clip.sha256, "bytes": clip.bytes, "error": clip.error,
        "name": clip.path.rsplit("/", 1)[-1] if clip.path else None,
        "file": f"{base}/file" if ready else None, "verify": f"{base}/verify" if ready else None,
    }  # fmt: skip


def _detail_view(detail: AnomalyDetail, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    anomaly = detail.anomaly
    return {
        **anomaly_view(anomaly, detail.farm, zone, now),
        "evidence": [_clip_view(anomaly.id, link.clip_id, clip, zone)
                     for link, clip in detail.evidence],
        "history": [
            {"at": _local(h.at, zone), "by": h.by,
             "from": None if h.from_state is None else h.from_state.value,
             "to": h.to_state.value, "remark": h.remark}
            for h in detail.history
        ],
        "follow_ups": [
            {"monitoring_record_id": f.monitoring_record_id, "linked_at": _local(f.linked_at, zone),
             "linked_by": f.linked_by}
            for f in detail.follow_ups
        ],
    }  # fmt: skip


def _anomaly_id(request: web.Request) -> int:
    text = request.match_info["anomaly_id"]
    # The middleware has found the anomaly by this ID already: it is a number.
    identifier = int(text)
    request[ACCESS_NOTE].object_id = str(identifier)
    return identifier


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected a text")
    return value


async def _views(request: web.Request, found: list[Anomaly]) -> list[dict[str, Any]]:
    service = request.app[ANOMALIES]
    now = datetime.now(UTC)
    farms = {farm_id: await service.farm(farm_id) for farm_id in {a.farm_id for a in found}}
    return [anomaly_view(a, farms[a.farm_id], service.zone, now) for a in found]


@routes.post("/channels/{channel_id}/anomalies")
async def report_anomaly(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    body = await json_object(
        request, '{"description", "mode": "live"|"playback", "time"?, "category"?}'
    )
    try:
        mode = ViewMode(str(body.get("mode", "live")))
    except ValueError:
        raise InvalidInput("mode: expected live or playback") from None
    seen_text = _text(body, "time", required=False)
    seen_at = None if seen_text is None else parse_local_time("time", seen_text, service.zone)
    anomaly = await service.report(
        principal_of(request), request.match_info["channel_id"],
        description=_text(body, "description") or "", mode=mode, seen_at=seen_at,
        category=_text(body, "category", required=False),
    )  # fmt: skip
    request[ACCESS_NOTE].object_id = str(anomaly.id)
    request[ACCESS_NOTE].detail["farm"] = anomaly.farm_id
    note_recorded(request, *service.evidence_range(anomaly))
    farm = await service.farm(anomaly.farm_id)
    return web.json_response(
        anomaly_view(anomaly, farm, service.zone, datetime.now(UTC)), status=201
    )


@routes.get("/anomalies")
async def list_anomalies(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    state_text = request.query.get("state", "")
    try:
        state = AnomalyState(state_text) if state_text else None
    except ValueError:
        raise InvalidInput(f"state: expected one of {_STATES}, got {state_text[:30]!r}") from None
    farm = request.query.get("farm") or None
    farm_id = None if farm is None else int_param(request, "farm", 0, 2**53)
    limit = max(int_param(request, "limit", 100, MAX_PAGE), 1)
    offset = int_param(request, "offset", 0, 2**31)
    found = await service.find(principal_of(request), state=state, farm_id=farm_id,
                               limit=limit, offset=offset)  # fmt: skip
    return web.json_response(
        {
            "anomalies": await _views(request, found),
            "next_offset": offset + limit if len(found) == limit else None,
        }
    )


@routes.get("/anomalies/events")
async def anomaly_events(request: web.Request) -> web.Response:
    since = request.query.get("since_id")
    since_id = None if since is None else int_param(request, "since_id", 0, 2**53)
    wait = int_param(request, "wait", DEFAULT_WAIT, 30)
    found, next_id = await request.app[ANOMALIES].events(
        principal_of(request), since_id, wait=wait, limit=MAX_PAGE
    )
    return web.json_response({"anomalies": await _views(request, found), "next_id": next_id})


@routes.get("/anomalies/{anomaly_id}")
async def get_anomaly(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    detail = await service.detail(_anomaly_id(request))
    return web.json_response(_detail_view(detail, service.zone, datetime.now(UTC)))


async def _answer(request: web.Request, anomaly_id: int) -> web.Response:
    service = request.app[ANOMALIES]
    detail = await service.detail(anomaly_id)
    request[ACCESS_NOTE].detail["channel"] = detail.anomaly.channel_id
    request[ACCESS_NOTE].detail["state"] = detail.anomaly.state.value
    return web.json_response(_detail_view(detail, service.zone, datetime.now(UTC)))


@routes.post("/anomalies/{anomaly_id}/rectification")
async def order_rectification(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    anomaly_id = _anomaly_id(request)
    body = await json_object(request, '{"order", "deadline"}')
    deadline_text = _text(body, "deadline") or ""
    deadline = parse_local_time("deadline", deadline_text, service.zone)
    await service.order_rectification(principal_of(request), anomaly_id,
                                      _text(body, "order") or "", deadline)  # fmt: skip
    return await _answer(request, anomaly_id)


@routes.post("/anomalies/{anomaly_id}/state")
async def change_state(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    anomaly_id = _anomaly_id(request)
    body = await json_object(request, '{"state", "remark", "case_number"?}')
    state_text = _text(body, "state") or ""
    try:
        state = AnomalyState(state_text)
    except ValueError:
        raise InvalidInput(f"state: expected one of {_STATES}, got {state_text[:30]!r}") from None
    await service.change_state(
        principal_of(request), anomaly_id, state, _text(body, "remark", required=False) or "",
        _text(body, "case_number", required=False),
    )  # fmt: skip
    return await _answer(request, anomaly_id)


@routes.get("/anomalies/{anomaly_id}/evidence")
async def list_evidence(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    anomaly_id = _anomaly_id(request)
    detail = await service.detail(anomaly_id)
    return web.json_response({
        "evidence_state": detail.anomaly.evidence_state.value,
        "evidence_error": detail.anomaly.evidence_error,
        "evidence": [_clip_view(anomaly_id, link.clip_id, clip, service.zone)
                     for link, clip in detail.evidence],
    })  # fmt: skip


@routes.post("/anomalies/{anomaly_id}/evidence")
async def attach_evidence(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    anomaly_id = _anomaly_id(request)
    body = await json_object(request, '{"clip_id"} or {"start", "end"}')
    principal = principal_of(request)
    if "clip_id" in body:
        clip = await service.attach_clip(principal, anomaly_id, _text(body, "clip_id") or "")
    else:
        start = parse_local_time("start", _text(body, "start") or "", service.zone)
        end = parse_local_time("end", _text(body, "end") or "", service.zone)
        clip = await service.cut_clip(principal, anomaly_id, start, end)
        note_recorded(request, start, end)
    request[ACCESS_NOTE].detail["clip"] = clip.id
    return web.json_response(_clip_view(anomaly_id, clip.id, clip, service.zone), status=201)


@routes.get("/anomalies/{anomaly_id}/evidence/{clip_id}/verify")
async def verify_evidence(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    result = await service.verify(_anomaly_id(request), request.match_info["clip_id"])
    return web.json_response({
        "id": result.clip_id, "valid": result.is_valid, "sha256": result.recorded_sha256,
        "computed_sha256": result.computed_sha256, "detail": result.detail,
    })  # fmt: skip


@routes.get("/anomalies/{anomaly_id}/evidence/{clip_id}/file")
async def evidence_file(request: web.Request) -> web.FileResponse:
    service = request.app[ANOMALIES]
    clip_id = request.match_info["clip_id"]
    path = await service.clip_file(_anomaly_id(request), clip_id)
    request[ACCESS_NOTE].detail["clip"] = clip_id
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4", "Content-Disposition": f'attachment; filename="{path.name}"',
    })  # fmt: skip


@routes.post("/anomalies/{anomaly_id}/follow-ups")
async def link_follow_up(request: web.Request) -> web.Response:
    service = request.app[ANOMALIES]
    anomaly_id = _anomaly_id(request)
    body = await json_object(request, '{"monitoring_record_id"}')
    record_id = body.get("monitoring_record_id")
    if not isinstance(record_id, int) or isinstance(record_id, bool) or not 0 < record_id < 2**63:
        raise InvalidInput("monitoring_record_id: expected a positive integer")
    follow_ups = await service.link_follow_up(principal_of(request), anomaly_id, record_id)
    return web.json_response({"follow_ups": [
        {"monitoring_record_id": f.monitoring_record_id,
         "linked_at": _local(f.linked_at, service.zone), "linked_by": f.linked_by}
        for f in follow_ups
    ]}, status=201)  # fmt: skip
