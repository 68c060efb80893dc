"""Live view over HTTP: sessions, WebRTC signalling, fMP4, HLS and snapshots."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput, NotFound, StreamFailed
from farmwatch.platform.services.live_service import LiveLinks
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import LIVE_SERVICE

log = logging.getLogger(__name__)

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
        "webrtc": f"{base}/webrtc",
        "fmp4": f"{base}/stream.mp4",
        "hls": f"{base}/hls/index.m3u8",
        "snapshot": f"/api/channels/{links.channel_id}/snapshot.jpg",
    }


@routes.post("/channels/{channel_id}/live")
async def open_live(request: web.Request) -> web.Response:
    links = await request.app[LIVE_SERVICE].open_session(request.match_info["channel_id"])
    return web.json_response(_links_view(links), status=201)


@routes.delete("/live/{session}")
async def close_live(request: web.Request) -> web.Response:
    await request.app[LIVE_SERVICE].close_session(request.match_info["session"])
    return web.Response(status=204)


@routes.post("/live/{session}/webrtc")
async def webrtc_offer(request: web.Request) -> web.Response:
    body = await json_object(request, "{sdp, type}")
    if not isinstance(body.get("sdp"), str):
        raise InvalidInput("expected a JSON body {sdp, type}")
    offer_type = body.get("type", "offer")
    if offer_type != "offer":
        raise InvalidInput(f"type: expected offer, got {offer_type!r}")
    if len(body["sdp"]) > 64 * 1024:
        raise InvalidInput("sdp: too large")
    sdp, answer_type = await request.app[LIVE_SERVICE].webrtc_answer(
        request.match_info["session"], body["sdp"], offer_type
    )
    return web.json_response({"sdp": sdp, "type": answer_type})


@routes.get("/live/{session}/stream.mp4")
async def fmp4_stream(request: web.Request) -> web.StreamResponse:
    chunks = request.app[LIVE_SERVICE].fmp4(request.match_info["session"])
    first = await anext(chunks, None)  # errors (unknown session) become JSON before streaming
    response = web.StreamResponse(
        headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    try:
        if first is not None:
            await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    except ConnectionResetError:
        pass  # the viewer went away; the sink closes with the generator
    except StreamFailed as error:
        # The stream ended under way (its media worker died): the body just ends; the
        # viewer's player reconnects and gets the stream started again.
        log.info("fMP4 of session %s ended: %s", request.match_info["session"], error)
    finally:
        await chunks.aclose()
    return response


@routes.get("/live/{session}/hls/{name}")
async def hls(request: web.Request) -> web.Response:
    found = await request.app[LIVE_SERVICE].hls_resource(
        request.match_info["session"], request.match_info["name"]
    )
    if found is None:
        raise NotFound(f"no HLS resource {request.match_info['name']}")
    data, content_type = found
    return web.Response(body=data, content_type=content_type, headers={"Cache-Control": "no-store"})


@routes.get("/channels/{channel_id}/snapshot.jpg")
async def snapshot(request: web.Request) -> web.Response:
    jpeg = await request.app[LIVE_SERVICE].snapshot(request.match_info["channel_id"])
    return web.Response(body=jpeg, content_type="image/jpeg")
