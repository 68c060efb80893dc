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
import sys
from dataclasses import dataclass

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
        if self.process.returncode is None and self.process.stdin is not None:
            self.process.stdin.close()  # the worker's signal to finish
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self.process.wait()
        except TimeoutError:
            log.warning("media worker %s did not stop; killing it", self.spec.name)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def start_worker(spec: WorkerSpec, listener: NodeListener) -> WorkerProcess:
    """Start a worker for `spec` and connect to it; raises `MediaError` when it cannot."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "farmwatch", "media-worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(spec.to_json().encode() + b"\n")
        await process.stdin.drain()
        async with asyncio.timeout(START_TIMEOUT):
            line = await process.stdout.readline()
        if line.strip() != b"ready":
            raise MediaError(f"media worker {spec.name} did not start (said {line[:200]!r})")
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
