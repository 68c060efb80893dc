"""The platform's child processes (media workers, SIP fronts): started, and stopping in time.

A child is `python -m farmwatch <command>`, handed its spec as one JSON line on standard
input, which the platform keeps open for as long as it wants the child: it closes it to let
the child go, and the kernel closes it when the platform dies, even of SIGKILL, so a child
never outlives its platform. The child says `ready` on standard output once it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

__all__ = ["ChildFailed", "start_child", "stdin_closed", "stop_child"]

log = logging.getLogger(__name__)


class ChildFailed(OSError):
    """The child exited or said something else before `ready`."""


async def start_child(
    command: str, spec_json: str, *, name: str, ready_within: float, pass_fds: tuple[int, ...] = ()
) -> asyncio.subprocess.Process:
    """Start `farmwatch <command>` with `spec_json`, wait for its `ready`; raises
    `ChildFailed` or `TimeoutError` (the child killed) when it does not come."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "farmwatch", command,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, pass_fds=pass_fds,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(spec_json.encode() + b"\n")
        await process.stdin.drain()
        async with asyncio.timeout(ready_within):
            line = await process.stdout.readline()
        if line.strip() != b"ready":
            raise ChildFailed(f"{name} did not start (said {line[:200]!r})")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    return process


async def stop_child(process: asyncio.subprocess.Process, *, name: str, within: float) -> None:
    """Let the child go (close its standard input) and wait; kill it past `within` s."""
    if process.returncode is None and process.stdin is not None:
        process.stdin.close()
    try:
        async with asyncio.timeout(within):
            await process.wait()
    except TimeoutError:
        log.warning("%s did not stop within %.0f s; killing it", name, within)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def stdin_closed() -> None:
    """Until the platform's end of our standard input closes (it exited or let us go)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
