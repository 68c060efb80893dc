"""Who may talk to the web server: the `Host` it answers to and the pages that may change state.

Until logins exist, this is all that stands between a web page open in the operator's
browser and the cameras. Two attacks are closed:

* DNS rebinding: a page on `evil.example` has its name re-pointed at 127.0.0.1 and then
  reads and drives our API as its own origin. The browser still sends `Host:
  evil.example`, so a request whose Host names anything but this server is refused (400).
  The server answers to the names in `HostPolicy.names` (its own address, localhost,
  loopback, `[web] allowed_hosts`) and to any IP address: rebinding needs a name, and
  an IP literal in Host means the browser connected to exactly that address.
* Cross-site requests: any page may make the browser POST a form or a `fetch` to us
  (without reading the answer). Such requests carry an `Origin` header; a POST, PUT,
  PATCH or DELETE whose Origin is neither this server (same host and port as the Host
  header; the scheme is not compared, so a TLS-terminating proxy in front works) nor one
  of `[web] allowed_origins` is refused (403). Requests without Origin (curl, scripts,
  same-origin GETs) are not affected.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from farmwatch.web.middlewares import Handler, json_error

__all__ = ["HostPolicy", "host_and_origin_middleware"]

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")
_NOT_IN_HOST = re.compile(r"[@/\\?#\s]")


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Host names answered to (lower case, IPv6 without brackets) and extra origins."""

    names: frozenset[str]
    origins: frozenset[str]
    any_host: bool = False

    @classmethod
    def build(
        cls, listen_host: str, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]
    ) -> HostPolicy:
        """From `[web] host`, `allowed_hosts` and `allowed_origins`."""
        allowed = list(allowed_hosts)
        names = {*LOOPBACK_NAMES, *(_name(host) for host in allowed if host != "*")}
        if listen_host not in _WILDCARD_HOSTS:
            names.add(_name(listen_host))
        origins = frozenset(
            origin for origin in (_origin(text) for text in allowed_origins) if origin
        )
        return cls(frozenset(names), origins, any_host="*" in allowed)

    def allows_host(self, name: str) -> bool:
        return self.any_host or name in self.names or _is_ip_address(name)


def host_and_origin_middleware(policy: HostPolicy) -> Middleware:
    """Refuse foreign Host headers (400) and cross-origin state changes (403)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if host is not None:
            refusal = _host_refusal(policy, host)
            if refusal is not None:
                return json_error(400, refusal)
        origin = request.headers.get("Origin")
        if request.method in STATE_CHANGING and origin is not None:
            normalized = _origin(origin)
            if normalized is None or not (
                normalized in policy.origins or _same_origin(normalized, host)
            ):
                return json_error(
                    403,
                    f"{request.method} from the page {origin[:100]!r} refused: not this "
                    "server's origin nor one of [web] allowed_origins",
                )
        return await handler(request)

    return middleware


def _host_refusal(policy: HostPolicy, host: str) -> str | None:
    if _NOT_IN_HOST.search(host):  # userinfo, a path: never what a browser sends
        return f"malformed Host header {host[:100]!r}"
    try:
        parts = urlsplit(f"//{host}")
        name, _ = parts.hostname, parts.port  # .port raises on a malformed port
    except ValueError:
        return f"malformed Host header {host[:100]!r}"
    if not name:
        return f"malformed Host header {host[:100]!r}"
    if not policy.allows_host(name.rstrip(".")):
        return f"this server does not answer to {name[:100]!r} (see [web] allowed_hosts)"
    return None


def _name(host: str) -> str:
    """A configured host name or address as compared: lower case, IPv6 without brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _origin(text: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port; None if not one."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _same_origin(origin: str, host: str | None) -> bool:
    """The page's origin names the host and port the request was sent to (its Host)."""
    if host is None:
        return False
    page = urlsplit(origin)
    try:
        target = urlsplit(f"//{host}")
        target_port = target.port
    except ValueError:
        return False
    default = _DEFAULT_PORTS[page.scheme]
    return (page.hostname or "") == (target.hostname or "").rstrip(".") and (
        page.port or default
    ) == (target_port or default)
