"""HTTP forms of a session's outputs, shared by live and playback routes: the WebRTC offer
body, the fMP4 byte stream and HLS resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

from aiohttp import web

from farmwatch.platform.errors import InvalidInput, NotFound, StreamFailed
from farmwatch.web.bodies import json_object

log = logging.getLogger(__name__)

MAX_OFFER = 64 * 1024


async def read_webrtc_offer(request: web.Request) -> tuple[str, str]:
    """The `{sdp, type}` body of a WebRTC offer: (sdp, "offer")."""
    body = await json_object(request, "{sdp, type}")
    if not isinstance(body.get("sdp"), str):
        raise InvalidInput("expected a JSON body {sdp, type}")
    offer_type = body.get("type", "offer")
    if offer_type != "offer":
        raise InvalidInput(f"type: expected offer, got {offer_type!r}")
    if len(body["sdp"]) > MAX_OFFER:
        raise InvalidInput("sdp: too large")
    return body["sdp"], offer_type


async def fmp4_response(
    request: web.Request, chunks: AsyncGenerator[bytes, None]
) -> web.StreamResponse:
    """Stream `chunks` as video/mp4 until the stream or the viewer ends."""
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


def hls_response(found: tuple[bytes, str] | None, name: str) -> web.Response:
    if found is None:
        raise NotFound(f"no HLS resource {name}")
    data, content_type = found
    return web.Response(body=data, content_type=content_type, headers={"Cache-Control": "no-store"})
