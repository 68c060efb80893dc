"""Request bodies: JSON read defensively (untrusted size and nesting)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput


async def json_object(request: web.Request, shape: str) -> dict[str, Any]:
    """The body as a JSON object, or `InvalidInput` saying `expected a JSON body {shape}`.

    The size is bounded by the application's `client_max_size` (413 beyond it).
    """
    try:
        body = await request.json()
    except (ValueError, RecursionError) as error:
        # json.loads raises RecursionError, not ValueError, on deeply nested input
        # ("[[[[..." a hundred thousand deep fits in the size bound).
        raise InvalidInput(f"expected a JSON body {shape}") from error
    if not isinstance(body, dict):
        raise InvalidInput(f"expected a JSON body {shape}")
    return body
