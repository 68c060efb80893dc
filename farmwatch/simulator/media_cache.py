"""Encode-once cache of the simulator's test-pattern loops, shared by every stream.

Owns the rule that a loop is encoded once per `TestPatternSpec` (channel, codec, size, fps,
bitrate, GOP, loop length) and then shared: every stream of that channel replays the same
`EncodedLoop` (gb28181.md §8.3: the loop already holds each frame's PS packet, so a stream only
re-stamps and packetises). Thread-safe; the encoding runs in the calling thread (the simulator
calls `get` through `asyncio.to_thread`), and concurrent callers asking for the same spec wait
for one encode instead of starting their own. The cache is bounded (least recently used out).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from farmwatch.simulator.test_pattern import EncodedLoop, TestPatternSpec, encode_test_pattern

__all__ = ["MediaCache"]

LoopEncoder = Callable[[TestPatternSpec], EncodedLoop]


class MediaCache:
    """Maps a spec to its encoded loop, encoding on first use.

    `encode_count` counts the encodes actually run (tests and metrics use it).
    """

    def __init__(self, encoder: LoopEncoder = encode_test_pattern, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: expected >= 1, got {max_entries}")
        self._encoder = encoder
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._loops: OrderedDict[TestPatternSpec, EncodedLoop] = OrderedDict()
        self._encoding: dict[TestPatternSpec, threading.Lock] = {}
        self._encode_count = 0

    @property
    def encode_count(self) -> int:
        return self._encode_count

    def __len__(self) -> int:
        with self._lock:
            return len(self._loops)

    def get(self, spec: TestPatternSpec) -> EncodedLoop:
        """The loop for `spec`, encoding it now (in this thread) if nobody has yet."""
        cached = self._lookup(spec)
        if cached is not None:
            return cached
        with self._lock:
            spec_lock = self._encoding.setdefault(spec, threading.Lock())
        with spec_lock:
            cached = self._lookup(spec)
            if cached is not None:
                return cached
            loop: EncodedLoop | None = None
            try:
                loop = self._encoder(spec)
            finally:
                with self._lock:
                    if loop is not None:
                        self._store(spec, loop)
                    self._encoding.pop(spec, None)
            return loop

    def _store(self, spec: TestPatternSpec, loop: EncodedLoop) -> None:
        """Insert under `self._lock`, before the spec's encode lock is released."""
        self._encode_count += 1
        self._loops[spec] = loop
        while len(self._loops) > self._max_entries:
            self._loops.popitem(last=False)

    def _lookup(self, spec: TestPatternSpec) -> EncodedLoop | None:
        with self._lock:
            loop = self._loops.get(spec)
            if loop is not None:
                self._loops.move_to_end(spec)
            return loop
