"""The HTML pages served beside the API: the login page (public), the console (signed in;
an anonymous browser is sent to the login page and comes back after it) with its assets,
and the one-camera live test page."""

from __future__ import annotations

import re
from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()

STATIC = resources.files("farmwatch.web") / "static"
CONSOLE = STATIC / "console"
# The pages are never framed by another site (clickjacking) and their type is not guessed.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# The console runs only its own files: no inline script or style, nothing from another
# site (the watermark and the data are the console's, never a third party's).
CONSOLE_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
}
_ASSET = re.compile(r"[a-z0-9-]{1,40}\.(js|css|svg)")
_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}


def _page(name: str) -> web.Response:
    return web.Response(
        text=(STATIC / name).read_text("utf-8"), content_type="text/html", headers=PAGE_HEADERS
    )


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return _page("login.html")


@routes.get("/live")
async def live_page(request: web.Request) -> web.Response:
    return _page("live.html")


@routes.get("/")
async def console_page(request: web.Request) -> web.Response:
    text = (CONSOLE / "index.html").read_text("utf-8")
    return web.Response(text=text, content_type="text/html", headers=CONSOLE_HEADERS)


@routes.get("/console/{name}")
async def console_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    found = _ASSET.fullmatch(name)
    asset = CONSOLE / name
    if found is None or not asset.is_file():
        raise web.HTTPNotFound(text="no such file")
    return web.Response(
        text=asset.read_text("utf-8"),
        content_type=_TYPES[found.group(1)],
        # Revalidated on each load: a new release's console is never mixed with an old one.
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
