"""The one place platform errors become HTTP statuses, always with a JSON body."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from farmwatch.platform.errors import (
    Conflict,
    ControlLocked,
    DeviceOffline,
    DeviceRefused,
    DeviceTimeout,
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    PlatformError,
    RateLimited,
    StreamFailed,
    TooLarge,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[PlatformError], int] = {
    InvalidInput: 400,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    DeviceOffline: 503,
    StreamFailed: 502,
    NotSupported: 501,
    DeviceTimeout: 504,
    DeviceRefused: 502,
    RateLimited: 429,
    TooLarge: 413,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def status_of(error: PlatformError) -> int:
    """The status of `error`'s class, or of the nearest class it derives from (a
    `PasswordRejected` is an `InvalidInput`)."""
    for kind in type(error).__mro__:
        status = STATUS_OF.get(kind)
        if status is not None:
            return status
    return 500


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _error_response(error: PlatformError) -> web.Response:
    """The JSON error; a rate limit adds `Retry-After`, a held camera says who holds it."""
    if isinstance(error, ControlLocked):
        body = {"error": str(error), "holder": error.holder,
                "seconds_left": round(error.seconds_left, 1)}  # fmt: skip
        return web.json_response(body, status=409)
    response = json_error(status_of(error), str(error))
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PlatformError as error:
        return _error_response(error)
    except web.HTTPException as error:
        if error.content_type == "application/json" or error.status < 400:
            raise
        return json_error(error.status, error.reason)
    except Exception:
        # Isolation boundary: one HTTP request.
        log.exception("error serving %s %s", request.method, request.path)
        return json_error(500, "internal error")
