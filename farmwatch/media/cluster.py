"""All media nodes of a platform: where each stream runs, and the workers kept running.

`MediaCluster` is what the platform's live service talks to: the `MediaNode` API keyed by
stream, in front of either one `LocalMediaNode` (`workers = 0`: everything in this process)
or `workers` worker processes, each owning an equal share of `[media] port_range`
(`worker/`). A new stream goes to the alive node holding the fewest streams; every later
call for it goes where it is. A worker that dies takes only its streams down: each is
reported closed with `CloseReason.NODE_LOST` (the platform BYEs the device and starts the
stream again if it has viewers, which places it on another worker), and the worker is
started again after a growing pause. Loads come from each worker's own report every
second, so placement and `/metrics` cost no round trip. A playback of platform recordings is
placed like any stream. What records now is asked of every node (`recording_keys`), never
remembered here, and a download is routed to its node until it is finished or aborted, even
after its stream ended. A relay to an upper platform is opened on its stream's node and
routed there by its ID until it is closed or ends by itself (`relay_closed`); a worker that
dies ends its relays with "node-lost".
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from farmwatch.media.errors import MediaError
from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.manager import IngestTotals, MediaTransport
from farmwatch.media.node import (
    DownloadResult,
    LiveInfo,
    MediaNode,
    NodeListener,
    NodeStats,
    RecordingSpec,
    RelayEndReason,
    RelayInfo,
    RelaySpec,
    RelayStats,
    StreamPlacement,
    WebRtcAnswer,
)
from farmwatch.media.settings import MediaSettings, parse_port_range
from farmwatch.media.stream import StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress
from farmwatch.media.worker.process import WorkerProcess, start_worker
from farmwatch.media.worker.server import WorkerSpec

if TYPE_CHECKING:
    from farmwatch.media.sinks.segment_recorder import RecordedSegment

__all__ = ["MediaCluster", "split_port_range", "worker_count"]

log = logging.getLogger(__name__)

RESTART_MIN, RESTART_MAX = 1.0, 30.0
READY_TIMEOUT = 30.0


def worker_count(setting: int, cpus: int | None) -> int:
    """`[media] workers`: -1 = one per CPU when there are several, else 0 (in process)."""
    if setting >= 0:
        return setting
    return cpus if cpus is not None and cpus > 1 else 0


def _pairs(port_range: str) -> int:
    """RTP/RTCP port pairs (even, odd) in `port_range`."""
    start, end = parse_port_range(port_range)
    return (end - (start + start % 2) + 1) // 2


def split_port_range(port_range: str, parts: int) -> list[str]:
    """`port_range` cut into `parts` ranges of even/odd pairs (RTP, RTCP), equal in size."""
    start, _ = parse_port_range(port_range)
    first = start + start % 2
    pairs = _pairs(port_range)
    if pairs < parts:
        raise MediaError(f"media.port_range {port_range} holds {pairs} pairs for {parts} workers")
    share = pairs // parts
    return [
        f"{first + 2 * share * index}-{first + 2 * share * (index + 1) - 1}"
        for index in range(parts)
    ]


_FRESH_STATS_WAIT = 0.5  # seconds a scrape waits for a worker's current load


def _idle_stats(spec: WorkerSpec) -> NodeStats:
    """What a worker not running (yet, or again) counts for: its ports, nothing else."""
    capacity = _pairs(spec.media.port_range)
    return NodeStats(spec.name, 0, 0, 0, 0, capacity, IngestTotals(), 0.0, 0)


class _Worker:
    """One worker slot: its spec, the process while it runs, and its restart pause."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.process: WorkerProcess | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        # Until its first start succeeds or fails: streams wait for it, so that those
        # opened while the platform starts are spread, not all put on the first one up.
        self.first_start = asyncio.Event()
        self.restart_pause = RESTART_MIN


class _NodeEvents:
    """A node's listener: forwards to the platform, knowing which node spoke."""

    def __init__(self, cluster: MediaCluster, node_name: str) -> None:
        self._cluster = cluster
        self._node = node_name

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        await self._cluster.node_stream_closed(self._node, stream_key, reason)

    def keyframe_needed(self, stream_key: str) -> None:
        self._cluster.listener.keyframe_needed(stream_key)

    def output_closed(self, output_id: str) -> None:
        self._cluster.forget_output(output_id)
        self._cluster.listener.output_closed(output_id)

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        self._cluster.listener.segment_closed(stream_key, segment)

    def relay_closed(self, relay_id: str, reason: str) -> None:
        self._cluster.node_relay_closed(self._node, relay_id, reason)


