"""RTP payloads gathered per frame and demultiplexed once, not once per packet.

A 2 Mbit/s camera sends about eight RTP packets per frame (ninety for a key frame), and the
PS demuxer's fixed cost per call (state dispatch, a copy of the split tail, the budget) is
most of its cost per packet. `FrameBatch` keeps the payloads of the frame being received
(views into the datagrams, no copies) and feeds them to the demuxer joined, when the frame
ends — the RTP marker bit, or the next frame's timestamp — or when `max_parts` payloads are
waiting (a bound on the work of one call, so a huge frame never holds the event loop). The
demuxer sees the same bytes in the same order either way (it accepts any chunking); only
the calls are fewer. A loss flushes what arrived before the gap, then tells the demuxer
(`PsDemuxer.mark_loss`), as per-packet feeding did. Pure.
"""

from __future__ import annotations

from farmwatch.media.frames import EsFrame
from farmwatch.media.ps_demux import PsDemuxer

__all__ = ["FrameBatch"]

_NOTHING: tuple[EsFrame, ...] = ()


class FrameBatch:
    """The payloads of the frame being received, in front of one `PsDemuxer`."""

    __slots__ = ("_demuxer", "_max_parts", "_parts", "_timestamp", "_units_per_part")

    def __init__(self, demuxer: PsDemuxer, *, max_parts: int, units_per_part: int) -> None:
        self._demuxer = demuxer
        self._max_parts = max_parts
        self._units_per_part = units_per_part
        self._parts: list[bytes | memoryview] = []
        self._timestamp: int | None = None

    @property
    def demuxer(self) -> PsDemuxer:
        return self._demuxer

    def take(
        self, payload: bytes | memoryview, timestamp: int, marker: bool
    ) -> tuple[EsFrame, ...] | list[EsFrame]:
        """One packet's payload, in order; the frames that completed (often none)."""
        out: tuple[EsFrame, ...] | list[EsFrame] = _NOTHING
        if self._parts and timestamp != self._timestamp:
            out = self._feed(end=True)  # the next frame began: the previous one is over
        self._timestamp = timestamp
        self._parts.append(payload)
        if marker:
            return [*out, *self._feed(end=True)] if out else self._feed(end=True)
        if len(self._parts) >= self._max_parts:
            return [*out, *self._feed(end=False)] if out else self._feed(end=False)
        return out

    def loss(self) -> list[EsFrame]:
        """Packets were lost here: demux what came before the gap, then resynchronise."""
        out = self._feed(end=False) if self._parts else []
        return [*out, *self._demuxer.mark_loss()]

    def _feed(self, *, end: bool) -> list[EsFrame]:
        parts, self._parts = self._parts, []
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return self._demuxer.feed(
            bytes(data) if type(data) is not bytes else data,
            rtp_timestamp=self._timestamp,
            marker=end,
            units=self._units_per_part * len(parts),
        )
