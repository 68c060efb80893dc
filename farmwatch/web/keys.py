"""Typed keys for what the aiohttp application holds (no string keys)."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from farmwatch.platform.access import AccessServices
from farmwatch.platform.audit import AuditLog
from farmwatch.platform.cameras import CameraTree
from farmwatch.platform.observability import PlatformMetrics
from farmwatch.platform.recordings.clip_service import ClipService
from farmwatch.platform.recordings.download_service import DownloadService
from farmwatch.platform.recordings.platform_recording import PlatformRecording
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.recordings.record_search import RecordSearchService
from farmwatch.platform.services.alarm_service import AlarmService
from farmwatch.platform.services.broadcast_service import BroadcastService
from farmwatch.platform.services.device_control_service import DeviceControlService
from farmwatch.platform.services.device_service import DeviceService
from farmwatch.platform.services.device_snapshot_service import DeviceSnapshotService
from farmwatch.platform.services.live_service import LiveService
from farmwatch.platform.services.position_service import PositionService
from farmwatch.platform.sharing.upper_shares import UpperShares
from farmwatch.platform.supervision.anomalies.service import AnomalyService
from farmwatch.platform.supervision.diagnosis import DiagnosisService
from farmwatch.platform.supervision.farms import FarmRegister
from farmwatch.platform.supervision.faults.service import FaultService
from farmwatch.platform.supervision.monitoring_service import MonitoringService
from farmwatch.platform.supervision.overview_service import OverviewService
from farmwatch.platform.supervision.schedule_service import ScheduleService
from farmwatch.platform.supervision.spot_checks.service import SpotCheckService
from farmwatch.platform.uppers import UpperLinksView

DEVICE_SERVICE = web.AppKey("device_service", DeviceService)
DEVICE_CONTROL = web.AppKey("device_control", DeviceControlService)
ALARMS = web.AppKey("alarms", AlarmService)
BROADCASTS = web.AppKey("broadcasts", BroadcastService)
POSITIONS = web.AppKey("positions", PositionService)
FAULTS = web.AppKey("faults", FaultService)
ANOMALIES = web.AppKey("anomalies", AnomalyService)
DIAGNOSIS = web.AppKey("diagnosis", DiagnosisService)
DEVICE_SNAPSHOTS = web.AppKey("device_snapshots", DeviceSnapshotService)
LIVE_SERVICE = web.AppKey("live_service", LiveService)
METRICS = web.AppKey("metrics", PlatformMetrics)
RECORD_SEARCH = web.AppKey("record_search", RecordSearchService)
PLAYBACK_SERVICE = web.AppKey("playback_service", PlaybackService)
DOWNLOAD_SERVICE = web.AppKey("download_service", DownloadService)
CLIP_SERVICE = web.AppKey("clip_service", ClipService)
PLATFORM_RECORDING = web.AppKey("platform_recording", PlatformRecording)
UPPER_LINKS: web.AppKey[UpperLinksView] = web.AppKey("upper_links")
UPPER_SHARES = web.AppKey("upper_shares", UpperShares)
ACCESS = web.AppKey("access", AccessServices)
AUDIT = web.AppKey("audit", AuditLog)
CAMERA_TREE = web.AppKey("camera_tree", CameraTree)
MONITORING = web.AppKey("monitoring", MonitoringService)
SCHEDULE = web.AppKey("schedule", ScheduleService)
FARM_REGISTER = web.AppKey("farm_register", FarmRegister)
SPOT_CHECKS = web.AppKey("spot_checks", SpotCheckService)
OVERVIEW = web.AppKey("overview", OverviewService)
OPENAPI_JSON = web.AppKey("openapi_json", bytes)
"""The OpenAPI document, written once when the application is built."""


class HealthCheck(Protocol):
    """What `/healthz` asks: whether the database answers."""

    async def ping(self) -> bool: ...


HEALTH = web.AppKey("health", HealthCheck)
