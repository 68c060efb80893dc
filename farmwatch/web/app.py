"""The aiohttp application: the REST API under /api, the login and live pages, metrics and
the health check, every route behind the authorisation middleware and its route rules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

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
from farmwatch.web.authorization import authorization_middleware, check_route_rules, routes_of
from farmwatch.web.housekeeping import AccessHousekeeping
from farmwatch.web.keys import (
    ACCESS,
    ALARMS,
    ANOMALIES,
    AUDIT,
    BROADCASTS,
    CAMERA_TREE,
    CLIP_SERVICE,
    DEVICE_CONTROL,
    DEVICE_SERVICE,
    DEVICE_SNAPSHOTS,
    DIAGNOSIS,
    DOWNLOAD_SERVICE,
    FARM_REGISTER,
    FAULTS,
    HEALTH,
    LIVE_SERVICE,
    METRICS,
    MONITORING,
    OPENAPI_JSON,
    OVERVIEW,
    PLATFORM_RECORDING,
    PLAYBACK_SERVICE,
    POSITIONS,
    RECORD_SEARCH,
    SCHEDULE,
    SPOT_CHECKS,
    UPPER_LINKS,
    UPPER_SHARES,
    HealthCheck,
)
from farmwatch.web.middlewares import error_middleware, json_error
from farmwatch.web.openapi.document import build_document, check_operations
from farmwatch.web.route_rules import ROUTE_RULES, RouteKey, Rule, Target
from farmwatch.web.routes import (
    accounts,
    alarms,
    anomalies,
    apidocs,
    audit,
    broadcast,
    cameras,
    control,
    device_snapshots,
    device_state,
    devices,
    diagnosis,
    farms,
    faults,
    health,
    live,
    metrics,
    monitoring,
    organisations,
    overview,
    pages,
    playback,
    positions,
    recordings,
    records,
    session,
    spot_checks,
    tokens,
    uppers,
)
from farmwatch.web.security import HostPolicy, host_and_origin_middleware

# Bodies are small JSON (an SDP offer is a few KiB). aiohttp reads the bound from the
# application that made the request, the outer one, so both carry it.
MAX_BODY = 256 * 1024


async def _not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no such endpoint: {request.method} {request.path}")


@dataclass(frozen=True, slots=True)
class WebAccess:
    """Who may use the web server: the access services, the audit trail, the health check."""

    access: AccessServices
    audit: AuditLog
    health: HealthCheck


@dataclass(frozen=True, slots=True)
class WebServices:
    """The platform services the API calls."""

    devices: DeviceService
    live: LiveService
    record_search: RecordSearchService
    playback: PlaybackService
    downloads: DownloadService
    clips: ClipService
    recording: PlatformRecording
    uppers: UpperLinksView
    shares: UpperShares = field(kw_only=True)
    """What each upper may see (`/api/uppers/{name}/share`)."""
    control: DeviceControlService
    access: WebAccess
    cameras: CameraTree
    """The console's tree and each camera's key area and location number."""
    alarms: AlarmService = field(kw_only=True)
    """Alarms devices reported (`/api/alarms`)."""
    positions: PositionService = field(kw_only=True)
    """Mobile devices' tracks (`/api/devices/{id}/track`)."""
    monitoring: MonitoringService = field(kw_only=True)
    """Monitoring records with the key areas' checklists (`/api/monitoring-records`)."""
    schedule: ScheduleService = field(kw_only=True)
    """The supervision schedule (`/api/supervision/schedule`)."""
    farms: FarmRegister = field(kw_only=True)
    """The farm register (`/api/farms`)."""
    faults: FaultService = field(kw_only=True)
    """Fault tickets (`/api/faults`; regulation art. 19)."""
    anomalies: AnomalyService = field(kw_only=True)
    """Anomalies, their evidence, rectification and cases (`/api/anomalies`)."""
    spot_checks: SpotCheckService = field(kw_only=True)
    """Random spot checks (`/api/spot-checks`)."""
    overview: OverviewService = field(kw_only=True)
    """The supervision overview (`/api/overview`)."""
    diagnosis: DiagnosisService = field(kw_only=True)
    """Video quality diagnosis (`/api/diagnosis`, `/api/channels/{id}/diagnosis`)."""
    device_snapshots: DeviceSnapshotService = field(kw_only=True)
    """Pictures cameras took on request and uploaded (`/api/channels/{id}/device-snapshots`)."""
    broadcasts: BroadcastService = field(kw_only=True)
    """Voice broadcast to cameras (`/api/channels/{id}/broadcast`, `/api/broadcast/...`)."""


