"""Downloads, evidence clips and record plans over HTTP.

`POST /api/channels/{id}/downloads {"start", "end", "speed"?, "source"?}` → a task;
`GET /api/downloads/{id}`, `GET /api/downloads/{id}/file`, `DELETE /api/downloads/{id}`.
`POST /api/channels/{id}/clips {"start", "end", "reason"}` → a clip; `GET /api/clips/{id}`,
`GET /api/clips/{id}/verify`, `GET /api/clips/{id}/file`. `GET|PUT
/api/channels/{id}/record-plan {"mode", "windows"?, "record_minutes"?}`. Times are ISO local
times of the platform's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.recordings.playback_service import media_transport_of
from farmwatch.platform.recordings.record_plans import plan_from_body, plan_view
from farmwatch.platform.recordings.record_spans import RecordSource
from farmwatch.platform.recordings.records import DownloadTask, EvidenceClip
from farmwatch.web.authorization import note_opened
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import CLIP_SERVICE, DOWNLOAD_SERVICE, PLATFORM_RECORDING
from farmwatch.web.routes.records import local_text, parse_local_time

routes = web.RouteTableDef()


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else local_text(moment.astimezone(zone))


def _mp4_attachment(path: Path) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "video/mp4",
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )


def _times(body: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, datetime]:
    values = []
    for name in ("start", "end"):
        text = body.get(name)
        if not isinstance(text, str):
            raise InvalidInput(f"{name}: expected an ISO local time such as 2024-01-01T08:00:00")
        values.append(parse_local_time(name, text, zone))
    return values[0], values[1]


def _download_view(task: DownloadTask, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": task.id,
        "channel_id": task.channel_id,
        "device_id": task.device_id,
        "source": task.source,
        "start": _local(task.start_at, zone),
        "end": _local(task.end_at, zone),
        "speed": task.speed,
        "state": task.state.value,
        "progress": round(task.progress, 4),
        "bytes": task.bytes,
        "error": task.error,
        "created_at": _local(task.created_at, zone),
        "finished_at": _local(task.finished_at, zone),
        "file": f"/api/downloads/{task.id}/file" if task.path else None,
        "name": task.path.rsplit("/", 1)[-1] if task.path else None,
    }


def _clip_view(clip: EvidenceClip, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": clip.id,
        "channel_id": clip.channel_id,
        "start": _local(clip.start_at, zone),
        "end": _local(clip.end_at, zone),
        "reason": clip.reason,
        "source": clip.source,
        "state": clip.state.value,
        "sha256": clip.sha256,
        "bytes": clip.bytes,
        "error": clip.error,
        "created_at": _local(clip.created_at, zone),
        "file": f"/api/clips/{clip.id}/file" if clip.path else None,
        "name": clip.path.rsplit("/", 1)[-1] if clip.path else None,
    }


@routes.post("/channels/{channel_id}/downloads")
async def create_download(request: web.Request) -> web.Response:
    service = request.app[DOWNLOAD_SERVICE]
    body = await json_object(request, '{"start", "end", "speed"?, "source"?, "transport"?}')
    start, end = _times(body, service.zone)
    speed = body.get("speed", 4)
    if not isinstance(speed, int) or isinstance(speed, bool):
        raise InvalidInput("speed: expected an integer such as 4")
    try:
        source = RecordSource(str(body.get("source", "device")))
    except ValueError:
        raise InvalidInput("source: expected device or platform") from None
    transport = body.get("transport")
    if transport is not None and not isinstance(transport, str):
        raise InvalidInput("transport: expected udp, tcp-passive or tcp-active")
    task = await service.create(
        request.match_info["channel_id"], start, end, speed=speed, source=source,
        transport=media_transport_of(transport) if transport is not None else None,
    )  # fmt: skip
    note_opened(request, task.id, (start, end))
    return web.json_response(_download_view(task, service.zone), status=201)


@routes.get("/downloads/{task_id}")
async def get_download(request: web.Request) -> web.Response:
    service = request.app[DOWNLOAD_SERVICE]
    task = await service.get(request.match_info["task_id"])
    return web.json_response(_download_view(task, service.zone))


@routes.delete("/downloads/{task_id}")
async def cancel_download(request: web.Request) -> web.Response:
    service = request.app[DOWNLOAD_SERVICE]
    task = await service.cancel(request.match_info["task_id"])
    return web.json_response(_download_view(task, service.zone))


@routes.get("/downloads/{task_id}/file")
async def download_file(request: web.Request) -> web.FileResponse:
    return _mp4_attachment(await request.app[DOWNLOAD_SERVICE].file(request.match_info["task_id"]))


@routes.post("/channels/{channel_id}/clips")
async def create_clip(request: web.Request) -> web.Response:
    service = request.app[CLIP_SERVICE]
    body = await json_object(request, '{"start", "end", "reason"}')
    start, end = _times(body, service.zone)
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise InvalidInput("reason: required")
    clip = await service.create(request.match_info["channel_id"], start, end, reason)
    note_opened(request, clip.id, (start, end))
    return web.json_response(_clip_view(clip, service.zone), status=201)


@routes.get("/clips/{clip_id}")
async def get_clip(request: web.Request) -> web.Response:
    service = request.app[CLIP_SERVICE]
    clip = await service.get(request.match_info["clip_id"])
    return web.json_response(_clip_view(clip, service.zone))


@routes.get("/clips/{clip_id}/verify")
async def verify_clip(request: web.Request) -> web.Response:
    result = await request.app[CLIP_SERVICE].verify(request.match_info["clip_id"])
    return web.json_response(
        {
            "id": result.clip_id,
            "valid": result.is_valid,
            "sha256": result.recorded_sha256,
            "computed_sha256": result.computed_sha256,
            "detail": result.detail,
        }
    )


@routes.get("/clips/{clip_id}/file")
async def clip_file(request: web.Request) -> web.FileResponse:
    return _mp4_attachment(await request.app[CLIP_SERVICE].file(request.match_info["clip_id"]))


@routes.get("/channels/{channel_id}/record-plan")
async def get_plan(request: web.Request) -> web.Response:
    service = request.app[PLATFORM_RECORDING]
    plan = await service.plan(request.match_info["channel_id"])
    return web.json_response(plan_view(plan, service.zone, datetime.now(UTC)))


@routes.put("/channels/{channel_id}/record-plan")
async def put_plan(request: web.Request) -> web.Response:
    service = request.app[PLATFORM_RECORDING]
    body = await json_object(request, '{"mode", "windows"?, "record_minutes"?}')
    now = datetime.now(UTC)
    plan = await service.set_plan(plan_from_body(request.match_info["channel_id"], body, now))
    return web.json_response(plan_view(plan, service.zone, now))
