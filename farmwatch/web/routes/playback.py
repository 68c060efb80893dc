"""Playback of recordings over HTTP: sessions, control, status and their outputs.

`POST /api/channels/{id}/playback {"start", "end", "source"?, "transport"?}` answers like
live (`session`, WebRTC, fMP4, HLS links) plus the recorded range; `POST
/api/playback/{session}/control {"action": "pause"|"resume"|"seek"|"speed", "position"?,
"scale"?}` (`position`: an ISO local time, or seconds from the start); `GET
/api/playback/{session}` the state, scale and position; `DELETE` ends it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.recordings.playback_service import (
    PlaybackAction,
    PlaybackLinks,
    PlaybackStatus,
)
from farmwatch.platform.recordings.record_spans import RecordSource
from farmwatch.web.authorization import note_opened
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import PLAYBACK_SERVICE
from farmwatch.web.outputs import fmp4_response, hls_response, read_webrtc_offer
from farmwatch.web.routes.records import local_text, parse_local_time

routes = web.RouteTableDef()
MAX_SEEK_SECONDS = 366 * 86_400
"""A seek is relative to the playback's start: beyond a year it is no playback's."""


def _links_view(links: PlaybackLinks) -> dict[str, Any]:
    base = f"/api/playback/{links.session_id}"
    return {
        "session": links.session_id,
        "channel_id": links.channel_id,
        "device_id": links.device_id,
        "source": links.source.value,
        "start": local_text(links.start),
        "end": local_text(links.end),
        "recorded_start": local_text(links.start),
        "codec": links.info.codec,
        "width": links.info.width,
        "height": links.info.height,
        "webrtc": f"{base}/webrtc",
        "fmp4": f"{base}/stream.mp4",
        "hls": f"{base}/hls/index.m3u8",
        "control": f"{base}/control",
        "status": base,
    }


def _status_view(status: PlaybackStatus) -> dict[str, Any]:
    return {
        "session": status.session_id,
        "channel_id": status.channel_id,
        "device_id": status.device_id,
        "state": status.state.value,
        "scale": status.scale,
        "start": local_text(status.start),
        "end": local_text(status.end),
        "position": local_text(status.position),
        "position_seconds": round((status.position - status.start).total_seconds(), 3),
        "source": status.source.value,
        "call_id": status.call_id,
        "end_reason": status.end_reason,
        "seek_by_reinvite": status.seek_by_reinvite,
    }


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected an ISO local time such as 2024-01-01T08:00:00")
    return value


@routes.post("/channels/{channel_id}/playback")
async def open_playback(request: web.Request) -> web.Response:
    service = request.app[PLAYBACK_SERVICE]
    body = await json_object(request, '{"start", "end", "source"?, "transport"?}')
    start = parse_local_time("start", _text(body, "start"), service.zone)
    end = parse_local_time("end", _text(body, "end"), service.zone)
    try:
        source = RecordSource(str(body.get("source", "device")))
    except ValueError:
        raise InvalidInput("source: expected device or platform") from None
    transport = body.get("transport")
    if transport is not None and not isinstance(transport, str):
        raise InvalidInput("transport: expected udp, tcp-passive or tcp-active")
    links = await service.open(
        request.match_info["channel_id"], start, end, source=source, transport=transport
    )
    note_opened(request, links.session_id, (start, end))
    return web.json_response(_links_view(links), status=201)


@routes.get("/playback/{session}")
async def playback_status(request: web.Request) -> web.Response:
    status = await request.app[PLAYBACK_SERVICE].refresh(request.match_info["session"])
    return web.json_response(_status_view(status))


@routes.delete("/playback/{session}")
async def close_playback(request: web.Request) -> web.Response:
    await request.app[PLAYBACK_SERVICE].stop(request.match_info["session"])
    return web.Response(status=204)


@routes.post("/playback/{session}/control")
async def control_playback(request: web.Request) -> web.Response:
    service = request.app[PLAYBACK_SERVICE]
    session_id = request.match_info["session"]
    body = await json_object(request, '{"action", "position"?, "scale"?}')
    try:
        action = PlaybackAction(str(body.get("action")))
    except ValueError:
        raise InvalidInput(
            f"action: expected pause, resume, seek or speed, got {str(body.get('action'))[:20]!r}"
        ) from None
    position = None
    if action is PlaybackAction.SEEK:
        raw = body.get("position")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            if not 0 <= raw <= MAX_SEEK_SECONDS:  # also refuses NaN
                raise InvalidInput(
                    f"position: expected 0 to {MAX_SEEK_SECONDS} seconds from the start, got {raw}"
                )
            position = service.status(session_id).start + timedelta(seconds=float(raw))
        elif isinstance(raw, str):
            position = parse_local_time("position", raw, service.zone)
        else:
            raise InvalidInput("position: expected an ISO local time or seconds from the start")
    scale = None
    if action is PlaybackAction.SPEED:
        raw = body.get("scale")
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            raise InvalidInput("scale: expected a number such as 0.5, 2 or 4")
        scale = float(raw)
    status = await service.control(session_id, action, position=position, scale=scale)
    return web.json_response(_status_view(status))


@routes.post("/playback/{session}/webrtc")
async def webrtc_offer(request: web.Request) -> web.Response:
    offer, offer_type = await read_webrtc_offer(request)
    sdp, answer_type = await request.app[PLAYBACK_SERVICE].webrtc_answer(
        request.match_info["session"], offer, offer_type
    )
    return web.json_response({"sdp": sdp, "type": answer_type})


@routes.get("/playback/{session}/stream.mp4")
async def fmp4_stream(request: web.Request) -> web.StreamResponse:
    chunks = request.app[PLAYBACK_SERVICE].fmp4(request.match_info["session"])
    return await fmp4_response(request, chunks)


@routes.get("/playback/{session}/hls/{name}")
async def hls(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    found = await request.app[PLAYBACK_SERVICE].hls_resource(request.match_info["session"], name)
    return hls_response(found, name)
