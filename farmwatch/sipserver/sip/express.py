"""The express path: the few request shapes a registration storm is made of, read in one pass.

Nearly all of a platform's SIP traffic is devices registering and sending keepalives, and
nearly every such request is plain: one Via with an RFC 3261 branch, the usual headers.
`scan_express` recognises exactly that, with CRLF or (as some firmware sends) LF line
ends, and extracts the fields the registrar and the keepalive handler need without
building the general message model. Anything else (folded lines, several Vias, compact
forms it does not read, bytes that are not UTF-8, a Content-Length that disagrees)
returns None, and the message takes the general parser, which is lenient and answers
errors. The two agree on every request the express scan accepts (a property test checks
it against the general parser).

`express_response` builds the response bytes per RFC 3261 §8.2.6.2 with the top Via
stamped per RFC 3581, as the general path's `build_response` and `stamp_received` do.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.headers import split_outside_quotes
from farmwatch.sipserver.sip.message import reason_phrase
from farmwatch.sipserver.sip.parser import DEFAULT_LIMITS, ParserLimits, request_uri_problem
from farmwatch.sipserver.sip.syntax import TOKEN, is_number, read_port

MAGIC_COOKIE = "z9hG4bK"
MAX_EXPRESS_SIZE = 8192

# Header names the express handlers read, in every spelling seen in the field; the value
# is the field's slot. Other headers are checked for well-formedness and skipped.
_VIA, _FROM, _TO, _CALL_ID, _CSEQ, _CONTACT, _EXPIRES = range(7)
_AUTHORIZATION, _CONTENT_TYPE, _CONTENT_LENGTH, _USER_AGENT, _GB_VERSION = range(7, 12)
_MAX_FORWARDS = 12
_SLOTS = 13
# -1: a header the handlers do not read, skipped; -2: a list header the handlers do not
# read (Route, Record-Route: Hikvision sends a Route), whose entries are checked as the
# general parser checks them, then skipped.
_SKIP, _LIST = -1, -2
_NAMES: dict[str, int] = {
    "via": _VIA, "v": _VIA,
    "from": _FROM, "f": _FROM,
    "to": _TO, "t": _TO,
    "call-id": _CALL_ID, "i": _CALL_ID,
    "cseq": _CSEQ,
    "contact": _CONTACT, "m": _CONTACT,
    "expires": _EXPIRES,
    "authorization": _AUTHORIZATION,
    "content-type": _CONTENT_TYPE, "c": _CONTENT_TYPE,
    "content-length": _CONTENT_LENGTH, "l": _CONTENT_LENGTH,
    "user-agent": _USER_AGENT,
    "x-gb-ver": _GB_VERSION,
    "max-forwards": _MAX_FORWARDS,
    "route": _LIST, "record-route": _LIST,
}  # fmt: skip
# The spellings nearly every device uses, looked up before lower-casing anything.
_EXACT: dict[str, int] = {
    "Via": _VIA, "From": _FROM, "To": _TO, "Call-ID": _CALL_ID, "CSeq": _CSEQ,
    "Contact": _CONTACT, "Expires": _EXPIRES, "Authorization": _AUTHORIZATION,
    "Content-Type": _CONTENT_TYPE, "Content-Length": _CONTENT_LENGTH,
    "User-Agent": _USER_AGENT, "X-GB-Ver": _GB_VERSION, "Max-Forwards": _MAX_FORWARDS,
    "Allow": _SKIP, "Supported": _SKIP, "Date": _SKIP, "Route": _LIST,
}  # fmt: skip
# Compact forms the general parser expands but the express handlers do not read: a
# message using them is left to the general path rather than mis-read.
_OTHER_COMPACT = frozenset("abeknorsux")

_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
_VIA_VALUE = re.compile(
    rf"SIP */ *2\.0 */ *(UDP|TCP) +({_HOST})(?: *: *([0-9]{{1,5}}))? *((?:;[^;,\"<>]*)*)",
    re.IGNORECASE,
)
# name-addr: a display name (quoted, or plain words) then <URI>, then header parameters.
_NAME_ADDR = re.compile(r'(?:"(?:[^"\\]|\\.)*" *|[^"<>]*)<([^<>"]*)>([^<>"]*)')
# The SIP URIs `SipUri.parse` reads the same way: one `@`, a plain host, a real port, URI
# parameters, no headers, no whitespace.
_SIP_URI = re.compile(
    rf"sip:(?:([A-Za-z0-9._~-]{{1,64}})@)?{_HOST}(?::([0-9]{{1,5}}))?(?:;[^;?@<>\"\s,]*)*",
    re.IGNORECASE,
)
_CSEQ_VALUE = re.compile(r"([0-9]{1,10}) +([A-Z]+)")
_STAMPED = re.compile(r";\s*(?:received\s*(?:=|;|$)|rport\s*=)", re.IGNORECASE)


class ExpressRequest(NamedTuple):
    """A plain request, with the raw values the response echoes and the fields handlers read.

    A named tuple rather than a frozen dataclass: built for every request of a storm,
    and a frozen dataclass's `__init__` alone cost half the scan.
    """

    method: str
    request_uri: str
    via: str
    via_transport: str
    via_host: str
    via_port: int | None
    branch: str
    from_: str
    from_user: str
    to: str
    call_id: str
    cseq: str
    cseq_number: int
    contact: str | None
    expires: str | None
    authorization: str | None
    content_type: str | None
    user_agent: str | None
    gb_version: str | None
    body: bytes

    @property
    def transaction_key(self) -> tuple[str, str, str, int]:
        """What §17.2.3 matches a retransmission on: branch, sent-by and method."""
        port = self.via_port if self.via_port is not None else 5060
        return (self.branch, self.method, self.via_host.lower(), port)

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lower case."""
        if self.content_type is None:
            return None
        return self.content_type.partition(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler answers: status, reason (None: the standard phrase), extra headers."""

    status: int
    reason: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    then: Callable[[], None] | None = None
    """Work to do once the response is sent (what the request brought, acted upon after
    the device has its answer, as a handler of the general path does after `respond`)."""


def scan_express(
    data: bytes, methods: frozenset[str], limits: ParserLimits = DEFAULT_LIMITS
) -> ExpressRequest | None:
    """Read `data` if it is a plain request of one of `methods`; None sends it the general way.

    Whatever it reads, the general parser (with the same `limits`) accepts and reads alike.
    """
    if len(data) > MAX_EXPRESS_SIZE or len(data) > limits.max_message_size:
        return None
    space = data.find(b" ", 0, 12)
    if space < 0 or data[:space].decode("ascii", "replace") not in methods:
        return None
    head_end, line_end = data.find(b"\r\n\r\n"), "\r\n"
    if head_end < 0:  # some firmware (Dahua among them) ends lines with LF alone
        head_end, line_end = data.find(b"\n\n"), "\n"
        if head_end < 0:
            return None
    try:
        head = data[:head_end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = head.split(line_end)
    if not "".join(lines).isprintable():
        return None  # tabs, mixed line ends, controls: the general parser is lenient there
    if len(head) > limits.max_header_line and any(
        len(line) > limits.max_header_line for line in lines
    ):
        return None
    start = lines[0].split(" ")
    if len(start) != 3 or start[2] != "SIP/2.0" or not start[1].lower().startswith("sip:"):
        return None
    if request_uri_problem(start[1]) is not None:
        return None
    slots: list[str | None] = [None] * _SLOTS
    fields = len(lines) - 1
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or line[0] == " ":
            return None  # no colon, or a folded continuation line
        slot = _EXACT.get(name)
        if slot is None:
            name = name.rstrip(" ")
            lname = name.lower()
            slot = _NAMES.get(lname)
            if slot is None:
                if lname in _OTHER_COMPACT or TOKEN.fullmatch(name) is None:
                    return None
                continue
        if slot < 0:
            if slot == _LIST:
                entries = _list_entries(value)
                if entries == 0:
                    return None
                fields += entries - 1
            continue
        if slots[slot] is not None:
            return None  # a repeated header: the general path decides what it means
        slots[slot] = value.strip(" ")
    body = data[head_end + 2 * len(line_end) :]
    if fields > limits.max_headers or len(body) > limits.max_body:
        return None
    return _build(start[0], start[1], slots, body)


def _build(method: str, uri: str, slots: list[str | None], body: bytes) -> ExpressRequest | None:
    via, from_, to, call_id, cseq = (slots[_VIA], slots[_FROM], slots[_TO], slots[_CALL_ID],
                                     slots[_CSEQ])  # fmt: skip
    if not via or not from_ or not to or not call_id or not cseq:
        return None
    length = slots[_CONTENT_LENGTH]
    if length is not None and (not is_number(length) or int(length) != len(body)):
        return None
    max_forwards = slots[_MAX_FORWARDS]
    if max_forwards is not None and not (is_number(max_forwards) and int(max_forwards) < 256):
        return None
    cseq_match = _CSEQ_VALUE.fullmatch(cseq)
    if cseq_match is None or cseq_match[2] != method or int(cseq_match[1]) >= 2**31:
        return None
    via_match = plain_via(via)
    if via_match is None:
        return None
    port = via_match[3]
    branch = _via_branch(via_match[4])
    if branch is None:
        return None
    from_uri, from_params = _split_name_addr(from_)
    user = _SIP_URI.fullmatch(from_uri)
    if user is None or user[1] is None or not _sane_port(user[2]):
        return None
    if not _param(from_params, "tag"):
        return None
    to_uri = _SIP_URI.fullmatch(_split_name_addr(to)[0])
    if to_uri is None or not _sane_port(to_uri[2]):
        return None
    # Positional, through `_make`: keyword construction of 20 fields cost a quarter of
    # `_build`.
    return ExpressRequest._make((
        method,
        uri,
        via,
        via_match[1].upper(),
        via_match[2],
        int(port) if port is not None else None,
        branch,
        from_,
        user[1],
        to,
        call_id,
        cseq,
        int(cseq_match[1]),
        slots[_CONTACT],
        slots[_EXPIRES],
        slots[_AUTHORIZATION],
        slots[_CONTENT_TYPE],
        slots[_USER_AGENT],
        slots[_GB_VERSION],
        body,
    ))  # fmt: skip


def _list_entries(value: str) -> int:
    """How many entries the general parser makes of a list header; 0 when one is empty."""
    if "," not in value:
        return 1 if value.strip(" ") else 0
    entries = split_outside_quotes(value.strip(" "), ",")
    return len(entries) if all(entry.strip(" ") for entry in entries) else 0


def _sane_port(port: str | None) -> bool:
    return port is None or read_port(port) is not None


def _param(params: str, name: str) -> str | None:
    """The value of the first parameter `name` in `;a=1;b`, as `find_param` reads it (None
    also when it has no value). The caller has made sure there are no quotes or `<>`."""
    for part in params.split(";")[1:]:
        key, equals, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip() if equals else None
    return None


def plain_via(via: str) -> re.Match[str] | None:
    """The top Via read as the express path reads it (groups: transport, host, port,
    parameters); None when it is not plain, or a proxy has stamped `received` or `rport=`
    on it already (such requests take the general path)."""
    match = _VIA_VALUE.fullmatch(via)
    if match is None:
        return None
    port = match[3]
    if port is not None and read_port(port) is None:
        return None
    if _STAMPED.search(match[4]) is not None:
        return None
    return match


def _via_branch(params: str) -> str | None:
    """The RFC 3261 branch of plain Via parameters, or None when absent or pre-3261."""
    branch = _param(params, "branch")
    if branch is None or not branch.startswith(MAGIC_COOKIE) or len(branch) > 128:
        return None
    return branch


def is_plain_name_addr(value: str) -> bool:
    """A From/To value the express path reads: a name-addr or a bare URI, with a URI."""
    return bool(_split_name_addr(value)[0])


def _split_name_addr(value: str) -> tuple[str, str]:
    """(URI, header parameters) of a From/To value; ("", "") when it is not plain."""
    match = _NAME_ADDR.fullmatch(value)
    if match is not None:
        return match[1].strip(), match[2]
    if "<" in value or ">" in value or '"' in value or "," in value:
        return "", ""
    uri, semicolon, params = value.partition(";")
    return uri.strip(), semicolon + params


class Echoed(Protocol):
    """What a response echoes of its request, with the top Via's host to stamp it by."""

    @property
    def via(self) -> str: ...
    @property
    def via_host(self) -> str: ...
    @property
    def from_(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def call_id(self) -> str: ...
    @property
    def cseq(self) -> str: ...


def express_response(request: Echoed, source: Address, reply: Reply, to_tag: str) -> bytes:
    """The response to `request` with `reply`'s status, as bytes ready to send."""
    status = reply.status
    to = request.to
    if status != 100 and "tag=" not in to.lower():
        to = f"{to};tag={to_tag}"
    reason = reply.reason if reply.reason is not None else reason_phrase(status)
    lines = [
        f"SIP/2.0 {status} {reason}",
        f"Via: {_stamped_via(request, source)}",
        f"From: {request.from_}",
        f"To: {to}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.cseq}",
    ]
    lines.extend(f"{name}: {value}" for name, value in reply.extra)
    lines.append("Content-Length: 0\r\n\r\n")
    return "\r\n".join(lines).encode("utf-8")


def _stamped_via(request: Echoed, source: Address) -> str:
    """`received` and `rport` as RFC 3261 §18.2.1 and RFC 3581 ask (the scan refused Vias
    that already carry them)."""
    value, semicolon, params = request.via.partition(";")
    if not semicolon:
        params_out: list[str] = []
        rport = False
    else:
        params_out = params.split(";")
        rport = False
        for index, param in enumerate(params_out):
            if param.strip().lower() == "rport":
                params_out[index] = f"rport={source.port}"
                rport = True
    if rport or request.via_host.strip("[]") != source.host:
        params_out.append(f"received={source.host}")
    if not params_out:
        return value
    return value + ";" + ";".join(params_out)
