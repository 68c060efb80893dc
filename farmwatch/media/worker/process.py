"""Starting one media worker process and knowing when it is gone.

`start_worker` runs `python -m farmwatch media-worker`, hands it its `WorkerSpec` on
standard input (and keeps that pipe open: the worker exits when it closes, so it never
outlives the platform, even one killed with SIGKILL), waits for its `ready` line, and
connects a `RemoteMediaNode` to its socket. `WorkerProcess.wait()` returns when the process
has exited, for whatever reason; `stop()` lets it go and waits, killing it past a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from farmwatch.child_process import start_child, stop_child
from farmwatch.media.errors import MediaError
from farmwatch.media.node import NodeListener
from farmwatch.media.worker.client import RemoteMediaNode
from farmwatch.media.worker.server import WorkerSpec

__all__ = ["WorkerProcess", "start_worker"]

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass(slots=True)
class WorkerProcess:
    spec: WorkerSpec
    process: asyncio.subprocess.Process
    node: RemoteMediaNode

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self) -> None:
        await self.node.close()
        await stop_child(self.process, name=f"media worker {self.spec.name}", within=STOP_TIMEOUT)


async def start_worker(spec: WorkerSpec, listener: NodeListener) -> WorkerProcess:
    """Start a worker for `spec` and connect to it; raises `MediaError` when it cannot."""
    try:
        process = await start_child(
            "media-worker", spec.to_json(), name=f"media worker {spec.name}",
            ready_within=START_TIMEOUT,
        )  # fmt: skip
    except (TimeoutError, OSError) as error:
        raise MediaError(f"media worker {spec.name} did not start: {error!r}") from error
    try:
        node = RemoteMediaNode(spec.name, spec.socket, listener, pid=process.pid)
        await node.start()
    except BaseException as error:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if isinstance(error, TimeoutError | OSError):
            raise MediaError(f"media worker {spec.name} did not start: {error!r}") from error
        raise
    log.info("media worker %s started (pid %d, RTP ports %s)", spec.name, process.pid,
             spec.media.port_range)  # fmt: skip
    return WorkerProcess(spec, process, node)
