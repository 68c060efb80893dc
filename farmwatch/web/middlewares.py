"""The one place platform errors become HTTP statuses, always with a JSON body."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from farmwatch.platform.errors import (
    Conflict,
    DeviceOffline,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PlatformError,
    StreamFailed,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[PlatformError], int] = {
    InvalidInput: 400,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    DeviceOffline: 503,
    StreamFailed: 502,
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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PlatformError as error:
        return json_error(status_of(error), str(error))
    except web.HTTPException as error:
        if error.content_type == "application/json" or error.status < 400:
            raise
        return json_error(error.status, error.reason)
    except Exception:
        # Isolation boundary: one HTTP request.
        log.exception("error serving %s %s", request.method, request.path)
        return json_error(500, "internal error")
