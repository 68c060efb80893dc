"""The media node of this process: its `MediaManager`, and the viewers' outputs on its streams.

`LocalMediaNode` implements `MediaNode` in process: it is the embedded single-process mode,
and what each worker process runs behind its control channel (`worker/server.py`). Outputs
are sinks attached to the node's streams, known by the output ID the platform gave them:
WebRTC sessions, fMP4 sinks, and one HLS sink per stream shared by its viewers (closed after
`hls_idle` seconds without a fetch: HLS has no connection to lose). A sweep every second
tells the listener of outputs that closed by themselves (viewer gone, stream ended), so the
platform knows which viewer sessions are still watching, and releases recorders that ended.
Files written from streams (segment recorders, downloads) are `StreamWriters`'; streams
played from recorded files are the manager's (`RecordingFeed`); relays to upper platforms
are `NodeRelays`', on ports of the manager's pool. Times cross the node's API as ISO 8601
text with their UTC offset.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Collection, Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import EsFrame
from farmwatch.media.manager import MediaManager, MediaTransport
from farmwatch.media.node import (
    DownloadResult,
    LiveInfo,
    NodeListener,
    NodeStats,
    RecordingSpec,
    StreamPlacement,
    WebRtcAnswer,
)
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.recording_feed import RecordingFile
from farmwatch.media.relay.relays import NodeRelays
from farmwatch.media.relay.spec import RelayInfo, RelaySpec, RelayStats
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream, StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress
from farmwatch.media.stream_writers import StreamWriters

if TYPE_CHECKING:
    from farmwatch.media.sinks.hls import HlsSink
    from farmwatch.media.sinks.segment_recorder import RecordedSegment

__all__ = ["LocalMediaNode"]

log = logging.getLogger(__name__)

_SWEEP_INTERVAL = 1.0
MAX_SNAPSHOTS = 4
"""Consecutive keyframes one `snapshots` call may wait for."""


class LocalMediaNode:
    """`MediaNode` in this process; see the module docstring."""

    def __init__(
        self,
        settings: MediaSettings,
        listener: NodeListener,
        *,
        name: str = "local",
        webrtc_addresses: tuple[str, ...] = (),
        hls_idle: float = 20.0,
    ) -> None:
        self._name = name
        self._listener = listener
        self._webrtc_addresses = webrtc_addresses
        self._hls_idle = hls_idle
        self.manager = MediaManager(settings, listener=self)
        self._outputs: dict[str, tuple[str, Any]] = {}  # output ID → (stream key, sink)
        self._hls: dict[str, tuple[HlsSink, asyncio.TimerHandle | None]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers = StreamWriters(self._segment_closed)
        self._relays = NodeRelays(settings, self.manager.ports, self._relay_closed)

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await self.manager.start()
        self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_INTERVAL, self._sweep)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for output_id in list(self._outputs):
            await self.close_output(output_id)
        for sink, idle in self._hls.values():
            if idle is not None:
                idle.cancel()
            await sink.close()
        self._hls.clear()
        await self._writers.close()
        await self._relays.close_all()
        await self.manager.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- streams ---------------------------------------------------------------------------

    async def open_stream(
        self,
        stream_key: str,
        transport: MediaTransport,
        expected_ssrc: int | None,
        allowed_hosts: Collection[str] | None,
    ) -> StreamPlacement:
        opened = await self.manager.open_stream(
            stream_key, transport, expected_ssrc, allowed_hosts=allowed_hosts
        )
        if opened.is_new:
            listener = self._listener
            opened.stream.on_keyframe_needed = lambda: listener.keyframe_needed(stream_key)
        return StreamPlacement(stream_key, self._name, opened.host, opened.port, opened.is_new)

    async def expect_ssrc(self, stream_key: str, ssrc: int) -> None:
        self.manager.expect_ssrc(stream_key, ssrc)

    async def allow_source(self, stream_key: str, host: str) -> None:
        self.manager.allow_source(stream_key, host)

    async def connect_active(self, stream_key: str, host: str, port: int) -> None:
        self.manager.connect_active(stream_key, host, port)

    async def listen_active(self, stream_key: str) -> None:
        await self.manager.listen_active(stream_key)

    async def wait_live(self, stream_key: str) -> LiveInfo:
        started = await self._stream(stream_key).wait_live()
        size = started.size
        return LiveInfo(
            codec=str(started.codec) if started.codec else None,
            width=size.width if size is not None else None,
            height=size.height if size is not None else None,
        )

    async def close_stream(self, stream_key: str, reason: CloseReason) -> None:
        await self.manager.close_stream(stream_key, reason)

    async def set_scale(self, stream_key: str, scale: float) -> None:
        self._stream(stream_key).set_scale(scale)

    async def set_paused(self, stream_key: str, paused: bool) -> None:
        self._stream(stream_key).set_paused(paused)

    async def stream_progress(self, stream_key: str) -> StreamProgress:
        return self._stream(stream_key).progress()

    async def open_recorded_stream(
        self, stream_key: str, parts: list[tuple[str, str]], start: str
    ) -> LiveInfo:
        files = [RecordingFile(Path(path), _parse_time(begins)) for path, begins in parts]
        await self.manager.open_recorded_stream(stream_key, files, _parse_time(start))
        return await self.wait_live(stream_key)

    async def seek_recorded_stream(self, stream_key: str, start: str) -> None:
        await self.manager.seek_recorded_stream(stream_key, _parse_time(start))

    # -- files written from streams ----------------------------------------------------------

    async def start_recording(self, stream_key: str, spec: RecordingSpec) -> None:
        await self._writers.start_recording(self._stream(stream_key), spec)

    async def stop_recording(self, stream_key: str) -> None:
        await self._writers.stop_recording(stream_key)

    async def recording_keys(self) -> set[str]:
        return self._writers.recording_keys()

    async def start_download(self, stream_key: str, path: str) -> None:
        await self._writers.start_download(self._stream(stream_key), path)

    async def finish_download(self, stream_key: str) -> DownloadResult | None:
        return await self._writers.finish_download(stream_key)

    async def abort_download(self, stream_key: str) -> None:
        await self._writers.abort_download(stream_key)

    def _segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        self._listener.segment_closed(stream_key, segment)

    # -- relays to upper platforms -----------------------------------------------------------

    async def open_relay(self, stream_key: str, relay_id: str, spec: RelaySpec) -> RelayInfo:
        return await self._relays.open(self._stream(stream_key), relay_id, spec)

    async def start_relay(self, relay_id: str) -> None:
        self._relays.start(relay_id)

    async def close_relay(self, relay_id: str) -> None:
        await self._relays.close(relay_id)

    async def relay_stats(self, relay_id: str) -> RelayStats:
        return self._relays.stats(relay_id)

    def _relay_closed(self, relay_id: str, reason: str) -> None:
        self._listener.relay_closed(relay_id, reason)

    def _stream(self, stream_key: str) -> Stream:
        stream = self.manager.get(stream_key)
        if stream is None or stream.close_reason is not None:
            reason = stream.close_reason if stream is not None else None
            raise StreamClosedError(reason or CloseReason.REQUESTED)
        return stream

    # -- MediaListener (the manager): a stream closed by itself ----------------------------

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        await self._listener.stream_closed(stream_key, reason)

    # -- outputs ---------------------------------------------------------------------------

    async def webrtc_answer(
        self, stream_key: str, output_id: str, sdp: str, sdp_type: str
    ) -> WebRtcAnswer:
        # The outputs' libraries (aiortc, PyAV: some 70 MB) load with their first viewer,
        # not at start-up: a node may never serve video to a viewer itself.
        from farmwatch.media.sinks.webrtc import WebRtcSession

        stream = self._stream(stream_key)
        listener = self._listener
        session = WebRtcSession(
            request_keyframe=lambda: listener.keyframe_needed(stream_key),
            host_addresses=self._webrtc_addresses,
            name=f"webrtc:{stream_key}:{output_id}",
        )
        stream.attach(session)
        self._outputs[output_id] = (stream_key, session)
        try:
            answer_sdp, answer_type = await session.answer(sdp, sdp_type)
        except BaseException:
            self._outputs.pop(output_id, None)
            await session.close()
            raise
        return WebRtcAnswer(answer_sdp, answer_type)

    async def fmp4(self, stream_key: str, output_id: str) -> AsyncIterator[bytes]:
        from farmwatch.media.sinks.fmp4 import Fmp4Sink

        stream = self._stream(stream_key)
        sink = Fmp4Sink(name=f"fmp4:{stream_key}:{output_id}")
        stream.attach(sink)
        self._outputs[output_id] = (stream_key, sink)
        try:
            async for chunk in sink.chunks():
                yield chunk
        finally:
            self._outputs.pop(output_id, None)
            await sink.close()

    async def hls_resource(self, stream_key: str, name: str) -> tuple[bytes, str] | None:
        from farmwatch.media.sinks.hls import HlsSink

        stream = self._stream(stream_key)
        entry = self._hls.get(stream_key)
        if entry is None or entry[0].is_closed:
            sink = HlsSink(name=f"hls:{stream_key}")
            await sink.start()
            stream.attach(sink)
            entry = (sink, None)
            self._hls[stream_key] = entry
            async with asyncio.timeout(10):
                await sink.wait_segments(1)
        sink, idle = entry
        if idle is not None:
            idle.cancel()
        idle = asyncio.get_running_loop().call_later(self._hls_idle, self._close_idle_hls, sink)
        self._hls[stream_key] = (sink, idle)
        found = sink.resource(name)
        return None if found is None else (found.data, found.content_type)

    def _close_idle_hls(self, sink: HlsSink) -> None:
        for key, (kept, _) in list(self._hls.items()):
            if kept is sink:
                del self._hls[key]
                log.info("stream %s: HLS unused for %g s, closing it", key, self._hls_idle)
        self._spawn(sink.close())

    async def snapshot(self, stream_key: str, max_width: int) -> bytes:
        """A JPEG of the stream's latest intact keyframe."""
        return (await self.snapshots(stream_key, max_width, 1))[0]

    async def snapshots(self, stream_key: str, max_width: int, count: int) -> list[bytes]:
        """JPEGs of `count` consecutive intact keyframes: the latest, then the next ones."""
        if not 1 <= count <= MAX_SNAPSHOTS:
            raise MediaError(f"snapshots: expected 1 to {MAX_SNAPSHOTS} keyframes, got {count}")
        stream = self._stream(stream_key)
        # A new sink is offered the cached start, which begins with the last keyframe.
        probe = QueuedSink(max_frames=1, name=f"snapshot:{stream_key}")
        subscription = stream.attach(probe)
        keyframes: list[EsFrame] = []
        try:
            async with asyncio.timeout(5 * count):
                while len(keyframes) < count:
                    frame = await probe.next_frame()
                    if frame is None:
                        break
                    if frame.is_keyframe and not frame.is_damaged:
                        keyframes.append(frame)  # a keyframe hit by loss: the next one
        except TimeoutError:
            pass
        finally:
            stream.detach(subscription)
            await probe.close()
        if len(keyframes) < count:
            raise MediaError(f"no keyframe from {stream_key} yet")
        from farmwatch.media.sinks.snapshot import snapshot_jpeg

        return [await snapshot_jpeg(frame, max_width=max_width) for frame in keyframes]

    async def close_output(self, output_id: str) -> None:
        entry = self._outputs.pop(output_id, None)
        if entry is not None:
            await entry[1].close()

    def _sweep(self) -> None:
        """Tell the platform of outputs that closed by themselves since the last sweep."""
        self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_INTERVAL, self._sweep)
        if self._writers.has_ended_recordings:
            self._spawn(self._writers.sweep())
        for output_id, (_, sink) in list(self._outputs.items()):
            if sink.is_closed:
                del self._outputs[output_id]
                try:
                    self._listener.output_closed(output_id)
                except Exception:
                    log.exception("node %s: listener failed on output %s", self._name,
                                  output_id)  # fmt: skip

    # -- load ------------------------------------------------------------------------------

    async def stats(self) -> NodeStats:
        return self.stats_now()

    def stats_now(self) -> NodeStats:
        media = self.manager.stats
        return NodeStats(
            node=self._name,
            pid=os.getpid(),
            streams=media.streams,
            outputs=len(self._outputs) + len(self._hls),
            ports_in_use=media.ports_in_use,
            ports_capacity=media.ports_capacity,
            ingest=media.ingest,
            cpu_seconds=time.process_time(),
            rss_bytes=_resident_bytes(),
            relays=len(self._relays),
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset; `MediaError` otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise MediaError(f"not an ISO 8601 time: {text!r}") from error
    if moment.tzinfo is None:
        raise MediaError(f"time {text!r} has no UTC offset")
    return moment


def _resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
