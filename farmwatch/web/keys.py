"""Typed keys for what the aiohttp application holds (no string keys)."""

from __future__ import annotations

from aiohttp import web

from farmwatch.platform.observability import PlatformMetrics
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.recordings.record_search import RecordSearchService
from farmwatch.platform.services.device_service import DeviceService
from farmwatch.platform.services.live_service import LiveService

DEVICE_SERVICE = web.AppKey("device_service", DeviceService)
LIVE_SERVICE = web.AppKey("live_service", LiveService)
METRICS = web.AppKey("metrics", PlatformMetrics)
RECORD_SEARCH = web.AppKey("record_search", RecordSearchService)
PLAYBACK_SERVICE = web.AppKey("playback_service", PlaybackService)
