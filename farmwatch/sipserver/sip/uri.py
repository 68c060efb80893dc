"""SIP and tel URIs (RFC 3261 §19.1), parsed leniently and printed canonically.

GB/T 28181 peers put IDs in the user part and a domain, an IP or `IP:port` in the
host part; anything else (tel:, sips:) is kept verbatim so it can be echoed back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.syntax import read_port


@dataclass(frozen=True, slots=True)
class SipUri:
    """`scheme:user:password@host:port;params?headers`; params keep their order."""

    host: str
    user: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: tuple[tuple[str, str | None], ...] = field(default=())
    password: str | None = None
    headers: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        raw = text.strip()
        scheme, sep, rest = raw.partition(":")
        if not sep or not scheme:
            raise RemoteProtocolError(f"URI without scheme: {raw!r}", can_answer=True)
        scheme = scheme.lower()
        headers: str | None = None
        if "?" in rest:
            rest, headers = rest.split("?", 1)
        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, rest = rest.rsplit("@", 1)
            user, _, pw = userinfo.partition(":")
            password = pw if _ else None
        hostport, *param_parts = rest.split(";")
        host, port = _split_hostport(hostport, raw)
        params = tuple(_split_param(p) for p in param_parts if p)
        return cls(
            host=host,
            user=user,
            port=port,
            scheme=scheme,
            params=params,
            password=password,
            headers=headers,
        )

    def param(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.params:
            if key.lower() == lname:
                return value
        return None

    def has_param(self, name: str) -> bool:
        lname = name.lower()
        return any(key.lower() == lname for key, _ in self.params)

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        for key, value in self.params:
            out.append(f";{key}" if value is None else f";{key}={value}")
        if self.headers is not None:
            out.append("?" + self.headers)
        return "".join(out)


def uri_host(host: str) -> str:
    """`host` as the host part of a SIP URI or a Via's sent-by: an IPv6 address as a
    bracketed reference (RFC 3261 §25.1, `IPv6reference`); anything else as it is."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def contact_uri(user: str, host: str, port: int) -> str:
    """`<sip:user@host:port>`, the Contact a request or response of ours carries."""
    return f"<sip:{user}@{uri_host(host)}:{port}>"


def _split_hostport(hostport: str, raw: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise RemoteProtocolError(f"bad IPv6 reference in URI {raw!r}", can_answer=True)
        host, tail = hostport[: end + 1], hostport[end + 1 :]
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise RemoteProtocolError(f"URI without host: {raw!r}", can_answer=True)
    if not port_text:
        return host, None
    port = read_port(port_text)
    if port is None:
        raise RemoteProtocolError(f"bad port in URI {raw!r}", can_answer=True)
    return host, port


def _split_param(part: str) -> tuple[str, str | None]:
    key, sep, value = part.partition("=")
    return (key.strip(), value.strip() if sep else None)
