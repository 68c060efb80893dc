"""Voice broadcast (喊话) over HTTP (gb28181.md §4.13; issue 12 item 5).

`POST /api/channels/{id}/broadcast` starts a broadcast to the camera (201 with the session;
504 when the device never INVITEs for the audio, 409 while another runs to the device);
with `{"mode": "talk"}` (and optionally `"transport"`) two-way talk (对讲) instead: the
platform's `s=Talk` INVITE, the camera's voice back over the same WebRTC connection, 501
naming mode "broadcast" when the camera does not take `s=Talk`;
`GET|DELETE /api/broadcast/{session}` read or end it; `POST /api/broadcast/{session}/webrtc`
brings the operator's microphone (an SDP offer with an audio track, answered);
`POST /api/broadcast/{session}/audio` sends sound once: an audio file as the body
(`Content-Type: audio/*` or `application/octet-stream`: WAV, MP3, anything FFmpeg reads, up
to `MAX_UPLOAD` bytes) or a JSON tone `{"frequency": Hz, "seconds": s}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.broadcast_service import BroadcastMode, BroadcastView
from farmwatch.web.authorization import ACCESS_NOTE, note_opened
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import BROADCASTS
from farmwatch.web.outputs import read_webrtc_offer

__all__ = ["routes"]

routes = web.RouteTableDef()

MAX_UPLOAD = 8 * 1024 * 1024
"""An uploaded sound file: about 8 minutes of MP3, or 4 of 16 kHz WAV."""
_FILE_TYPES = ("audio/", "application/octet-stream")


def _view(view: BroadcastView) -> dict[str, Any]:
    base = f"/api/broadcast/{view.session_id}"
    return {
        "session": view.session_id,
        "channel_id": view.channel_id,
        "device_id": view.device_id,
        "state": view.state.value,
        "format": view.audio_format,
        "transport": view.transport,
        "frames_sent": view.frames_sent,
        "seconds_sent": round(view.seconds_sent, 3),
        "microphone": view.microphone,
        "mode": view.mode.value,
        "frames_received": view.frames_received,
        "seconds_received": round(view.seconds_received, 3),
        "frames_played": view.frames_played,
        "webrtc": f"{base}/webrtc",
        "audio": f"{base}/audio",
    }


@routes.post("/channels/{channel_id}/broadcast")
async def start_broadcast(request: web.Request) -> web.Response:
    mode, transport = await _mode(request)
    request[ACCESS_NOTE].detail["mode"] = mode.value  # the audit row tells 喊话 from 对讲
    view = await request.app[BROADCASTS].start(request.match_info["channel_id"], mode, transport)
    note_opened(request, view.session_id)
    return web.json_response(_view(view), status=201)


@routes.get("/broadcast/{session}")
async def broadcast_state(request: web.Request) -> web.Response:
    return web.json_response(_view(request.app[BROADCASTS].view(request.match_info["session"])))


@routes.delete("/broadcast/{session}")
async def stop_broadcast(request: web.Request) -> web.Response:
    await request.app[BROADCASTS].stop(request.match_info["session"])
    return web.Response(status=204)


@routes.post("/broadcast/{session}/webrtc")
async def broadcast_webrtc(request: web.Request) -> web.Response:
    offer, offer_type = await read_webrtc_offer(request)
    sdp, answer_type = await request.app[BROADCASTS].webrtc_answer(
        request.match_info["session"], offer, offer_type
    )
    return web.json_response({"sdp": sdp, "type": answer_type})


@routes.post("/broadcast/{session}/audio")
async def broadcast_audio(request: web.Request) -> web.Response:
    service, session = request.app[BROADCASTS], request.match_info["session"]
    if request.content_type.startswith(_FILE_TYPES):
        seconds = await service.send_audio(session, await _upload(request))
    else:
        body = await json_object(request, '{"frequency": Hz, "seconds": s}')
        frequency = _number(body, "frequency", 50, 3900)
        duration = _number(body, "seconds", 0.02, 60)
        seconds = await service.send_tone(session, frequency, duration)
    view = service.view(session)
    return web.json_response({**_view(view), "queued_seconds": round(seconds, 3)}, status=202)


_MODE_SHAPE = '{"mode": "broadcast" | "talk", "transport": "udp" | "tcp-passive" | "tcp-active"}'


async def _mode(request: web.Request) -> tuple[BroadcastMode, str | None]:
    """The optional body: broadcast (the default) or talk, and talk's media transport."""
    if not request.body_exists:
        return BroadcastMode.BROADCAST, None
    body = await json_object(request, _MODE_SHAPE)
    try:
        mode = BroadcastMode(body.get("mode", BroadcastMode.BROADCAST.value))
    except ValueError:
        raise InvalidInput(f"expected a JSON body {_MODE_SHAPE}") from None
    transport = body.get("transport")
    if transport is not None and not isinstance(transport, str):
        raise InvalidInput(f"expected a JSON body {_MODE_SHAPE}")
    if transport is not None and mode is not BroadcastMode.TALK:
        raise InvalidInput('"transport" is for mode "talk" (a broadcast takes the device\'s)')
    return mode, transport


async def _upload(request: web.Request) -> bytes:
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > MAX_UPLOAD:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=len(data))
    if not data:
        raise InvalidInput("expected an audio file as the body")
    return bytes(data)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(f"{name}: expected a number {low:g}..{high:g}")
    return float(value)
