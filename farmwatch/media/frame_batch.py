"""RTP payloads gathered per frame and demultiplexed once, or only kept while nobody watches.

A 2 Mbit/s camera sends about eight RTP packets per frame (ninety for a key frame), and the
PS demuxer's fixed cost per call (state dispatch, a copy of the split tail, the budget) is
most of its cost per packet. `FrameBatch` keeps the payloads of the frame being received
(views into the datagrams, no copies) and feeds them to the demuxer joined, when the frame
ends — the RTP marker bit, or the next frame's timestamp — or when `max_parts` payloads are
waiting (a bound on the work of one call, so a huge frame never holds the event loop). The
demuxer sees the same bytes in the same order either way (it accepts any chunking); only
the calls are fewer. A loss flushes what arrived before the gap, then tells the demuxer
(`PsDemuxer.mark_loss`), as per-packet feeding did.

While the stream has no viewer (`sleep`), frames are not demultiplexed at all (issue 14: a
stream nobody watches costs receiving and finding frame boundaries and key frames): each
frame's bytes are kept from the last key frame on (`ps_keyframe.starts_keyframe`), losses
noted between them, bounded like the stream's GOP cache. `wake` demultiplexes what was
kept with a fresh demuxer and returns its frames — the start a new viewer gets — and
demultiplexing goes on from there. Pure.
"""

from __future__ import annotations

from collections.abc import Callable

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.ps_keyframe import starts_keyframe

__all__ = ["FrameBatch"]

_NOTHING: tuple[EsFrame, ...] = ()
_LOSS = None  # in the kept GOP: packets were lost here


class FrameBatch:
    """The payloads of the frame being received, in front of one `PsDemuxer`."""

    __slots__ = (
        "_codec",
        "_demuxer",
        "_kept",
        "_kept_bytes",
        "_max_bytes",
        "_max_frames",
        "_max_parts",
        "_new_demuxer",
        "_parts",
        "_timestamp",
        "_units_per_part",
    )

    def __init__(
        self,
        new_demuxer: Callable[[], PsDemuxer],
        *,
        max_parts: int,
        units_per_part: int,
        max_frames: int = 300,
        max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._new_demuxer = new_demuxer
        self._demuxer = new_demuxer()
        self._max_parts = max_parts
        self._units_per_part = units_per_part
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._parts: list[bytes | memoryview] = []
        self._timestamp: int | None = None
        self._codec: Codec | None = None  # set while asleep: the frames are only kept
        # (frame bytes, timestamp, complete) or _LOSS
        self._kept: list[tuple[bytes, int, bool] | None] = []
        self._kept_bytes = 0

    @property
    def demuxer(self) -> PsDemuxer:
        return self._demuxer

    @property
    def is_asleep(self) -> bool:
        return self._codec is not None

    def take(
        self, payload: bytes | memoryview, timestamp: int, marker: bool
    ) -> tuple[EsFrame, ...] | list[EsFrame]:
        """One packet's payload, in order; the frames that completed (often none)."""
        out: tuple[EsFrame, ...] | list[EsFrame] = _NOTHING
        if self._parts and timestamp != self._timestamp:
            out = self._end(end=True)  # the next frame began: the previous one is over
        self._timestamp = timestamp
        self._parts.append(payload)
        if marker:
            return [*out, *self._end(end=True)] if out else self._end(end=True)
        if len(self._parts) >= self._max_parts:
            if self._codec is None:
                return [*out, *self._end(end=False)] if out else self._end(end=False)
            if len(self._parts) * 1400 > self._max_bytes:  # no frame is this long: garbage
                self._parts.clear()
                self._kept.clear()
                self._kept_bytes = 0
        return out

    def loss(self) -> list[EsFrame]:
        """Packets were lost here: demux what came before the gap, then resynchronise."""
        if self._codec is not None:
            self._end(end=False)  # what came of the frame before the gap
            if self._kept:
                self._kept.append(_LOSS)
            return []
        out = self._end(end=False) if self._parts else []
        return [*out, *self._demuxer.mark_loss()]

    def sleep(self, codec: Codec) -> None:
        """Nobody watches: keep frames of `codec` from the next key frame on, undemuxed."""
        if self._codec is None:
            self._end(end=False)
            self._codec = codec
            self._kept.clear()
            self._kept_bytes = 0

    def wake(self) -> list[EsFrame]:
        """Somebody watches again: the kept GOP's frames, then demultiplexing as usual."""
        if self._codec is None:
            return []
        self._codec = None
        self._demuxer = self._new_demuxer()
        out: list[EsFrame] = []
        for entry in self._kept:
            if entry is _LOSS:
                out += self._demuxer.mark_loss()
                continue
            data, timestamp, complete = entry
            out += self._demuxer.feed(
                data,
                rtp_timestamp=timestamp,
                marker=complete,
                units=self._units_per_part * (len(data) // 1400 + 1),
            )
        self._kept.clear()
        self._kept_bytes = 0
        return out

    def _end(self, *, end: bool) -> list[EsFrame]:
        parts, self._parts = self._parts, []
        if not parts:
            return []
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        data = bytes(data) if type(data) is not bytes else data
        if self._codec is not None:
            self._keep(data, complete=end)
            return []
        return self._demuxer.feed(
            data,
            rtp_timestamp=self._timestamp,
            marker=end,
            units=self._units_per_part * len(parts),
        )

    def _keep(self, data: bytes, *, complete: bool) -> None:
        assert self._codec is not None and self._timestamp is not None
        if complete and starts_keyframe(self._codec, data):
            self._kept.clear()
            self._kept_bytes = 0
        elif not self._kept:
            return  # no key frame yet to start a GOP from
        self._kept.append((data, self._timestamp, complete))
        self._kept_bytes += len(data)
        if len(self._kept) > self._max_frames or self._kept_bytes > self._max_bytes:
            self._kept.clear()  # a GOP too long to replay: the next viewer waits for one
            self._kept_bytes = 0
