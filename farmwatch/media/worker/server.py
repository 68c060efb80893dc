"""A media worker process: one `LocalMediaNode` behind the control channel (`wire.py`).

`farmwatch media-worker` reads its `WorkerSpec` (JSON) on standard input, opens its node on
its share of the RTP ports, listens on its Unix socket, prints `ready` on standard output
and serves until standard input closes: the platform keeps that pipe open for the worker's
whole life, so a worker never outlives the platform that started it, whatever killed it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from farmwatch.child_process import stdin_closed
from farmwatch.gc_tuning import tune_garbage_collector
from farmwatch.media.errors import MediaError
from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.manager import MediaTransport
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.worker.wire import (
    download_to_json,
    error_body,
    progress_to_json,
    recording_spec_from_json,
    relay_spec_from_json,
    segment_to_json,
    stats_to_json,
)

if TYPE_CHECKING:
    from farmwatch.media.sinks.segment_recorder import RecordedSegment

__all__ = ["WorkerSpec", "run_worker"]

log = logging.getLogger(__name__)

STATS_INTERVAL = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What one worker is told at start (JSON on its standard input)."""

    name: str
    socket: str
    media: MediaSettings
    webrtc_addresses: tuple[str, ...] = ()
    log_level: str = "INFO"
    log_json: bool = False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        data = json.loads(text)
        return cls(
            name=str(data["name"]),
            socket=str(data["socket"]),
            media=MediaSettings(**data["media"]),
            webrtc_addresses=tuple(data.get("webrtc_addresses", ())),
            log_level=str(data.get("log_level", "INFO")),
            log_json=bool(data.get("log_json", False)),
        )


class _Events:
    """The listener of the node: its events go to every connected events socket."""

    def __init__(self) -> None:
        self.sockets: set[web.WebSocketResponse] = set()
        self._sending: set[asyncio.Task[None]] = set()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message)
        for socket in list(self.sockets):
            if not socket.closed:
                task = asyncio.get_running_loop().create_task(_send_quietly(socket, data))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def close(self) -> None:
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        self.send({"event": "stream_closed", "key": stream_key, "reason": reason.value})

    def keyframe_needed(self, stream_key: str) -> None:
        self.send({"event": "keyframe_needed", "key": stream_key})

    def output_closed(self, output_id: str) -> None:
        self.send({"event": "output_closed", "id": output_id})

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        self.send(
            {"event": "segment_closed", "key": stream_key, "segment": segment_to_json(segment)}
        )

    def relay_closed(self, relay_id: str, reason: str) -> None:
        self.send({"event": "relay_closed", "id": relay_id, "reason": reason})


