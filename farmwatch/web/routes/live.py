"""Live view over HTTP: sessions, WebRTC signalling, fMP4, HLS and snapshots."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.live_service import LiveLinks
from farmwatch.web.authorization import note_opened
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import LIVE_SERVICE
from farmwatch.web.outputs import fmp4_response, hls_response, read_webrtc_offer

routes = web.RouteTableDef()


def _links_view(links: LiveLinks) -> dict[str, Any]:
    base = f"/api/live/{links.session_id}"
    return {
        "session": links.session_id,
        "channel_id": links.channel_id,
        "device_id": links.device_id,
        "codec": links.codec,
        "width": links.width,
        "height": links.height,
        "stream": links.stream,
        "stream_answered": links.stream_answered,
        "webrtc": f"{base}/webrtc",
        "fmp4": f"{base}/stream.mp4",
        "hls": f"{base}/hls/index.m3u8",
        "snapshot": f"/api/channels/{links.channel_id}/snapshot.jpg",
    }


_STREAM_NAMES = {"main": 0, "sub": 1}


async def _stream_asked(request: web.Request) -> int:
    """`{"stream": "main" | "sub" | N}` (no body, or no field: main); `InvalidInput` else."""
    if not request.body_exists:
        return 0
    body = await json_object(request, '{"stream": "main" | "sub" | 0-9}')
    stream = body.get("stream", "main")
    if isinstance(stream, str) and stream.strip().lower() in _STREAM_NAMES:
        return _STREAM_NAMES[stream.strip().lower()]
    if isinstance(stream, int) and not isinstance(stream, bool) and 0 <= stream <= 9:
        return stream
    raise InvalidInput(f'stream: expected "main", "sub" or 0-9, got {stream!r}')


@routes.post("/channels/{channel_id}/live")
async def open_live(request: web.Request) -> web.Response:
    stream = await _stream_asked(request)
    links = await request.app[LIVE_SERVICE].open_session(request.match_info["channel_id"], stream)
    note_opened(request, links.session_id)  # its URLs are the caller's login's alone
    return web.json_response(_links_view(links), status=201)


@routes.delete("/live/{session}")
async def close_live(request: web.Request) -> web.Response:
    await request.app[LIVE_SERVICE].close_session(request.match_info["session"])
    return web.Response(status=204)


@routes.post("/live/{session}/webrtc")
async def webrtc_offer(request: web.Request) -> web.Response:
    offer, offer_type = await read_webrtc_offer(request)
    sdp, answer_type = await request.app[LIVE_SERVICE].webrtc_answer(
        request.match_info["session"], offer, offer_type
    )
    return web.json_response({"sdp": sdp, "type": answer_type})


@routes.get("/live/{session}/stream.mp4")
async def fmp4_stream(request: web.Request) -> web.StreamResponse:
    return await fmp4_response(
        request, request.app[LIVE_SERVICE].fmp4(request.match_info["session"])
    )


@routes.get("/live/{session}/hls/{name}")
async def hls(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    found = await request.app[LIVE_SERVICE].hls_resource(request.match_info["session"], name)
    return hls_response(found, name)


@routes.get("/channels/{channel_id}/snapshot.jpg")
async def snapshot(request: web.Request) -> web.Response:
    jpeg = await request.app[LIVE_SERVICE].snapshot(request.match_info["channel_id"])
    return web.Response(body=jpeg, content_type="image/jpeg")