class MediaCluster:
    """The `MediaNode` API routed by stream key over this platform's nodes."""

    def __init__(
        self,
        settings: MediaSettings,
        listener: NodeListener,
        *,
        workers: int,
        runtime_dir: Path,
        webrtc_addresses: tuple[str, ...] = (),
        spawn: Callable[[WorkerSpec, NodeListener], Awaitable[WorkerProcess]] = start_worker,
        log_level: str = "INFO",
        log_json: bool = False,
    ) -> None:
        self.listener = listener
        self._settings = settings
        self._webrtc_addresses = webrtc_addresses
        self._spawn = spawn
        self._local: LocalMediaNode | None = None
        self._workers: list[_Worker] = []
        self._routes: dict[str, MediaNode] = {}
        self._outputs: dict[str, MediaNode] = {}
        self._downloads: dict[str, MediaNode] = {}
        """Downloads by stream key: their files are finished after their stream ended."""
        self._relays: dict[str, MediaNode] = {}
        """Relays by relay ID, while open."""
        self._closing = False
        if workers == 0 or settings.shared_port:
            if workers and settings.shared_port:
                log.warning("media: one shared RTP port ([media] shared_port) is one process: "
                            "media runs in the platform process")  # fmt: skip
            self._local = LocalMediaNode(
                settings, _NodeEvents(self, "local"), webrtc_addresses=webrtc_addresses
            )
            return
        runtime_dir.mkdir(parents=True, exist_ok=True)
        pairs = _pairs(settings.port_range)
        if pairs < workers:
            log.warning("media: port_range %s holds %d RTP port pairs: %d workers, not %d",
                        settings.port_range, pairs, pairs, workers)  # fmt: skip
            workers = pairs
        for index, ports in enumerate(split_port_range(settings.port_range, workers)):
            name = f"media-{index}"
            spec = WorkerSpec(
                name=name,
                socket=str(runtime_dir / f"{name}-{os.getpid()}.sock"),
                media=dataclasses.replace(settings, port_range=ports),
                webrtc_addresses=webrtc_addresses,
                log_level=log_level,
                log_json=log_json,
            )
            self._workers.append(_Worker(spec))

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the in-process node, or begin starting the workers (not waited for: the
        first stream placed waits for one to be ready)."""
        if self._local is not None:
            await self._local.start()
            return
        for worker in self._workers:
            worker.watcher = asyncio.get_running_loop().create_task(self._keep(worker))

    async def close(self) -> None:
        self._closing = True
        if self._local is not None:
            await self._local.close()
        for worker in self._workers:
            if worker.watcher is not None:
                worker.watcher.cancel()
        await asyncio.gather(
            *(w.watcher for w in self._workers if w.watcher is not None), return_exceptions=True
        )
        await asyncio.gather(
            *(w.process.stop() for w in self._workers if w.process is not None),
            return_exceptions=True,
        )

    async def _keep(self, worker: _Worker) -> None:
        """Run `worker`, and run it again whenever it dies (until the cluster closes)."""
        while not self._closing:
            try:
                worker.process = await self._spawn(worker.spec, _NodeEvents(self, worker.spec.name))
            except MediaError as error:
                log.error("media worker %s: %s", worker.spec.name, error)
                worker.first_start.set()
            else:
                worker.ready.set()
                worker.first_start.set()
                worker.restart_pause = RESTART_MIN
                code = await worker.process.wait()
                worker.ready.clear()
                if self._closing:
                    return
                log.error("media worker %s (pid %d) exited with %s; its streams go elsewhere",
                          worker.spec.name, worker.process.pid, code)  # fmt: skip
                await worker.process.node.close()
                worker.process = None
                await self._node_lost(worker.spec.name)
            # A pause that grows while the worker keeps failing: not a race being hidden.
            await asyncio.sleep(worker.restart_pause)
            worker.restart_pause = min(RESTART_MAX, worker.restart_pause * 2)

    async def _node_lost(self, node_name: str) -> None:
        lost = [key for key, node in self._routes.items() if node.name == node_name]
        for output_id, node in list(self._outputs.items()):
            if node.name == node_name:
                del self._outputs[output_id]
                self.listener.output_closed(output_id)
        for key, node in list(self._downloads.items()):
            if node.name == node_name:
                del self._downloads[key]  # its file went with the worker: finishing it fails
        for relay_id, node in list(self._relays.items()):
            if node.name == node_name:
                del self._relays[relay_id]
                self._report_relay_closed(relay_id, RelayEndReason.NODE_LOST.value)
        for key in lost:
            del self._routes[key]
            await self._report_closed(key, CloseReason.NODE_LOST)

    async def _report_closed(self, key: str, reason: CloseReason) -> None:
        try:
            await self.listener.stream_closed(key, reason)
        except Exception:
            log.exception("media: listener failed on stream %s closing", key)

    # -- placement ---------------------------------------------------------------------------

    def nodes(self) -> list[MediaNode]:
        if self._local is not None:
            return [self._local]
        return [w.process.node for w in self._workers if w.process is not None and w.ready.is_set()]

    async def _place(self) -> MediaNode:
        starting = [w.first_start.wait() for w in self._workers if not w.first_start.is_set()]
        if starting:
            try:
                async with asyncio.timeout(READY_TIMEOUT):
                    await asyncio.gather(*starting)
            except TimeoutError:
                pass  # place on what is up, if anything
        nodes = self.nodes()
        if not nodes:
            waits = [asyncio.create_task(w.ready.wait()) for w in self._workers]
            try:
                async with asyncio.timeout(READY_TIMEOUT):
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError as error:
                raise MediaError("no media worker is running") from error
            finally:
                for wait in waits:
                    wait.cancel()
            nodes = self.nodes()
            if not nodes:
                raise MediaError("no media worker is running")
        held: dict[str, int] = {node.name: 0 for node in nodes}
        for node in self._routes.values():
            if node.name in held:
                held[node.name] += 1
        return min(nodes, key=lambda node: held[node.name])

    def _route(self, stream_key: str) -> MediaNode:
        node = self._routes.get(stream_key)
        if node is None:
            raise StreamClosedError(CloseReason.REQUESTED)
        return node

    async def node_stream_closed(self, node_name: str, key: str, reason: CloseReason) -> None:
        node = self._routes.get(key)
        if node is not None and node.name == node_name:
            del self._routes[key]
        await self._report_closed(key, reason)

    def forget_output(self, output_id: str) -> None:
        self._outputs.pop(output_id, None)

    def node_relay_closed(self, node_name: str, relay_id: str, reason: str) -> None:
        node = self._relays.get(relay_id)
        if node is not None and node.name == node_name:
            del self._relays[relay_id]
        self._report_relay_closed(relay_id, reason)

    def _report_relay_closed(self, relay_id: str, reason: str) -> None:
        try:
            self.listener.relay_closed(relay_id, reason)
        except Exception:
            log.exception("media: listener failed on relay %s ending", relay_id)

    # -- the MediaNode API, by stream key ----------------------------------------------------

    async def open_stream(
        self,
        stream_key: str,
        transport: MediaTransport,
        expected_ssrc: int | None,
        allowed_hosts: Collection[str] | None,
    ) -> StreamPlacement:
        node = self._routes.get(stream_key)
        if node is None:
            node = await self._place()
            self._routes[stream_key] = node
        try:
            return await node.open_stream(stream_key, transport, expected_ssrc, allowed_hosts)
        except BaseException:
            if self._routes.get(stream_key) is node:
                del self._routes[stream_key]
            raise

    async def open_recorded_stream(
        self, stream_key: str, parts: list[tuple[str, str]], start: str
    ) -> LiveInfo:
        if stream_key in self._routes:
            raise MediaError(f"stream {stream_key} is open already")
        node = await self._place()
        self._routes[stream_key] = node
        try:
            return await node.open_recorded_stream(stream_key, parts, start)
        except BaseException:
            if self._routes.get(stream_key) is node:
                del self._routes[stream_key]
            raise

    async def seek_recorded_stream(self, stream_key: str, start: str) -> None:
        await self._route(stream_key).seek_recorded_stream(stream_key, start)

    async def start_recording(self, stream_key: str, spec: RecordingSpec) -> None:
        await self._route(stream_key).start_recording(stream_key, spec)

    async def stop_recording(self, stream_key: str) -> None:
        """A no-op when the stream is gone: its recorder closed its last segment itself."""
        node = self._routes.get(stream_key)
        if node is not None:
            await node.stop_recording(stream_key)

    async def recording_keys(self) -> set[str]:
        """The streams recorded now, as every running node says; a node that does not answer
        counts as recording nothing (asked again at the next reconciliation)."""
        nodes = self.nodes()
        answers = await asyncio.gather(
            *(node.recording_keys() for node in nodes), return_exceptions=True
        )
        keys: set[str] = set()
        for node, answer in zip(nodes, answers, strict=True):
            if isinstance(answer, MediaError):
                log.warning("media: %s did not say what it records: %s", node.name, answer)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                keys |= answer
        return keys

    async def start_download(self, stream_key: str, path: str) -> None:
        node = self._route(stream_key)
        await node.start_download(stream_key, path)
        self._downloads[stream_key] = node

    async def finish_download(self, stream_key: str) -> DownloadResult | None:
        node = self._downloads.pop(stream_key, None)
        if node is None:
            raise MediaError(f"stream {stream_key} has no download")
        return await node.finish_download(stream_key)

    async def abort_download(self, stream_key: str) -> None:
        node = self._downloads.pop(stream_key, None)
        if node is not None:
            await node.abort_download(stream_key)

    async def expect_ssrc(self, stream_key: str, ssrc: int) -> None:
        await self._route(stream_key).expect_ssrc(stream_key, ssrc)

    async def allow_source(self, stream_key: str, host: str) -> None:
        await self._route(stream_key).allow_source(stream_key, host)

    async def connect_active(self, stream_key: str, host: str, port: int) -> None:
        await self._route(stream_key).connect_active(stream_key, host, port)

    async def listen_active(self, stream_key: str) -> None:
        await self._route(stream_key).listen_active(stream_key)

    async def wait_live(self, stream_key: str) -> LiveInfo:
        return await self._route(stream_key).wait_live(stream_key)

    async def close_stream(self, stream_key: str, reason: CloseReason) -> None:
        node = self._routes.pop(stream_key, None)
        if node is not None:
            await node.close_stream(stream_key, reason)

    async def set_scale(self, stream_key: str, scale: float) -> None:
        await self._route(stream_key).set_scale(stream_key, scale)

    async def set_paused(self, stream_key: str, paused: bool) -> None:
        await self._route(stream_key).set_paused(stream_key, paused)

    async def stream_progress(self, stream_key: str) -> StreamProgress:
        return await self._route(stream_key).stream_progress(stream_key)

    async def webrtc_answer(
        self, stream_key: str, output_id: str, sdp: str, sdp_type: str
    ) -> WebRtcAnswer:
        node = self._route(stream_key)
        self._outputs[output_id] = node
        try:
            return await node.webrtc_answer(stream_key, output_id, sdp, sdp_type)
        except BaseException:
            self._outputs.pop(output_id, None)
            raise

    async def fmp4(self, stream_key: str, output_id: str) -> AsyncIterator[bytes]:
        node = self._route(stream_key)
        self._outputs[output_id] = node
        try:
            async for chunk in node.fmp4(stream_key, output_id):
                yield chunk
        finally:
            self._outputs.pop(output_id, None)

    async def hls_resource(self, stream_key: str, name: str) -> tuple[bytes, str] | None:
        return await self._route(stream_key).hls_resource(stream_key, name)

    async def snapshot(self, stream_key: str, max_width: int) -> bytes:
        return await self._route(stream_key).snapshot(stream_key, max_width)

    async def snapshots(self, stream_key: str, max_width: int, count: int) -> list[bytes]:
        return await self._route(stream_key).snapshots(stream_key, max_width, count)

    async def close_output(self, output_id: str) -> None:
        node = self._outputs.pop(output_id, None)
        if node is not None:
            await node.close_output(output_id)

    # -- relays to upper platforms, by relay ID ------------------------------------------------

    async def open_relay(self, stream_key: str, relay_id: str, spec: RelaySpec) -> RelayInfo:
        node = self._route(stream_key)
        if relay_id in self._relays:
            raise MediaError(f"relay {relay_id} is open already")
        self._relays[relay_id] = node
        try:
            return await node.open_relay(stream_key, relay_id, spec)
        except BaseException:
            if self._relays.get(relay_id) is node:
                del self._relays[relay_id]
            raise

    async def start_relay(self, relay_id: str) -> None:
        await self._relay_node(relay_id).start_relay(relay_id)

    async def close_relay(self, relay_id: str) -> None:
        node = self._relays.pop(relay_id, None)
        if node is not None:
            await node.close_relay(relay_id)

    async def relay_stats(self, relay_id: str) -> RelayStats:
        return await self._relay_node(relay_id).relay_stats(relay_id)

    def _relay_node(self, relay_id: str) -> MediaNode:
        node = self._relays.get(relay_id)
        if node is None:
            raise MediaError(f"relay {relay_id} is not open")
        return node

    # -- load ---------------------------------------------------------------------------------

    def stats(self) -> list[NodeStats]:
        """Every node's latest load (the workers' own reports, at most a second old)."""
        if self._local is not None:
            return [self._local.stats_now()]
        return [
            w.process.node.last_stats if w.process is not None else _idle_stats(w.spec)
            for w in self._workers
        ]

    async def refresh_stats(self) -> None:
        """Ask every worker for its load now (a scrape wants the counters of this instant,
        not of the last report); a worker that does not answer at once keeps its last
        report."""
        if self._local is not None:
            return  # read directly at render time
        nodes = self.nodes()
        results = await asyncio.gather(
            *(asyncio.wait_for(node.stats(), _FRESH_STATS_WAIT) for node in nodes),
            return_exceptions=True,
        )
        for node, result in zip(nodes, results, strict=True):
            if isinstance(result, BaseException):
                log.debug("media: no fresh stats from %s: %r", node.name, result)

    def stream_node(self, stream_key: str) -> str | None:
        """The name of the node a stream runs on (for the API and tests)."""
        node = self._routes.get(stream_key)
        return node.name if node is not None else None
