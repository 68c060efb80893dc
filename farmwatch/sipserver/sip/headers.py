"""SIP header block and the typed header values the stack relies on (RFC 3261 §7.3, §20).

`Headers` is an immutable, ordered list of `(name, value)` pairs with case-insensitive
lookup. Names are stored in their canonical spelling (compact forms such as `v` or `i`
expanded), values verbatim, so a parsed message serialises back to what it said.
`Via`, `NameAddress` and `CSeq` parse the values the transaction and dialog layers need.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.syntax import is_number, read_port
from farmwatch.sipserver.sip.uri import SipUri

COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
}

_WELL_KNOWN = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "MIME-Version",
    "Organization",
    "Priority",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "Reason",
    "Record-Route",
    "Reply-To",
    "Require",
    "Retry-After",
    "Route",
    "Server",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
    "X-GB-Ver",
)
_CANONICAL: dict[str, str] = {name.lower(): name for name in _WELL_KNOWN}

# sent-protocol SP sent-by, with the linear whitespace RFC 3261 §25.1 allows around each
# SLASH (RFC 4475 wsinv): "SIP / 2.0 / UDP host:port".
_SENT_PROTOCOL = re.compile(r"\s*([^/\s]+)\s*/\s*[^/\s]+\s*/\s*([^/\s]+)\s+(\S.*?)\s*", re.DOTALL)

# Headers whose comma-separated values are separate entries (RFC 3261 §7.3.1); the
# parser splits these so that, e.g., the top Via is always `get("Via")`.
LIST_HEADERS = frozenset({"via", "route", "record-route"})


@functools.lru_cache(maxsize=4096)  # header names are peer-chosen: the cache is bounded
def _lower_name(name: str) -> str:
    return sys.intern(name.lower())


def canonical_name(name: str) -> str:
    """`v` → `Via`, `call-id` → `Call-ID`; unknown names keep the sender's spelling."""
    stripped = name.strip()
    lower = stripped.lower()
    if len(lower) == 1 and lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, stripped)


@dataclass(frozen=True, slots=True)
class Headers:
    """Ordered header fields; lookup ignores case, order and duplicates are kept."""

    items: tuple[tuple[str, str], ...] = ()
    # The names lower-cased, as shared (interned) strings: lookups compare these instead of
    # lower-casing every name on every read, for ~100 bytes a message (a per-message dict
    # index cost over a kilobyte, and messages live 32 s in their transactions).
    _lower: tuple[str, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lower", tuple(_lower_name(key) for key, _ in self.items))

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Headers:
        return cls(tuple((canonical_name(k), v) for k, v in pairs))

    def get(self, name: str) -> str | None:
        """The first value of `name`, or None."""
        lname = _lower_name(name)
        for index, key in enumerate(self._lower):
            if key is lname or key == lname:
                return self.items[index][1]
        return None

    def get_all(self, name: str) -> list[str]:
        lname = _lower_name(name)
        return [self.items[i][1] for i, key in enumerate(self._lower) if key == lname]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, name: str, value: str) -> Headers:
        return Headers((*self.items, (canonical_name(name), value)))

    def prepend(self, name: str, value: str) -> Headers:
        return Headers(((canonical_name(name), value), *self.items))

    def remove(self, name: str) -> Headers:
        lname = name.lower()
        return Headers(tuple((k, v) for k, v in self.items if k.lower() != lname))

    def replace_first(self, name: str, value: str) -> Headers:
        """Replace only the first `name` field (e.g. the top Via), keeping the others."""
        lname = name.lower()
        out = list(self.items)
        for index, (key, _) in enumerate(out):
            if key.lower() == lname:
                out[index] = (key, value)
                return Headers(tuple(out))
        return self.add(name, value)

    def set(self, name: str, value: str) -> Headers:
        """Replace every `name` field by one with `value`, at the first one's place."""
        lname = name.lower()
        out: list[tuple[str, str]] = []
        placed = False
        for key, old in self.items:
            if key.lower() != lname:
                out.append((key, old))
            elif not placed:
                out.append((key, value))
                placed = True
        if not placed:
            out.append((canonical_name(name), value))
        return Headers(tuple(out))


