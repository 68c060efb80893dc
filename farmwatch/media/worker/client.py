"""`RemoteMediaNode`: a media worker seen from the platform, over its control channel.

Each `MediaNode` method is one HTTP request to the worker's Unix socket (`wire.py`); errors
come back as the same `MediaError` types a local node raises. One WebSocket (`/events`)
brings what the worker reports: streams that closed by themselves, keyframes viewers need,
outputs that closed, recorded segments closed, and the worker's load every second (kept in
`last_stats`, which placement and `/metrics` read without a round trip).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

import aiohttp

from farmwatch.media.errors import MediaError
from farmwatch.media.manager import IngestTotals, MediaTransport
from farmwatch.media.node import (
    DownloadResult,
    LiveInfo,
    NodeListener,
    NodeStats,
    RecordingSpec,
    RelayInfo,
    RelaySpec,
    RelayStats,
    StreamPlacement,
    WebRtcAnswer,
)
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress
from farmwatch.media.worker.wire import (
    download_from_json,
    error_from_body,
    progress_from_json,
    relay_spec_to_json,
    segment_from_json,
    stats_from_json,
)

__all__ = ["RemoteMediaNode"]

log = logging.getLogger(__name__)

_BASE = "http://media-worker"
_CONTROL_TIMEOUT = aiohttp.ClientTimeout(total=30)
_STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10)


class RemoteMediaNode:
    """`MediaNode` of a worker process listening on `socket_path`."""

    def __init__(self, name: str, socket_path: str, listener: NodeListener, *, pid: int) -> None:
        self._name = name
        self._socket_path = socket_path
        self._listener = listener
        self._session: aiohttp.ClientSession | None = None
        self._events: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_stats = NodeStats(name, pid, 0, 0, 0, 0, IngestTotals(), 0.0, 0)

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        connector = aiohttp.UnixConnector(path=self._socket_path, limit=0)
        self._session = aiohttp.ClientSession(connector=connector, timeout=_CONTROL_TIMEOUT)
        socket = await self._session.ws_connect(f"{_BASE}/events", heartbeat=10.0)
        self._events = asyncio.get_running_loop().create_task(self._read_events(socket))
        await self.stats()

    async def close(self) -> None:
        for task in [self._events, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in [self._events, *self._tasks] if t is not None), return_exceptions=True
        )
        if self._session is not None:
            await self._session.close()

    # -- streams ---------------------------------------------------------------------------

    async def open_stream(
        self,
        stream_key: str,
        transport: MediaTransport,
        expected_ssrc: int | None,
        allowed_hosts: Collection[str] | None,
    ) -> StreamPlacement:
        body = await self._call(
            "POST",
            f"/streams/{stream_key}",
            {
                "transport": transport.value,
                "expected_ssrc": expected_ssrc,
                "allowed_hosts": None if allowed_hosts is None else list(allowed_hosts),
            },
        )
        return StreamPlacement(**body)

    async def expect_ssrc(self, stream_key: str, ssrc: int) -> None:
        await self._call("POST", f"/streams/{stream_key}/ssrc", {"ssrc": ssrc})

    async def allow_source(self, stream_key: str, host: str) -> None:
        await self._call("POST", f"/streams/{stream_key}/sources", {"host": host})

    async def connect_active(self, stream_key: str, host: str, port: int) -> None:
        await self._call("POST", f"/streams/{stream_key}/connect", {"host": host, "port": port})

    async def listen_active(self, stream_key: str) -> None:
        await self._call("POST", f"/streams/{stream_key}/listen")

    async def wait_live(self, stream_key: str) -> LiveInfo:
        return LiveInfo(**await self._call("GET", f"/streams/{stream_key}/live"))

    async def close_stream(self, stream_key: str, reason: CloseReason) -> None:
        await self._call("DELETE", f"/streams/{stream_key}?reason={reason.value}")

    async def set_scale(self, stream_key: str, scale: float) -> None:
        await self._call("POST", f"/streams/{stream_key}/scale", {"scale": scale})

    async def set_paused(self, stream_key: str, paused: bool) -> None:
        await self._call("POST", f"/streams/{stream_key}/paused", {"paused": paused})

    async def stream_progress(self, stream_key: str) -> StreamProgress:
        return progress_from_json(await self._call("GET", f"/streams/{stream_key}/progress"))

    async def open_recorded_stream(
        self, stream_key: str, parts: list[tuple[str, str]], start: str
    ) -> LiveInfo:
        body = {"parts": [list(part) for part in parts], "start": start}
        return LiveInfo(**await self._call("POST", f"/streams/{stream_key}/recorded", body))

    async def seek_recorded_stream(self, stream_key: str, start: str) -> None:
        await self._call("POST", f"/streams/{stream_key}/seek", {"start": start})

    # -- files written from streams ----------------------------------------------------------

    async def start_recording(self, stream_key: str, spec: RecordingSpec) -> None:
        await self._call("POST", f"/streams/{stream_key}/recording", dataclasses.asdict(spec))

    async def stop_recording(self, stream_key: str) -> None:
        await self._call("DELETE", f"/streams/{stream_key}/recording")

    async def recording_keys(self) -> set[str]:
        body = await self._call("GET", "/recordings")
        return {str(key) for key in body["keys"]}

    async def start_download(self, stream_key: str, path: str) -> None:
        await self._call("POST", f"/streams/{stream_key}/download", {"path": path})

    async def finish_download(self, stream_key: str) -> DownloadResult | None:
        return download_from_json(
            await self._call("POST", f"/streams/{stream_key}/download/finish")
        )

    async def abort_download(self, stream_key: str) -> None:
        await self._call("DELETE", f"/streams/{stream_key}/download")

    # -- outputs ---------------------------------------------------------------------------

    async def webrtc_answer(
        self, stream_key: str, output_id: str, sdp: str, sdp_type: str
    ) -> WebRtcAnswer:
        body = await self._call(
            "POST", f"/streams/{stream_key}/webrtc/{output_id}", {"sdp": sdp, "type": sdp_type}
        )
        return WebRtcAnswer(**body)

    async def fmp4(self, stream_key: str, output_id: str) -> AsyncIterator[bytes]:
        session = self._session_or_fail()
        url = f"{_BASE}/streams/{stream_key}/fmp4/{output_id}"
        try:
            async with session.get(url, timeout=_STREAM_TIMEOUT) as response:
                if response.status != 200:
                    raise error_from_body(await _body(response))
                async for chunk in response.content.iter_any():
                    yield chunk
        except aiohttp.ClientError as error:
            raise MediaError(f"media node {self._name}: {error}") from error

    async def hls_resource(self, stream_key: str, name: str) -> tuple[bytes, str] | None:
        session = self._session_or_fail()
        try:
            async with session.get(f"{_BASE}/streams/{stream_key}/hls/{name}") as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise error_from_body(await _body(response))
                return await response.read(), response.content_type
        except aiohttp.ClientError as error:
            raise MediaError(f"media node {self._name}: {error}") from error

    async def snapshot(self, stream_key: str, max_width: int) -> bytes:
        session = self._session_or_fail()
        url = f"{_BASE}/streams/{stream_key}/snapshot?max_width={max_width}"
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    raise error_from_body(await _body(response))
                return await response.read()
        except aiohttp.ClientError as error:
            raise MediaError(f"media node {self._name}: {error}") from error

    async def snapshots(self, stream_key: str, max_width: int, count: int) -> list[bytes]:
        session = self._session_or_fail()
        url = f"{_BASE}/streams/{stream_key}/snapshots?max_width={max_width}&count={count}"
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    raise error_from_body(await _body(response))
                answer = await response.json()
        except aiohttp.ClientError as error:
            raise MediaError(f"media node {self._name}: {error}") from error
        return [base64.b64decode(jpeg) for jpeg in answer["jpegs"]]

    async def close_output(self, output_id: str) -> None:
        await self._call("DELETE", f"/outputs/{output_id}")

    # -- relays ------------------------------------------------------------------------------

    async def open_relay(self, stream_key: str, relay_id: str, spec: RelaySpec) -> RelayInfo:
        body = await self._call(
            "POST", f"/streams/{stream_key}/relays/{relay_id}", relay_spec_to_json(spec)
        )
        return RelayInfo(**body)

    async def start_relay(self, relay_id: str) -> None:
        await self._call("POST", f"/relays/{relay_id}/start")

    async def close_relay(self, relay_id: str) -> None:
        await self._call("DELETE", f"/relays/{relay_id}")

    async def relay_stats(self, relay_id: str) -> RelayStats:
        return RelayStats(**await self._call("GET", f"/relays/{relay_id}"))

    async def stats(self) -> NodeStats:
        self.last_stats = stats_from_json(await self._call("GET", "/stats"))
        return self.last_stats

    # -- the channel -------------------------------------------------------------------------

    def _session_or_fail(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise MediaError(f"media node {self._name} is not connected")
        return self._session

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        session = self._session_or_fail()
        try:
            async with session.request(method, _BASE + path, json=body) as response:
                data = await _body(response)
                if response.status != 200:
                    raise error_from_body(data)
                return data
        except aiohttp.ClientError as error:
            raise MediaError(f"media node {self._name}: {error}") from error

    async def _read_events(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                self._event(json.loads(message.data))
            except Exception:
                # Isolation boundary: one event from the worker.
                log.exception("media node %s: bad event %r", self._name, message.data[:200])

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "stats":
            self.last_stats = stats_from_json(event["stats"])
        elif kind == "keyframe_needed":
            self._listener.keyframe_needed(str(event["key"]))
        elif kind == "output_closed":
            self._listener.output_closed(str(event["id"]))
        elif kind == "segment_closed":
            self._listener.segment_closed(str(event["key"]), segment_from_json(event["segment"]))
        elif kind == "relay_closed":
            self._listener.relay_closed(str(event["id"]), str(event["reason"]))
        elif kind == "stream_closed":
            reason = CloseReason(event["reason"])
            task = asyncio.get_running_loop().create_task(
                self._listener.stream_closed(str(event["key"]), reason)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def _body(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {"error": "MediaError", "message": f"HTTP {response.status}"}