def create_api_app(services: WebServices) -> web.Application:
    api = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    api[DEVICE_SERVICE] = services.devices
    api[LIVE_SERVICE] = services.live
    api[RECORD_SEARCH] = services.record_search
    api[PLAYBACK_SERVICE] = services.playback
    api[DOWNLOAD_SERVICE] = services.downloads
    api[CLIP_SERVICE] = services.clips
    api[PLATFORM_RECORDING] = services.recording
    api[UPPER_LINKS] = services.uppers
    api[UPPER_SHARES] = services.shares
    api[DEVICE_CONTROL] = services.control
    api[ACCESS] = services.access.access
    api[AUDIT] = services.access.audit
    api[CAMERA_TREE] = services.cameras
    api[ALARMS] = services.alarms
    api[POSITIONS] = services.positions
    api[MONITORING] = services.monitoring
    api[SCHEDULE] = services.schedule
    api[FARM_REGISTER] = services.farms
    api[FAULTS] = services.faults
    api[ANOMALIES] = services.anomalies
    api[SPOT_CHECKS] = services.spot_checks
    api[OVERVIEW] = services.overview
    api[DIAGNOSIS] = services.diagnosis
    api[DEVICE_SNAPSHOTS] = services.device_snapshots
    api[BROADCASTS] = services.broadcasts
    for feature in (
        session, devices, live, records, playback, recordings, uppers, control, device_state,
        accounts,
        organisations, tokens, audit, cameras, alarms, positions, monitoring, farms, faults,
        anomalies, spot_checks, diagnosis, device_snapshots, broadcast, overview,
    ):  # fmt: skip
        api.add_routes(feature.routes)
    api.add_routes(apidocs.routes)
    return api


def create_web_app(
    services: WebServices,
    hosts: HostPolicy,
    platform_metrics: PlatformMetrics,
    *,
    rules: Mapping[RouteKey, Rule] = ROUTE_RULES,
) -> web.Application:
    """The whole web server; `hosts` says which Host and Origin headers it accepts, `rules`
    who may call each route (`RouteTableError` when a route has none; `OpenApiError` when
    a route has no OpenAPI operation)."""
    web_access = services.access
    app = web.Application(
        middlewares=[
            host_and_origin_middleware(hosts),
            authorization_middleware(
                web_access.access,
                web_access.audit,
                rules,
                # Looked up per request: the stand-in services of the route tests hold none.
                farm_of={Target.ANOMALY: lambda anomaly: services.anomalies.farm_of(anomaly)},
            ),  # fmt: skip
            error_middleware,
        ],
        client_max_size=MAX_BODY,
    )
    app[METRICS] = platform_metrics
    app[HEALTH] = web_access.health
    app[MONITORING] = services.monitoring  # the printable records page is outside /api
    api = create_api_app(services)
    app.add_subapp("/api", api)
    app.add_routes(metrics.routes)
    app.add_routes(health.routes)
    app.add_routes(pages.routes)
    app.add_routes(monitoring.print_routes)
    app.router.add_route("*", "/api/{tail:.*}", _not_found)
    check_route_rules(app, rules)
    check_operations(routes_of(app))
    api[OPENAPI_JSON] = json.dumps(build_document(rules), ensure_ascii=False).encode()
    housekeeping = AccessHousekeeping(
        web_access.access, web_access.audit, services.live, services.playback,
        services.record_search, services.broadcasts,
    )  # fmt: skip
    app.cleanup_ctx.append(housekeeping.context)
    return app
