"""Pictures the camera takes itself and uploads ([2022] SnapShotConfig; issue 12 item 4).

`POST /api/channels/{id}/device-snapshots {"count": 1..10, "interval": 1..60}`: the camera
is asked for `count` pictures `interval` seconds apart, uploaded to a one-time URL;
202 `{"session_id", "channel_id", "device_id", "count", "interval", "expires_at"}` once the
device took the DeviceConfig. `GET /api/channels/{id}/device-snapshots?limit=`: the
pictures received, newest first. `GET /api/device-snapshots/{id}.jpg`: one of them, for
whoever may view its camera. `POST|PUT /api/device-snapshots/uploads/{token}`: where the
device uploads (no login: the token is the credential), one JPEG per request, the picture
as the body (`image/jpeg`) or as the one file of a `multipart/form-data` body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from farmwatch.platform.access import Verdict
from farmwatch.platform.errors import InvalidInput, PermissionDenied
from farmwatch.platform.services.device_snapshot_service import (
    MAX_IMAGE_BYTES,
    StoredDeviceSnapshot,
    UploadSession,
)
from farmwatch.web.authorization import ACCESS_NOTE, principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import ACCESS, DEVICE_SNAPSHOTS
from farmwatch.web.middlewares import json_error
from farmwatch.web.routes.devices import int_param

__all__ = ["routes", "snapshot_view"]

routes = web.RouteTableDef()

MAX_PAGE = 500
_SHAPE = '{"count": 1..10, "interval": seconds 1..60}'


def snapshot_view(snapshot: StoredDeviceSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "channel_id": snapshot.channel_id,
        "device_id": snapshot.device_id,
        "session_id": snapshot.session_id,
        "time": snapshot.received_at.isoformat(),
        "size": snapshot.size,
        "sha256": snapshot.sha256,
        "url": f"/api/device-snapshots/{snapshot.id}.jpg",
    }


def _session_view(session: UploadSession) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "channel_id": session.channel_id,
        "device_id": session.device_id,
        "count": session.count,
        "interval": session.interval,
        "expires_at": session.expires_at.isoformat(),
    }


@routes.post("/channels/{channel_id}/device-snapshots")
async def request_snapshots(request: web.Request) -> web.Response:
    body = await json_object(request, _SHAPE)
    unknown = sorted(set(body) - {"count", "interval"})
    if unknown:
        raise InvalidInput(f"{unknown[0][:40]}: not a field of {_SHAPE}")
    session = await request.app[DEVICE_SNAPSHOTS].request(
        request.match_info["channel_id"], body.get("count", 1), body.get("interval", 1)
    )
    request[ACCESS_NOTE].object_id = session.session_id
    return web.json_response(_session_view(session), status=202)


@routes.get("/channels/{channel_id}/device-snapshots")
async def list_snapshots(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", 100, MAX_PAGE)
    channel_id = request.match_info["channel_id"]
    found = await request.app[DEVICE_SNAPSHOTS].of_channel(channel_id, limit=limit)
    return web.json_response(
        {"channel_id": channel_id, "snapshots": [snapshot_view(s) for s in found]}
    )


@routes.get("/device-snapshots/{snapshot_id}.jpg")
async def picture(request: web.Request) -> web.StreamResponse:
    text = request.match_info["snapshot_id"]
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise InvalidInput(f"device snapshot: expected a number, got {text[:20]!r}")
    note = request[ACCESS_NOTE]
    note.object_id = text
    snapshot, path = await request.app[DEVICE_SNAPSHOTS].picture(int(text))
    note.detail["channel"] = snapshot.channel_id
    gate = request.app[ACCESS].gate
    if await gate.channel(principal_of(request), snapshot.channel_id) is Verdict.REFUSED:
        raise PermissionDenied(f"channel {snapshot.channel_id} is not within your reach")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg",
                                           "Cache-Control": "private, max-age=3600"})  # fmt: skip


async def _read_bounded(read: Callable[[int], Awaitable[bytes]], limit: int) -> bytes | None:
    """Everything `read` gives until it gives b"", or None once that passes `limit` bytes."""
    data = bytearray()
    while chunk := await read(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


@routes.post("/device-snapshots/uploads/{token}")
@routes.put("/device-snapshots/uploads/{token}")
async def upload(request: web.Request) -> web.Response:
    too_large = json_error(413, f"a picture is at most {MAX_IMAGE_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_IMAGE_BYTES + 4096:
        return too_large
    service = request.app[DEVICE_SNAPSHOTS]
    session = service.admit(request.match_info["token"])  # before the body is read
    if request.content_type.startswith("multipart/"):
        multipart = await request.multipart()
        part = await multipart.next()
        if not isinstance(part, BodyPartReader):
            raise InvalidInput("expected one JPEG file in the multipart body")
        data = await _read_bounded(part.read_chunk, MAX_IMAGE_BYTES)
    else:
        data = await _read_bounded(request.content.read, MAX_IMAGE_BYTES)
    if data is None:
        return too_large
    stored = await service.store(session, data)
    return web.json_response({"id": stored.id, "size": stored.size}, status=201)
