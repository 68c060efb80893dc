"""What live view tells about the health of a camera's video: a start that failed, a stream
that stopped sending media, a start that worked. The fault tickets listen (art. 19);
the media part knows nothing of them: `LiveService` reports what its starter and the media
cluster told it."""

from __future__ import annotations

from typing import Protocol

__all__ = ["StreamHealthListener"]


class StreamHealthListener(Protocol):
    """Called on the event loop; must return quickly (queue, never wait)."""

    def stream_start_failed(self, device_id: str, channel_id: str, reason: str) -> None: ...

    def stream_media_stopped(self, device_id: str, channel_id: str) -> None: ...

    def stream_started(self, device_id: str, channel_id: str) -> None: ...