def split_params(text: str) -> tuple[str, tuple[tuple[str, str | None], ...]]:
    """Split `value;a=1;b` into the value and its parameters, honouring quotes."""
    parts = split_outside_quotes(text, ";")
    params = []
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if key.strip():
            params.append((key.strip(), value.strip() if sep else None))
    return parts[0].strip(), tuple(params)


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on `separator` except inside double quotes or angle brackets."""
    if '"' not in text and "<" not in text:
        return text.split(separator)  # the common case, at C speed
    out: list[str] = []
    start = 0
    in_quotes = False
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and in_quotes:
            i += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char == "<":
            depth += 1
        elif not in_quotes and char == ">" and depth:
            depth -= 1
        elif char == separator and not in_quotes and not depth:
            out.append(text[start:i])
            start = i + 1
        i += 1
    out.append(text[start:])
    return out


def _find_outside_quotes(text: str, char: str) -> int:
    """The index of the first `char` outside double quotes (a display name), or -1."""
    in_quotes = False
    index = 0
    while index < len(text):
        current = text[index]
        if in_quotes and current == "\\":
            index += 2
            continue
        if current == '"':
            in_quotes = not in_quotes
        elif current == char and not in_quotes:
            return index
        index += 1
    return -1


def find_param(params: tuple[tuple[str, str | None], ...], name: str) -> str | None:
    lname = name.lower()
    for key, value in params:
        if key.lower() == lname:
            return value
    return None


def _format_params(params: tuple[tuple[str, str | None], ...]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via entry: `SIP/2.0/UDP host:port;branch=...;rport`."""

    transport: str
    host: str
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> Via:
        return _parse_via(text)

    @classmethod
    def _parse(cls, text: str) -> Via:
        value, params = split_params(text)
        match = _SENT_PROTOCOL.fullmatch(value)
        if match is None or match[1].upper() != "SIP":
            raise RemoteProtocolError(f"malformed Via: {text!r}")
        host, port = _split_sent_by(match[3], text)
        return cls(transport=match[2].upper(), host=host, port=port, params=params)

    @property
    def branch(self) -> str | None:
        return find_param(self.params, "branch")

    @property
    def sent_by(self) -> tuple[str, int]:
        default = 5061 if self.transport == "TLS" else 5060
        return self.host, self.port if self.port is not None else default

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)

    def has_param(self, name: str) -> bool:
        lname = name.lower()
        return any(k.lower() == lname for k, _ in self.params)

    def with_param(self, name: str, value: str | None) -> Via:
        """Set `name` (replacing a present one in place), e.g. `rport=5060`."""
        lname = name.lower()
        replaced = False
        out: list[tuple[str, str | None]] = []
        for key, old in self.params:
            if key.lower() == lname:
                out.append((key, value))
                replaced = True
            else:
                out.append((key, old))
        if not replaced:
            out.append((name, value))
        return Via(self.transport, self.host, self.port, tuple(out))

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_format_params(self.params)}"


@functools.lru_cache(maxsize=4096)
def _parse_via(text: str) -> Via:
    # The same Via string is read several times per message (matching, stamping,
    # responding); Via values are immutable, so a small cache saves the re-parsing.
    return Via._parse(text)


def _split_sent_by(sent_by: str, text: str) -> tuple[str, int | None]:
    if sent_by.startswith("["):
        end = sent_by.find("]")
        if end < 0:
            raise RemoteProtocolError(f"malformed Via host: {text!r}")
        host, tail = sent_by[: end + 1], sent_by[end + 1 :].strip()
        port_text = tail[1:].strip() if tail.startswith(":") else ""
    else:
        host, _, port_text = sent_by.partition(":")
        host, port_text = host.strip(), port_text.strip()
    if not host:
        raise RemoteProtocolError(f"malformed Via host: {text!r}")
    if not port_text:
        return host, None
    port = read_port(port_text)
    if port is None:
        raise RemoteProtocolError(f"malformed Via port: {text!r}")
    return host, port


@dataclass(frozen=True, slots=True)
class NameAddress:
    """From, To, Contact, Route: `"Display" <uri>;tag=...` or a bare `uri;tag=...`."""

    uri: SipUri
    display_name: str | None = None
    params: tuple[tuple[str, str | None], ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        return _parse_name_address(text)

    @classmethod
    def _parse(cls, text: str) -> NameAddress:
        raw = text.strip()
        start = _find_outside_quotes(raw, "<") if "<" in raw else -1
        if start >= 0:
            end = raw.find(">", start)
            if end < 0:
                raise RemoteProtocolError(f"unclosed '<' in {raw!r}", can_answer=True)
            display = raw[:start].strip().strip('"').strip() or None
            uri = SipUri.parse(raw[start + 1 : end])
            _, params = split_params("x" + raw[end + 1 :])
            return cls(uri=uri, display_name=display, params=params)
        # Without angle brackets, everything after the first ';' is a header param.
        uri_text, params = split_params(raw)
        return cls(uri=SipUri.parse(uri_text), params=params)

    @property
    def tag(self) -> str | None:
        return find_param(self.params, "tag")

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)

    def with_tag(self, tag: str) -> NameAddress:
        params = tuple(p for p in self.params if p[0].lower() != "tag") + (("tag", tag),)
        return NameAddress(self.uri, self.display_name, params)

    def __str__(self) -> str:
        display = f'"{self.display_name}" ' if self.display_name else ""
        return f"{display}<{self.uri}>{_format_params(self.params)}"


@functools.lru_cache(maxsize=4096)
def _parse_name_address(text: str) -> NameAddress:
    return NameAddress._parse(text)


@dataclass(frozen=True, slots=True)
class CSeq:
    """`CSeq: 20 REGISTER`."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        number, _, method = text.strip().partition(" ")
        method = method.strip()
        if not is_number(number) or not method:
            raise RemoteProtocolError(f"malformed CSeq: {text!r}")
        value = int(number)
        if value >= 2**31:
            raise RemoteProtocolError(f"CSeq out of range: {text!r}")
        return cls(value, method.upper())

    def __str__(self) -> str:
        return f"{self.number} {self.method}"
