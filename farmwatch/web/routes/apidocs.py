"""The API's description: `GET /api/openapi.json` (written when the application is built,
`farmwatch.web.openapi`) and `GET /api/docs`, a page that shows it with its own code (no
renderer fetched from elsewhere)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from aiohttp import web

from farmwatch.web.keys import OPENAPI_JSON

routes = web.RouteTableDef()

_PAGE = (resources.files("farmwatch.web.openapi") / "docs.html").read_text("utf-8")


def _hashes(tag: str) -> str:
    """CSP sources allowing exactly the page's own inline `tag` blocks."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", _PAGE, re.DOTALL)
    digests = (hashlib.sha256(block.encode()).digest() for block in blocks)
    return " ".join(f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests)


DOCS_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {_hashes('script')}; style-src {_hashes('style')}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


@routes.get("/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_JSON], content_type="application/json")


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html", headers=DOCS_HEADERS)