async def _send_quietly(socket: web.WebSocketResponse, data: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await socket.send_str(data)


NODE = web.AppKey("node", LocalMediaNode)
EVENTS = web.AppKey("events", _Events)
routes = web.RouteTableDef()


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MediaError as error:
        status, body = error_body(error)
        return web.json_response(body, status=status)
    except (KeyError, TypeError, ValueError) as error:
        return web.json_response({"error": "BadRequest", "message": repr(error)}, status=400)


async def _json(request: web.Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


@routes.post("/streams/{key}")
async def open_stream(request: web.Request) -> web.Response:
    body = await _json(request)
    hosts = body.get("allowed_hosts")
    placement = await request.app[NODE].open_stream(
        request.match_info["key"],
        MediaTransport(body["transport"]),
        body.get("expected_ssrc"),
        None if hosts is None else [str(host) for host in hosts],
    )
    return web.json_response(dataclasses.asdict(placement))


@routes.post("/streams/{key}/ssrc")
async def expect_ssrc(request: web.Request) -> web.Response:
    body = await _json(request)
    await request.app[NODE].expect_ssrc(request.match_info["key"], int(body["ssrc"]))
    return web.json_response({})


@routes.post("/streams/{key}/sources")
async def allow_source(request: web.Request) -> web.Response:
    body = await _json(request)
    await request.app[NODE].allow_source(request.match_info["key"], str(body["host"]))
    return web.json_response({})


@routes.post("/streams/{key}/connect")
async def connect_active(request: web.Request) -> web.Response:
    body = await _json(request)
    node = request.app[NODE]
    await node.connect_active(request.match_info["key"], str(body["host"]), int(body["port"]))
    return web.json_response({})


@routes.post("/streams/{key}/listen")
async def listen_active(request: web.Request) -> web.Response:
    await request.app[NODE].listen_active(request.match_info["key"])
    return web.json_response({})


@routes.get("/streams/{key}/live")
async def wait_live(request: web.Request) -> web.Response:
    info = await request.app[NODE].wait_live(request.match_info["key"])
    return web.json_response(dataclasses.asdict(info))


@routes.delete("/streams/{key}")
async def close_stream(request: web.Request) -> web.Response:
    reason = CloseReason(request.query.get("reason", CloseReason.REQUESTED.value))
    await request.app[NODE].close_stream(request.match_info["key"], reason)
    return web.json_response({})


@routes.post("/streams/{key}/scale")
async def set_scale(request: web.Request) -> web.Response:
    body = await _json(request)
    await request.app[NODE].set_scale(request.match_info["key"], float(body["scale"]))
    return web.json_response({})


@routes.post("/streams/{key}/paused")
async def set_paused(request: web.Request) -> web.Response:
    body = await _json(request)
    paused = body["paused"]
    if not isinstance(paused, bool):
        raise TypeError(f"paused: expected a boolean, got {paused!r}")
    await request.app[NODE].set_paused(request.match_info["key"], paused)
    return web.json_response({})


@routes.get("/streams/{key}/progress")
async def stream_progress(request: web.Request) -> web.Response:
    progress = await request.app[NODE].stream_progress(request.match_info["key"])
    return web.json_response(progress_to_json(progress))


@routes.post("/streams/{key}/recorded")
async def open_recorded_stream(request: web.Request) -> web.Response:
    body = await _json(request)
    parts = [(str(path), str(start)) for path, start in body["parts"]]
    info = await request.app[NODE].open_recorded_stream(
        request.match_info["key"], parts, str(body["start"])
    )
    return web.json_response(dataclasses.asdict(info))


@routes.post("/streams/{key}/seek")
async def seek_recorded_stream(request: web.Request) -> web.Response:
    body = await _json(request)
    await request.app[NODE].seek_recorded_stream(request.match_info["key"], str(body["start"]))
    return web.json_response({})


@routes.post("/streams/{key}/recording")
async def start_recording(request: web.Request) -> web.Response:
    spec = recording_spec_from_json(await _json(request))
    await request.app[NODE].start_recording(request.match_info["key"], spec)
    return web.json_response({})


@routes.delete("/streams/{key}/recording")
async def stop_recording(request: web.Request) -> web.Response:
    await request.app[NODE].stop_recording(request.match_info["key"])
    return web.json_response({})


@routes.get("/recordings")
async def recording_keys(request: web.Request) -> web.Response:
    return web.json_response({"keys": sorted(await request.app[NODE].recording_keys())})


@routes.post("/streams/{key}/download")
async def start_download(request: web.Request) -> web.Response:
    body = await _json(request)
    await request.app[NODE].start_download(request.match_info["key"], str(body["path"]))
    return web.json_response({})


@routes.post("/streams/{key}/download/finish")
async def finish_download(request: web.Request) -> web.Response:
    result = await request.app[NODE].finish_download(request.match_info["key"])
    return web.json_response(download_to_json(result))


@routes.delete("/streams/{key}/download")
async def abort_download(request: web.Request) -> web.Response:
    await request.app[NODE].abort_download(request.match_info["key"])
    return web.json_response({})


@routes.post("/streams/{key}/webrtc/{output}")
async def webrtc(request: web.Request) -> web.Response:
    body = await _json(request)
    answer = await request.app[NODE].webrtc_answer(
        request.match_info["key"], request.match_info["output"], body["sdp"], body["type"]
    )
    return web.json_response(dataclasses.asdict(answer))


@routes.get("/streams/{key}/fmp4/{output}")
async def fmp4(request: web.Request) -> web.StreamResponse:
    chunks = request.app[NODE].fmp4(request.match_info["key"], request.match_info["output"])
    first = await anext(chunks, None)  # a closed stream becomes an error body, not a stream
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    await response.prepare(request)
    try:
        if first is not None:
            await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    except ConnectionResetError:
        pass  # the platform stopped reading: its viewer went away
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return response


@routes.get("/streams/{key}/hls/{name}")
async def hls(request: web.Request) -> web.Response:
    found = await request.app[NODE].hls_resource(
        request.match_info["key"], request.match_info["name"]
    )
    if found is None:
        return web.json_response({"error": "NotFound", "message": "no such resource"}, status=404)
    data, content_type = found
    return web.Response(body=data, content_type=content_type)


@routes.get("/streams/{key}/snapshot")
async def snapshot(request: web.Request) -> web.Response:
    width = int(request.query.get("max_width", "1280"))
    jpeg = await request.app[NODE].snapshot(request.match_info["key"], width)
    return web.Response(body=jpeg, content_type="image/jpeg")


@routes.get("/streams/{key}/snapshots")
async def snapshots(request: web.Request) -> web.Response:
    width = int(request.query.get("max_width", "1280"))
    count = int(request.query.get("count", "1"))
    jpegs = await request.app[NODE].snapshots(request.match_info["key"], width, count)
    return web.json_response({"jpegs": [base64.b64encode(jpeg).decode() for jpeg in jpegs]})


@routes.delete("/outputs/{output}")
async def close_output(request: web.Request) -> web.Response:
    await request.app[NODE].close_output(request.match_info["output"])
    return web.json_response({})


@routes.post("/streams/{key}/relays/{relay}")
async def open_relay(request: web.Request) -> web.Response:
    spec = relay_spec_from_json(await _json(request))
    info = await request.app[NODE].open_relay(
        request.match_info["key"], request.match_info["relay"], spec
    )
    return web.json_response(dataclasses.asdict(info))


@routes.post("/relays/{relay}/start")
async def start_relay(request: web.Request) -> web.Response:
    await request.app[NODE].start_relay(request.match_info["relay"])
    return web.json_response({})


@routes.delete("/relays/{relay}")
async def close_relay(request: web.Request) -> web.Response:
    await request.app[NODE].close_relay(request.match_info["relay"])
    return web.json_response({})


@routes.get("/relays/{relay}")
async def relay_stats(request: web.Request) -> web.Response:
    stats = await request.app[NODE].relay_stats(request.match_info["relay"])
    return web.json_response(dataclasses.asdict(stats))


@routes.get("/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(stats_to_json(await request.app[NODE].stats()))


@routes.get("/events")
async def events(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(heartbeat=10.0)
    await socket.prepare(request)
    registry = request.app[EVENTS]
    registry.sockets.add(socket)
    try:
        async for message in socket:
            if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        registry.sockets.discard(socket)
    return socket


class _StatsPusher:
    """Sends the node's load to the platform every `STATS_INTERVAL` (placement, metrics)."""

    def __init__(self, node: LocalMediaNode, events: _Events) -> None:
        self._node = node
        self._events = events
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(STATS_INTERVAL, self._push)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _push(self) -> None:
        self._events.send({"event": "stats", "stats": stats_to_json(self._node.stats_now())})
        self.start()


async def run_worker(spec: WorkerSpec) -> None:
    """Serve `spec`'s node until standard input closes."""
    events = _Events()
    node = LocalMediaNode(
        spec.media, events, name=spec.name, webrtc_addresses=spec.webrtc_addresses
    )
    await node.start()
    app = web.Application(middlewares=[_errors], client_max_size=256 * 1024)
    app[NODE], app[EVENTS] = node, events
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.UnixSite(runner, spec.socket).start()
    pusher = _StatsPusher(node, events)
    pusher.start()
    tune_garbage_collector()  # every packet allocates: see gc_tuning
    print("ready", flush=True)
    try:
        await stdin_closed()
    finally:
        pusher.close()
        await node.close()
        await events.close()
        await runner.cleanup()
