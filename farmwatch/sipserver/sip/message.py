"""SIP requests and responses (RFC 3261 §7) and their serialisation.

Messages are immutable values. Typed accessors (`top_via`, `cseq`, `from_`, `to`,
`call_id`) parse header values on demand and raise `RemoteProtocolError` when a peer
sent garbage, so the transport boundary can answer 400 or drop the message.
`to_bytes()` always writes CRLF line ends and a Content-Length computed on the body
bytes (GB2312 bodies are longer in bytes than in characters).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.headers import CSeq, Headers, NameAddress, Via
from farmwatch.sipserver.sip.syntax import is_number
from farmwatch.sipserver.sip.uri import SipUri

SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}


def reason_phrase(status: int) -> str:
    return REASON_PHRASES.get(status, "Unknown")


class _Common:
    """Accessors shared by requests and responses (mixed into the dataclasses)."""

    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        return value.strip() if value is not None else ""

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        value = self.headers.get("Via")
        if value is None:
            raise RemoteProtocolError("missing Via")
        return Via.parse(value)

    @property
    def cseq(self) -> CSeq:
        value = self.headers.get("CSeq")
        if value is None:
            raise RemoteProtocolError("missing CSeq")
        return CSeq.parse(value)

    @property
    def from_(self) -> NameAddress:
        return _name_address(self.headers, "From")

    @property
    def to(self) -> NameAddress:
        return _name_address(self.headers, "To")

    @property
    def contact(self) -> NameAddress | None:
        value = self.headers.get("Contact")
        if value is None or value.strip() == "*":
            return None
        return NameAddress.parse(value)

    @property
    def content_type(self) -> str | None:
        """The media type, lower-cased and without parameters (`application/sdp`)."""
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower()

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        if value is None or not is_number(value.strip()):
            return None
        return int(value.strip())


def _name_address(headers: Headers, name: str) -> NameAddress:
    value = headers.get(name)
    if value is None:
        raise RemoteProtocolError(f"missing {name}", can_answer=True)
    return NameAddress.parse(value)


@dataclass(frozen=True, slots=True)
class SipRequest(_Common):
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def request_uri(self) -> SipUri:
        return SipUri.parse(self.uri)

    def with_headers(self, headers: Headers) -> SipRequest:
        return replace(self, headers=headers)

    def to_bytes(self) -> bytes:
        return _serialise(f"{self.method} {self.uri} {SIP_VERSION}", self.headers, self.body)


@dataclass(frozen=True, slots=True)
class SipResponse(_Common):
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def is_provisional(self) -> bool:
        return 100 <= self.status < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def with_headers(self, headers: Headers) -> SipResponse:
        return replace(self, headers=headers)

    def to_bytes(self) -> bytes:
        return _serialise(f"{SIP_VERSION} {self.status} {self.reason}", self.headers, self.body)


SipMessage = SipRequest | SipResponse


def _serialise(start_line: str, headers: Headers, body: bytes) -> bytes:
    lines = [start_line]
    lines.extend(f"{name}: {value}" for name, value in headers.items if name != "Content-Length")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def build_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """A response per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq copied.

    `to_tag` is added to To when it has none yet (every response but 100 needs one
    to form a dialog or match a transaction).
    """
    copied: list[tuple[str, str]] = []
    for name, value in request.headers.items:
        lname = name.lower()
        if lname in ("via", "from", "call-id", "cseq"):
            copied.append((name, value))
        elif lname == "to":
            if to_tag is not None and status != 100 and "tag=" not in value.lower():
                value = f"{value};tag={to_tag}"
            copied.append((name, value))
    copied.extend(extra)
    if body and content_type is not None:
        copied.append(("Content-Type", content_type))
    return SipResponse(
        status=status,
        reason=reason if reason is not None else reason_phrase(status),
        headers=Headers(tuple(copied)),
        body=body,
    )
