"""Backpressure from a stream's sinks to its source: which sinks hold it, and whether it is held.

Owns the opt-in exception to STYLE B7's "a slow viewer never slows the source": a sink that
must lose nothing (a download at 4×; field-notes §1.4 "apply backpressure, not drops, at
4×", ZLMediaKit's `enable_origin_recv_limit`) is attached with `backpressure=True`. When its
queue is over its high-water mark the stream's source is held — a TCP receiver stops reading,
so the device's sending blocks on the full TCP window — and released once the sink's consumer
drained it to its low-water mark (`QueuedSink.is_over_high_water`, `call_when_drained`). The
source stays held while any such sink is over. UDP cannot be held: there the sink's bounded
queue is all there is. Pure bookkeeping: the stream says when frames were offered, and
`set_held` is told of each change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["BackpressureSink", "SourceHold"]


@runtime_checkable
class BackpressureSink(Protocol):
    """What a sink attached with backpressure offers (`QueuedSink` does)."""

    @property
    def is_over_high_water(self) -> bool: ...

    def call_when_drained(self, callback: Callable[[], None]) -> None:
        """Call `callback` once when the queue is down to the low-water mark (or at the end)."""
        ...


class SourceHold:
    """The backpressure sinks of one stream (by subscription ID); see the module docstring."""

    __slots__ = ("_holding", "_set_held", "_sinks", "holds")

    def __init__(self, set_held: Callable[[bool], None]) -> None:
        self._set_held = set_held
        self._sinks: dict[int, BackpressureSink] = {}
        self._holding: set[int] = set()
        self.holds = 0
        """Times the source was held."""

    @property
    def has_sinks(self) -> bool:
        return bool(self._sinks)

    @property
    def is_held(self) -> bool:
        return bool(self._holding)

    def add(self, key: int, sink: BackpressureSink) -> None:
        self._sinks[key] = sink

    def remove(self, key: int) -> None:
        """The sink left: it holds nothing any more."""
        if self._sinks.pop(key, None) is not None:
            self._release(key)

    def clear(self) -> None:
        for key in list(self._sinks):
            self.remove(key)

    def frames_offered(self) -> None:
        """Frames were offered: hold the source for every sink now over its high water."""
        for key, sink in self._sinks.items():
            if key not in self._holding and sink.is_over_high_water:
                self._holding.add(key)
                if len(self._holding) == 1:
                    self.holds += 1
                    self._set_held(True)
                sink.call_when_drained(functools.partial(self._release, key))

    def _release(self, key: int) -> None:
        if key in self._holding:
            self._holding.discard(key)
            if not self._holding:
                self._set_held(False)
