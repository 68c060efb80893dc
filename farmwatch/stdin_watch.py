"""How a child process of the platform (a media worker, a SIP front) knows to stop.

The platform keeps the child's standard input open for as long as it wants the child; it
closes it to let the child go, and the kernel closes it when the platform dies, even of
SIGKILL. So a child never outlives its platform.
"""

from __future__ import annotations

import asyncio
import sys


async def stdin_closed() -> None:
    """Until the platform's end of our standard input closes (it exited or let us go)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
