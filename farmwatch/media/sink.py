"""What a stream feeds: the sink contract shared by every output (STYLE B7).

A `Stream` (one per channel) pushes each demuxed frame to every attached sink with
`offer`, which must never block or raise: a sink owns a bounded queue and, when it
falls behind, drops frames up to the next keyframe and counts the drops, so a slow
viewer never slows the source or the other viewers. A new sink is first offered the
stream's cached start (parameter sets + the frames since the last keyframe), so it
starts on a keyframe. `close` ends the sink; `closed` tells the stream to detach it.

A `PsSink` (an RTP relay to an upper platform) is fed the PS bytes of each frame as
received instead (`PsFrame`), under the same rules; it does not make the stream demultiplex.
"""

from __future__ import annotations

from typing import Protocol

from farmwatch.media.frames import EsFrame
from farmwatch.media.ps_frame import PsFrame


class Sink(Protocol):
    def offer(self, frame: EsFrame) -> None:
        """Take one frame; never blocks, never raises."""
        ...

    def end(self, reason: str) -> None:
        """The stream ended (device BYE, media timeout...); finish what is queued."""
        ...

    async def close(self) -> None:
        """Stop and release everything; idempotent."""
        ...

    @property
    def is_closed(self) -> bool: ...


class PsSink(Protocol):
    def offer_ps(self, frame: PsFrame) -> None:
        """Take one frame's PS bytes; never blocks, never raises."""
        ...

    def end(self, reason: str) -> None:
        """The stream ended; stop."""
        ...

    async def close(self) -> None:
        """Stop and release everything; idempotent."""
        ...

    @property
    def is_closed(self) -> bool: ...

    @property
    def is_waiting_for_keyframe(self) -> bool:
        """It fell behind and drops frames up to the next key frame."""
        ...
