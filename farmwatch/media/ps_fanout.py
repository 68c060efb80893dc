"""A stream's PS outputs: the frames' PS bytes as received, fanned out to relays (STYLE B7).

Owns the `PsSink`s of one `Stream` (RTP relays to upper platforms, `relay/`) and their start:
the PS frames since the last whole key frame (`PsGopCache`), offered to a new sink at once,
as a new viewer is offered the stream's GOP. The stream decides when PS frames flow (its
source hands them over only while a PS sink is attached); this class offers each to every
sink. A sink that raises in `offer_ps` is detached and handed to `on_failed` (the stream
closes it alone: isolation boundary, STYLE B8).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from farmwatch.media.ps_frame import PsFrame, PsGopCache
from farmwatch.media.sink import PsSink

__all__ = ["PsFanOut"]

log = logging.getLogger(__name__)


class PsFanOut:
    """The PS sinks of one stream, by subscription ID; see the module docstring."""

    def __init__(
        self,
        label: str,
        *,
        max_frames: int,
        max_bytes: int,
        on_gone: Callable[[int, PsSink, bool], None],
    ) -> None:
        self._label = label
        self._sinks: dict[int, PsSink] = {}
        self._cache = PsGopCache(max_frames=max_frames, max_bytes=max_bytes)
        self._on_gone = on_gone
        """(subscription ID, sink, whether it failed): detach it (and close a failed one)."""

    @property
    def has_sinks(self) -> bool:
        return bool(self._sinks)

    @property
    def sink_count(self) -> int:
        return len(self._sinks)

    def cached_start(self) -> list[PsFrame]:
        """The PS frames since the last whole key frame (empty: wait for the next one)."""
        return self._cache.frames

    def attach(self, subscription_id: int, sink: PsSink) -> None:
        """Add `sink` and offer it the cached start."""
        self._sinks[subscription_id] = sink
        for frame in self._cache.frames:
            if not self._offer(subscription_id, sink, frame):
                break

    def detach(self, subscription_id: int) -> bool:
        """Remove a sink; False when it was not attached. The last one gone, the cache is
        emptied (PS frames stop flowing: it would go stale)."""
        if self._sinks.pop(subscription_id, None) is None:
            return False
        if not self._sinks:
            self._cache.clear()
        return True

    def offer(self, frame: PsFrame) -> bool:
        """Offer `frame` to every sink; True when one fell behind (drops up to a key frame)."""
        self._cache.add(frame)
        fell_behind = False
        for subscription_id, sink in list(self._sinks.items()):
            if self._offer(subscription_id, sink, frame) and not frame.is_keyframe:
                fell_behind |= sink.is_waiting_for_keyframe
        return fell_behind

    def end(self, reason: str) -> None:
        """The stream ended: every sink gets `end(reason)` and is detached."""
        sinks = list(self._sinks.items())
        self._sinks.clear()
        self._cache.clear()
        for subscription_id, sink in sinks:
            try:
                sink.end(reason)
            except Exception:
                log.exception("%s: PS sink %d failed to end", self._label, subscription_id)

    def _offer(self, subscription_id: int, sink: PsSink, frame: PsFrame) -> bool:
        """Offer one frame; False when the sink is gone (closed, or it raised)."""
        try:
            if sink.is_closed:
                self._on_gone(subscription_id, sink, False)
                return False
            sink.offer_ps(frame)
        except Exception:
            log.exception("%s: PS sink %d failed; detaching it", self._label, subscription_id)
            self._on_gone(subscription_id, sink, True)
            return False
        return True
