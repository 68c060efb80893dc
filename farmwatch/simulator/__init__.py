"""Device simulator: simulated GB/T 28181 cameras that register, answer and stream PS.

This package re-exports the media side (gb28181.md §8): the generated test picture encoded once
per spec (`MediaCache`, `TestPatternSpec`, `EncodedLoop`) and the pure pacing of one stream over
the cached loop (`FrameScheduler`). The platform never imports this package (import-linter).
"""

from __future__ import annotations

from farmwatch.simulator.frame_scheduler import DueFrame, FrameScheduler
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.test_pattern import (
    EncodedFrame,
    EncodedLoop,
    TestPatternError,
    TestPatternSpec,
    VideoCodec,
    encode_test_pattern,
)

__all__ = [
    "DueFrame",
    "EncodedFrame",
    "EncodedLoop",
    "FrameScheduler",
    "MediaCache",
    "TestPatternError",
    "TestPatternSpec",
    "VideoCodec",
    "encode_test_pattern",
]
