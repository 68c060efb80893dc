"""Observability of one platform process: event-loop lag and the Prometheus metrics."""

from farmwatch.platform.observability.loop_lag import (
    LoopLagMonitor,
    LoopLagStats,
    LoopLagTracker,
)
from farmwatch.platform.observability.metrics import CONTENT_TYPE, MetricSources, PlatformMetrics

__all__ = [
    "CONTENT_TYPE",
    "LoopLagMonitor",
    "LoopLagStats",
    "LoopLagTracker",
    "MetricSources",
    "PlatformMetrics",
]
