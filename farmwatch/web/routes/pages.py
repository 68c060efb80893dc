"""The HTML pages served beside the API: the login page (public) and the live test page
(signed in; an anonymous browser is sent to the login page and comes back after it)."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()

STATIC = resources.files("farmwatch.web") / "static"
# The pages are never framed by another site (clickjacking) and their type is not guessed.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


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
