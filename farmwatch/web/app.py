"""The aiohttp application: the REST API under /api and the live page."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from farmwatch.platform.observability import PlatformMetrics
from farmwatch.platform.recordings.clip_service import ClipService
from farmwatch.platform.recordings.download_service import DownloadService
from farmwatch.platform.recordings.platform_recording import PlatformRecording
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.recordings.record_search import RecordSearchService
from farmwatch.platform.services.device_control_service import DeviceControlService
from farmwatch.platform.services.device_service import DeviceService
from farmwatch.platform.services.live_service import LiveService
from farmwatch.platform.uppers import UpperLinksView
from farmwatch.web.keys import (
    CLIP_SERVICE,
    DEVICE_CONTROL,
    DEVICE_SERVICE,
    DOWNLOAD_SERVICE,
    LIVE_SERVICE,
    METRICS,
    PLATFORM_RECORDING,
    PLAYBACK_SERVICE,
    RECORD_SEARCH,
    UPPER_LINKS,
)
from farmwatch.web.middlewares import error_middleware, json_error
from farmwatch.web.routes import (
    control,
    devices,
    live,
    metrics,
    playback,
    recordings,
    records,
    uppers,
)
from farmwatch.web.security import HostPolicy, host_and_origin_middleware

STATIC = resources.files("farmwatch.web") / "static"
# Bodies are small JSON (an SDP offer is a few KiB). aiohttp reads the bound from the
# application that made the request, the outer one, so both carry it.
MAX_BODY = 256 * 1024


async def _not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no such endpoint: {request.method} {request.path}")


async def _live_page(request: web.Request) -> web.Response:
    return web.Response(text=(STATIC / "live.html").read_text("utf-8"), content_type="text/html")


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
    control: DeviceControlService


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
    api[DEVICE_CONTROL] = services.control
    api.add_routes(devices.routes)
    api.add_routes(live.routes)
    api.add_routes(records.routes)
    api.add_routes(playback.routes)
    api.add_routes(recordings.routes)
    api.add_routes(uppers.routes)
    api.add_routes(control.routes)
    return api


def create_web_app(
    services: WebServices, hosts: HostPolicy, platform_metrics: PlatformMetrics
) -> web.Application:
    """The whole web server; `hosts` says which Host and Origin headers it accepts."""
    app = web.Application(
        middlewares=[host_and_origin_middleware(hosts), error_middleware],
        client_max_size=MAX_BODY,
    )
    app[METRICS] = platform_metrics
    app.add_subapp("/api", create_api_app(services))
    app.add_routes(metrics.routes)
    app.router.add_route("*", "/api/{tail:.*}", _not_found)
    app.router.add_get("/live", _live_page)
    return app
