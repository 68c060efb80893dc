"""Alarms over HTTP (gb28181.md §4.10; issue 12 item 3).

`GET /api/alarms?device=&channel=&since=&state=new|acknowledged|reset&limit=&offset=`:
the alarms the caller may see, newest first (`since` an ISO time, read in `[registrar]
timezone` without an offset). `GET /api/alarms/events?since_id=&wait=`: the console's
notification feed, a long poll: the alarms stored after `since_id` (oldest first), waiting
up to `wait` seconds (at most 30, default 25) for one when there is none; the answer's
`next_id` is the `since_id` of the next poll (without `since_id`, the feed starts now).
`POST /api/alarms/{id}/ack {"note"?}`: acknowledged by the caller (who, when, the note).
`POST /api/alarms/{id}/reset`: AlarmCmd ResetAlarm sent to the device, its answer recorded
(a device's ERROR is a 502, and the alarm keeps its state).
Each alarm shows `clip_id` and `clip_state` (pending, ready, failed): the evidence clip cut
around it when `[supervision] alarm_evidence` is on (pending, with no `clip_id` yet, while the
"after" part is being recorded), else null; `GET
/api/alarms/{id}/clip/verify` hashes its file again, `GET /api/alarms/{id}/clip/file` is the
file (404 without a clip, 409 while it is pending or when it failed).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput, NotFound
from farmwatch.platform.services.alarm_service import AlarmFilter, AlarmState, StoredAlarm
from farmwatch.web.authorization import ACCESS_NOTE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ALARMS, CLIP_SERVICE
from farmwatch.web.routes.devices import int_param
from farmwatch.web.routes.records import parse_local_time

__all__ = ["alarm_view", "routes"]

routes = web.RouteTableDef()

MAX_PAGE = 500
MAX_NOTE = 1024
DEFAULT_WAIT = 25


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def alarm_view(alarm: StoredAlarm) -> dict[str, Any]:
    position = None
    if alarm.longitude is not None and alarm.latitude is not None:
        position = {"longitude": alarm.longitude, "latitude": alarm.latitude}
    return {
        "id": alarm.id,
        "device_id": alarm.device_id,
        "channel_id": alarm.source_id,
        "sn": alarm.sn,
        "priority": alarm.priority,
        "method": alarm.method,
        "type": alarm.alarm_type,
        "time": _time(alarm.alarm_time),
        "position": position,
        "description": alarm.description,
        "received_at": _time(alarm.received_at),
        "state": alarm.state.value,
        "acknowledged": None if alarm.acknowledged_at is None else {
            "by": alarm.acknowledged_by, "at": _time(alarm.acknowledged_at), "note": alarm.note,
        },
        "reset": None if alarm.reset_by is None else {
            "by": alarm.reset_by, "at": _time(alarm.reset_at), "result": alarm.reset_result,
        },
        "clip_id": alarm.clip_id,
        "clip_state": alarm.clip_state,
    }  # fmt: skip


def _alarm_id(request: web.Request) -> int:
    text = request.match_info["alarm_id"]
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise InvalidInput(f"alarm: expected a number, got {text[:20]!r}")
    return int(text)


def _id_param(request: web.Request, name: str) -> str | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    if not (len(text) == 20 and text.isascii() and text.isdigit()):
        raise InvalidInput(f"{name}: expected a 20-digit ID, got {text[:24]!r}")
    return text


def _state_param(request: web.Request) -> AlarmState | None:
    text = request.query.get("state")
    if text is None or text == "":
        return None
    try:
        return AlarmState(text)
    except ValueError:
        raise InvalidInput(
            f"state: expected new, acknowledged or reset, got {text[:20]!r}"
        ) from None


@routes.get("/alarms")
async def list_alarms(request: web.Request) -> web.Response:
    service = request.app[ALARMS]
    since_text = request.query.get("since")
    wanted = AlarmFilter(
        device_id=_id_param(request, "device"),
        source_id=_id_param(request, "channel"),
        since=None if not since_text else parse_local_time("since", since_text, service.zone),
        state=_state_param(request),
    )
    limit = max(int_param(request, "limit", 100, MAX_PAGE), 1)
    offset = int_param(request, "offset", 0, 2**31)
    found = await service.find(principal_of(request), wanted, limit=limit, offset=offset)
    return web.json_response(
        {
            "alarms": [alarm_view(alarm) for alarm in found],
            "next_offset": offset + limit if len(found) == limit else None,
        }
    )


@routes.get("/alarms/events")
async def alarm_events(request: web.Request) -> web.Response:
    since = request.query.get("since_id")
    since_id = None if since is None else int_param(request, "since_id", 0, 2**53)
    wait = int_param(request, "wait", DEFAULT_WAIT, 30)
    found, next_id = await request.app[ALARMS].events(
        principal_of(request), since_id, wait=wait, limit=MAX_PAGE
    )
    return web.json_response({"alarms": [alarm_view(a) for a in found], "next_id": next_id})


@routes.post("/alarms/{alarm_id}/ack")
async def acknowledge_alarm(request: web.Request) -> web.Response:
    alarm_id = _alarm_id(request)
    request[ACCESS_NOTE].object_id = str(alarm_id)
    note: Any = None
    if request.can_read_body:
        body = await json_object(request, '{"note"?: text}')
        note = body.get("note")
        if set(body) - {"note"}:
            raise InvalidInput("expected only a note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidInput(f"note: expected a text of at most {MAX_NOTE} characters")
    stored = await request.app[ALARMS].acknowledge(principal_of(request), alarm_id, note)
    request[ACCESS_NOTE].detail["channel"] = stored.source_id
    return web.json_response(alarm_view(stored))


@routes.post("/alarms/{alarm_id}/reset")
async def reset_alarm(request: web.Request) -> web.Response:
    alarm_id = _alarm_id(request)
    request[ACCESS_NOTE].object_id = str(alarm_id)
    stored, result = await request.app[ALARMS].reset(principal_of(request), alarm_id)
    request[ACCESS_NOTE].detail["channel"] = stored.source_id
    return web.json_response({**alarm_view(stored), "result": result.result})


async def _clip_id(request: web.Request) -> str:
    """The clip of an alarm the caller sees (the service checks that)."""
    alarm_id = _alarm_id(request)
    alarm = await request.app[ALARMS].get(principal_of(request), alarm_id)
    if alarm.clip_id is None:
        raise NotFound(f"alarm {alarm_id} has no evidence clip")
    return alarm.clip_id


@routes.get("/alarms/{alarm_id}/clip/verify")
async def verify_alarm_clip(request: web.Request) -> web.Response:
    result = await request.app[CLIP_SERVICE].verify(await _clip_id(request))
    return web.json_response({
        "id": result.clip_id, "valid": result.is_valid, "sha256": result.recorded_sha256,
        "computed_sha256": result.computed_sha256, "detail": result.detail,
    })  # fmt: skip


@routes.get("/alarms/{alarm_id}/clip/file")
async def alarm_clip_file(request: web.Request) -> web.FileResponse:
    request[ACCESS_NOTE].object_id = request.match_info["alarm_id"][:20]
    clip_id = await _clip_id(request)
    path = await request.app[CLIP_SERVICE].file(clip_id)
    request[ACCESS_NOTE].detail["clip"] = clip_id
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4", "Content-Disposition": f'attachment; filename="{path.name}"',
    })  # fmt: skip
