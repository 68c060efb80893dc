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

Once the stream's codec is known (`set_codec`, at its first key frame), the PS bytes of
every frame from the last key frame on are also kept (told from their first bytes,
`ps_keyframe.starts_keyframe`; losses noted between them; bounded like the stream's GOP
cache). While the stream has no viewer (`sleep`) that is all that happens to a frame:
nothing is demultiplexed (issue 14: a stream nobody watches costs receiving and finding
frame boundaries and key frames). `wake` demultiplexes the kept GOP with a fresh demuxer
and returns its frames — the start a new viewer gets, at once — and demultiplexing goes on
from there.

While relays re-send the stream (`set_relayed`), each frame's PS bytes also come out, as a
`PsFrame` among the returned frames (asleep or not: a relay does not wake the demuxer), and
`set_relayed(True)` returns the kept GOP as PS frames, the start a new relay gets. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.ps_keyframe import starts_keyframe

__all__ = ["FrameBatch", "BatchOutput"]

BatchOutput = EsFrame | PsFrame
"""Demultiplexed frames, and the PS bytes of each frame while relayed."""

_NOTHING: tuple[EsFrame, ...] = ()
_NO_PS: tuple[PsFrame, ...] = ()
_LOSS = None  # in the kept GOP: packets were lost here
_PAYLOAD = 1400  # what a kept chunk's demuxing budget is counted in


class FrameBatch:
    """The payloads of the frame being received, in front of one `PsDemuxer`."""

    __slots__ = (
        "_after_loss",
        "_asleep",
        "_codec",
        "_demuxer",
        "_frame",
        "_kept",
        "_kept_bytes",
        "_last_frame",
        "_max_bytes",
        "_max_frames",
        "_max_parts",
        "_new_demuxer",
        "_parts",
        "_relayed",
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
        self._codec: Codec | None = None  # known: frames are kept from each key frame on
        self._asleep = False  # kept only, not demultiplexed
        self._frame: list[bytes] = []  # chunks of the current frame already demultiplexed
        # (PS bytes, timestamp, complete frame) or _LOSS
        self._kept: list[tuple[bytes, int, bool] | None] = []
        self._kept_bytes = 0
        self._last_frame: tuple[bytes, int] | None = None  # before the codec was known
        self._relayed = False  # each frame's PS bytes come out too
        self._after_loss = False  # bytes were lost since the last frame kept

    @property
    def demuxer(self) -> PsDemuxer:
        return self._demuxer

    @property
    def is_asleep(self) -> bool:
        return self._asleep

    @property
    def is_relayed(self) -> bool:
        return self._relayed

    def set_codec(self, codec: Codec) -> tuple[PsFrame, ...]:
        """The stream started with `codec` (its first key frame just came out): keep its
        frames from that key frame on. Relayed: that key frame's PS bytes."""
        self._codec = codec
        if self._last_frame is not None:
            data, timestamp = self._last_frame
            self._last_frame = None
            if starts_keyframe(codec, data):
                self._forget()
                self._kept.append((data, timestamp, True))
                self._kept_bytes = len(data)
                if self._relayed:
                    return (PsFrame(data, timestamp, is_keyframe=True),)
        return _NO_PS

    def set_relayed(self, relayed: bool) -> list[PsFrame]:
        """Relays came (True) or all left. Coming, the kept GOP's PS frames are returned (what
        a new relay starts from), and each frame's PS bytes come out from then on."""
        self._relayed = relayed
        if not relayed:
            return []
        out: list[PsFrame] = []
        after_loss = False
        for entry in self._kept:  # the first one is a whole key frame (`_keep`)
            if entry is _LOSS:
                after_loss = True
                continue
            data, timestamp, complete = entry
            out.append(PsFrame(data, timestamp, not out, complete, after_loss))
            after_loss = False
        return out

    def take(
        self, payload: bytes | memoryview, timestamp: int, marker: bool
    ) -> Sequence[BatchOutput]:
        """One packet's payload, in order; the frames that completed (often none)."""
        out: Sequence[BatchOutput] = _NOTHING
        if self._parts and timestamp != self._timestamp:
            out = self._end(end=True)  # the next frame began: the previous one is over
        self._timestamp = timestamp
        self._parts.append(payload)
        if marker:
            return [*out, *self._end(end=True)] if out else self._end(end=True)
        if len(self._parts) >= self._max_parts:
            if not self._asleep:
                return [*out, *self._end(end=False)] if out else self._end(end=False)
            if len(self._parts) * _PAYLOAD > self._max_bytes:  # no frame is this long
                self._parts.clear()
                self._forget()
                self._after_loss = True
        return out

    def loss(self) -> Sequence[BatchOutput]:
        """Packets were lost here: demux what came before the gap, then resynchronise."""
        out = self._end(end=False, lost=True) if self._parts or self._frame else _NOTHING
        if self._kept:
            self._kept.append(_LOSS)
        self._after_loss = True
        if self._asleep:
            return out  # PS bytes before the gap, when relayed
        return [*out, *self._demuxer.mark_loss()]

    def sleep(self) -> None:
        """Nobody watches: from now on frames are only kept (once the codec is known)."""
        if self._codec is not None:
            self._asleep = True

    def wake(self) -> list[EsFrame]:
        """Somebody watches again: the kept GOP's frames, then demultiplexing as usual."""
        if not self._asleep:
            return []
        self._asleep = False
        self._demuxer = self._new_demuxer()
        self._frame = []
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
                units=self._units_per_part * (len(data) // _PAYLOAD + 1),
            )
        return out

    def _end(self, *, end: bool, lost: bool = False) -> Sequence[BatchOutput]:
        parts, self._parts = self._parts, []
        data = b""
        if parts:
            joined = parts[0] if len(parts) == 1 else b"".join(parts)
            data = bytes(joined) if type(joined) is not bytes else joined
        if self._asleep:
            return self._keep(data, complete=end) if data else _NOTHING
        out = (
            self._demuxer.feed(
                data,
                rtp_timestamp=self._timestamp,
                marker=end,
                units=self._units_per_part * len(parts),
            )
            if data or end
            else []
        )
        if data:
            self._frame.append(data)
        if (end or lost) and self._frame:
            frame = self._frame[0] if len(self._frame) == 1 else b"".join(self._frame)
            self._frame = []
            if self._codec is not None:
                relayed = self._keep(frame, complete=end)
                if relayed:
                    return [*out, *relayed]
            elif end:
                assert self._timestamp is not None
                self._last_frame = (frame, self._timestamp)
        return out

    def _keep(self, data: bytes, *, complete: bool) -> tuple[PsFrame, ...]:
        """Keep a frame's bytes for the GOP; relayed, they come back as a `PsFrame`."""
        assert self._codec is not None and self._timestamp is not None
        after_loss, self._after_loss = self._after_loss, False
        is_key = complete and starts_keyframe(self._codec, data)
        if is_key:
            self._forget()
        if is_key or self._kept:  # else no key frame yet to start a GOP from
            self._kept.append((data, self._timestamp, complete))
            self._kept_bytes += len(data)
            if len(self._kept) > self._max_frames or self._kept_bytes > self._max_bytes:
                self._forget()  # a GOP too long to replay: the next viewer waits for one
        if not self._relayed:
            return _NO_PS
        return (PsFrame(data, self._timestamp, is_key, complete, after_loss),)

    def _forget(self) -> None:
        self._kept.clear()
        self._kept_bytes = 0
