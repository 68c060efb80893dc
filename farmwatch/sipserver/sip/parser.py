"""Parsing SIP messages from datagrams and byte streams (RFC 3261 §7, §18.3, §20).

Owns the wire → `SipRequest`/`SipResponse` direction: `parse_message` for one UDP
datagram, `StreamParser` for TCP framing (blank line + Content-Length), and
`is_keepalive_ping` for the CRLF and eXosip `jaK` pings that get no answer. The policy is
lenient where real GB/T 28181 devices deviate (GB/T 28181 §2 items 11-13, §10 item 9:
compact and oddly cased header names, LF-only line ends, folded lines, whitespace around
the colon, no Content-Length over UDP) and strict where RFC 4475 says a message is
broken (start-line syntax, SIP version, status code range, method token, mandatory
headers, the top Via, CSeq method, duplicate single-valued headers, unbalanced quotes in
From/To, limits). Every failure is a `MalformedMessage`; nothing else escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.headers import Headers, Via, canonical_name, split_outside_quotes
from farmwatch.sipserver.sip.message import SipMessage, SipRequest, SipResponse, reason_phrase
from farmwatch.sipserver.sip.syntax import MAX_DIGITS, TOKEN, is_number


@dataclass(frozen=True, slots=True)
class ParserLimits:
    """What one peer can make us hold; exceeding a limit is a 413 (or a closed stream)."""

    max_message_size: int = 65536
    """Start line, headers and body together, in bytes."""
    max_headers: int = 100
    """Header fields after unfolding and splitting list headers."""
    max_header_line: int = 8192
    """One unfolded header line, in characters."""
    max_body: int = 65536
    """The body, in bytes (Content-Length on streams)."""


DEFAULT_LIMITS = ParserLimits()


class MalformedMessage(RemoteProtocolError):
    """A message we refuse; `partial` is set when it is a request we can still answer.

    `reason` is a short fixed text of ours (never the peer's bytes), e.g. "malformed
    CSeq". `partial` holds the start line and the readable headers (Via, From, To,
    Call-ID and CSeq all present) so that `build_response(partial, status_hint,
    response_reason)` works; `can_answer` is true exactly when `partial` is set.
    """

    def __init__(
        self, reason: str, status_hint: int = 400, *, partial: SipRequest | None = None
    ) -> None:
        super().__init__(reason, status_hint, can_answer=partial is not None)
        self.partial = partial

    @property
    def response_reason(self) -> str:
        """A reason phrase for the answer: `Bad Request (malformed CSeq)`."""
        return f"{reason_phrase(self.status_hint)} ({self.reason})"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
# After CRLF → LF: any C0 control but HT and LF, or DEL (a CR left is a lone CR). The
# slower exact rule then allows the controls a quoted-pair escapes (RFC 3261 §25.1,
# RFC 4475 intmeth), never CR.
_MAYBE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL = re.compile(r"(?<!\\)[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r")
_LIST_NAMES = frozenset({"Via", "Route", "Record-Route"})
_SINGLETONS = frozenset({"From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards"})
_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")
_PING_MAX_SIZE = 8
_SIP_STARTS = tuple(
    b"SIP/ REGISTER INVITE ACK BYE CANCEL OPTIONS MESSAGE SUBSCRIBE NOTIFY INFO PRACK UPDATE "
    b"REFER PUBLISH".split()
)


def is_keepalive_ping(data: bytes) -> bool:
    """True for datagrams to ignore silently: keep-alive pings, never SIP.

    The rule: a datagram that is empty or only SP/HT/CR/LF (RFC 5626 `CRLF CRLF` and
    `CRLF`), or one of at most 8 bytes that does not start with `SIP/` or a method we
    know (eXosip's `jaK\\r\\n\\r\\n`, stray NULs). The shortest SIP message is longer
    than 8 bytes, so nothing parsable is ever ignored here.
    """
    if data[:1] in (b" ", b"\t", b"\r", b"\n", b"") and not data.strip(b" \t\r\n"):
        return True
    return len(data) <= _PING_MAX_SIZE and not data.lstrip().startswith(_SIP_STARTS)


def parse_message(data: bytes, *, limits: ParserLimits = DEFAULT_LIMITS) -> SipMessage:
    """One message from one datagram; raises `MalformedMessage` and nothing else.

    Leading CR/LF are skipped (RFC 3261 §7.5). Without a Content-Length the body is
    the rest of the datagram; a larger one is an error, a smaller one truncates the
    body and the excess is ignored (RFC 3261 §18.3).
    """
    start = _skip_newlines(data, 0)
    head_end, body_start = _find_head_end(data, start)
    if head_end < 0:
        head_end = body_start = len(data)
        while head_end > start and data[head_end - 1] in (10, 13):
            head_end -= 1
    head = _decode(data[start:head_end])
    try:
        if len(data) - start > limits.max_message_size:
            raise MalformedMessage("message too large", 413)
        return _parse(head, data, body_start, limits)
    except MalformedMessage as error:
        partial = None
        if head_end - start <= limits.max_message_size:
            partial = _salvage(head, limits)
        raise MalformedMessage(error.reason, error.status_hint, partial=partial) from None


def _find_head_end(data: bytes | bytearray, start: int, stop: int = -1) -> tuple[int, int]:
    """(end of the header block, start of the body), or (-1, -1) without a blank line.

    The blank line may be CRLF CRLF, LF LF or a mix; the header block excludes the line
    end of its last line. Only `data[start:stop]` is searched (all of it by default).
    """
    stop = len(data) if stop < 0 else stop
    lf_crlf = data.find(b"\n\r\n", start, stop)
    lf_lf = data.find(b"\n\n", start, lf_crlf + 1 if lf_crlf >= 0 else stop)
    if lf_lf >= 0:
        end, body = lf_lf, lf_lf + 2
    elif lf_crlf >= 0:
        end, body = lf_crlf, lf_crlf + 3
    else:
        return -1, -1
    if end > 0 and data[end - 1] == 13:
        end -= 1
    return end, body


def _skip_newlines(data: bytes | bytearray, start: int) -> int:
    end = len(data)
    while start < end and data[start] in (10, 13):
        start += 1
    return start


def _decode(raw: bytes) -> str:
    """UTF-8, or latin-1 for other bytes (GBK display names): never raises, and the
    result always encodes again, so a response built from it can be sent."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse(head: str, data: bytes, body_start: int, limits: ParserLimits) -> SipMessage:
    text = head.replace("\r\n", "\n")
    if _MAYBE_CONTROL.search(text) and _CONTROL.search(text):
        raise MalformedMessage("control character in header")
    lines = text.split("\n")
    folded = "\n " in text or "\n\t" in text or text[:1] in (" ", "\t")
    if lines[0][:4].upper() == "SIP/":
        status, reason = _read_status_line(lines[0])
        fields = _read_fields(lines, folded, limits)
        body = _read_body(data, body_start, _check_fields(fields, None), limits)
        return SipResponse(status, reason, Headers(tuple(fields)), body)
    method, uri = _read_request_line(lines[0])
    fields = _read_fields(lines, folded, limits)
    body = _read_body(data, body_start, _check_fields(fields, method), limits)
    return SipRequest(method, uri, Headers(tuple(fields)), body)


def _read_request_line(line: str) -> tuple[str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise MalformedMessage("malformed request line")
    method, uri, version = parts
    if not TOKEN.fullmatch(method):
        raise MalformedMessage("malformed method")
    problem = request_uri_problem(uri)
    if problem is not None:
        raise MalformedMessage(problem)
    if version.upper() != "SIP/2.0":
        if _VERSION.fullmatch(version):
            raise MalformedMessage("unsupported SIP version", 505)
        raise MalformedMessage("malformed SIP version")
    return method, uri


def request_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a Request-URI (RFC 4475 ltgtruri, escruri), or None."""
    scheme = _SCHEME.match(uri)
    if scheme is None or scheme.end() == len(uri) or "<" in uri or ">" in uri:
        return "malformed Request-URI"
    if scheme.group().lower() in ("sip:", "sips:") and "?" in uri.rpartition("@")[2]:
        return "headers in Request-URI"
    return None


def _read_status_line(line: str) -> tuple[int, str]:
    version, _, rest = line.partition(" ")
    if version.upper() != "SIP/2.0":
        raise MalformedMessage("unsupported SIP version", 505)
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isascii() or not code.isdigit() or code[0] in "0789":
        raise MalformedMessage("malformed status code")
    return int(code), reason.strip(" \t")


def _read_fields(lines: list[str], folded: bool, limits: ParserLimits) -> list[tuple[str, str]]:
    raw = _unfold(lines) if folded else lines[1:]
    if len(raw) > limits.max_headers:
        raise MalformedMessage("too many headers", 413)
    fields: list[tuple[str, str]] = []
    for line in raw:
        if len(line) > limits.max_header_line:
            raise MalformedMessage("header line too long", 413)
        name, colon, value = line.partition(":")
        if not colon:
            raise MalformedMessage("header line without colon")
        name = canonical_name(name)
        if not name or " " in name or "\t" in name:
            raise MalformedMessage("malformed header name")
        value = value.strip(" \t")
        if name not in _LIST_NAMES:
            fields.append((name, value))
            continue
        for entry in split_outside_quotes(value, ",") if "," in value else (value,):
            entry = entry.strip(" \t")
            if not entry:
                raise MalformedMessage(f"empty {name} entry")
            fields.append((name, entry))
    if len(fields) > limits.max_headers:
        raise MalformedMessage("too many headers", 413)
    return fields


def _unfold(lines: list[str]) -> list[str]:
    """Header lines with continuation lines (starting with SP or HT) joined by one SP."""
    if lines[0][:1] in (" ", "\t"):
        raise MalformedMessage("malformed start line")
    out: list[str] = []
    for line in lines[1:]:
        if line[:1] not in (" ", "\t"):
            out.append(line)
        elif out:
            out[-1] = out[-1].rstrip(" \t") + " " + line.strip(" \t")
        else:
            raise MalformedMessage("continuation line before any header")
    return out


def _check_fields(fields: list[tuple[str, str]], method: str | None) -> str | None:
    """Mandatory and single-valued headers; returns the Content-Length value, if any."""
    seen: dict[str, str] = {}
    top_via: str | None = None
    for name, value in fields:
        if name in _SINGLETONS:
            if name in seen:
                raise MalformedMessage(f"duplicate {name}")
            seen[name] = value
        elif name == "Via" and top_via is None:
            top_via = value
    if top_via is None:
        raise MalformedMessage("missing Via")
    for name in _MANDATORY[1:]:
        if not seen.get(name):
            raise MalformedMessage(f"missing {name}")
    _check_cseq(seen["CSeq"], method)
    try:
        # Transactions are matched on it (RFC 3261 §17.2.3): a request without a readable
        # top Via could never be answered through one, so it is answered 400 here.
        Via.parse(top_via)
    except RemoteProtocolError:
        raise MalformedMessage("malformed Via") from None
    for name in ("From", "To"):
        if not _is_well_bracketed(seen[name]):
            raise MalformedMessage(f"malformed {name}")
    max_forwards = seen.get("Max-Forwards")
    if max_forwards is not None and not (is_number(max_forwards) and int(max_forwards) < 256):
        raise MalformedMessage("malformed Max-Forwards")
    return seen.get("Content-Length")


def _check_cseq(value: str, method: str | None) -> None:
    parts = value.split()
    if len(parts) != 2 or not is_number(parts[0]) or int(parts[0]) >= 2**31:
        raise MalformedMessage("malformed CSeq")
    if not TOKEN.fullmatch(parts[1]):
        raise MalformedMessage("malformed CSeq")
    if method is not None and parts[1] != method:
        raise MalformedMessage("CSeq method does not match the request method")


def _is_well_bracketed(value: str) -> bool:
    """Quotes closed (backslash escapes honoured) and at most one `<...>` outside them."""
    if '"' in value:
        outside: list[str] = []
        in_quotes = False
        index = 0
        while index < len(value):
            char = value[index]
            if in_quotes and char == "\\":
                index += 1
            elif char == '"':
                in_quotes = not in_quotes
            elif not in_quotes:
                outside.append(char)
            index += 1
        if in_quotes:
            return False
        value = "".join(outside)
    opening = value.find("<")
    if opening < 0:
        return ">" not in value
    return value.count("<") == 1 and value.count(">") == 1 and value.find(">") > opening


def _read_body(
    data: bytes, body_start: int, content_length: str | None, limits: ParserLimits
) -> bytes:
    available = len(data) - body_start
    if content_length is None:
        length = available
    elif is_number(content_length):
        length = int(content_length)
    else:
        raise MalformedMessage("malformed Content-Length")
    if length > limits.max_body:
        raise MalformedMessage("body too large", 413)
    if length > available:
        raise MalformedMessage("Content-Length larger than the message")
    return data[body_start : body_start + length]


def _salvage(head: str, limits: ParserLimits) -> SipRequest | None:
    """The request line and the well-formed header lines, if enough to answer."""
    lines = head.replace("\r\n", "\n").split("\n")
    words = lines[0].split(" ")
    words = [word for word in words if word]
    if len(words) < 2 or not TOKEN.fullmatch(words[0]) or _CONTROL.search(lines[0]):
        return None
    fields: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line in _unfold_leniently(lines[1:]):
        name, colon, value = line.partition(":")
        name = canonical_name(name)
        if not colon or not name or " " in name or "\t" in name or name in seen:
            continue
        if _CONTROL.search(line):
            continue
        if name in _SINGLETONS:
            seen.add(name)
        value = value.strip(" \t")
        entries = split_outside_quotes(value, ",") if name in _LIST_NAMES else [value]
        fields.extend((name, entry.strip(" \t")) for entry in entries if entry.strip(" \t"))
        if len(fields) > limits.max_headers:
            return None
    present = {name for name, value in fields if value}
    if not all(name in present for name in _MANDATORY):
        return None
    return SipRequest(words[0], words[1], Headers(tuple(fields)), b"")


def _unfold_leniently(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and out:
            out[-1] = out[-1] + " " + line.strip(" \t")
        else:
            out.append(line)
    return out


class StreamParser:
    """Frames SIP messages out of a TCP byte stream (RFC 3261 §18.3).

    A message is its header block up to the blank line plus Content-Length bytes of
    body; a missing Content-Length counts as 0, as real stacks do. CR/LF between
    messages (RFC 5626 keep-alive pings) are skipped. A message that frames but does
    not parse comes out as a `MalformedMessage` item and the stream goes on; a stream
    that cannot be framed (no blank line within `max_message_size`, a Content-Length
    that is unparsable, ambiguous or over the limits) makes `feed` raise
    `RemoteProtocolError`, after which the connection should be closed and every
    further `feed` raises too. Between calls the buffer never holds more than
    `max_message_size` bytes.
    """

    def __init__(self, limits: ParserLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._scan_from = 0
        self._frame_size: int | None = None
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes held for a message not complete yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[SipMessage | MalformedMessage]:
        """Every message completed by `data`, in order."""
        out: list[SipMessage | MalformedMessage] = []
        for frame in self.feed_frames(data):
            try:
                out.append(parse_message(frame, limits=self._limits))
            except MalformedMessage as error:
                out.append(error)
        return out

    def feed_frames(self, data: bytes) -> list[bytes]:
        """The bytes of every message completed by `data`, in order, not parsed yet."""
        if self._failed:
            raise RemoteProtocolError("the stream already failed to frame")
        self._buffer += data
        frames: list[bytes] = []
        try:
            while (frame := self._next_frame()) is not None:
                frames.append(frame)
        except RemoteProtocolError:
            self._failed = True
            self._buffer.clear()
            raise
        return frames

    def _next_frame(self) -> bytes | None:
        buffer = self._buffer
        if self._frame_size is None:
            skipped = _skip_newlines(buffer, 0)
            if skipped:
                del buffer[:skipped]
                self._scan_from = 0
            stop = min(len(buffer), self._limits.max_message_size + 3)
            head_end, body_start = _find_head_end(buffer, self._scan_from, stop)
            if head_end < 0:
                if len(buffer) > self._limits.max_message_size:
                    raise RemoteProtocolError("header block too long", 413)
                self._scan_from = max(0, len(buffer) - 2)
                return None
            length = _stream_content_length(bytes(buffer[:head_end]), self._limits)
            self._frame_size = body_start + length
            if self._frame_size > self._limits.max_message_size:
                raise RemoteProtocolError("message too large", 413)
        if len(buffer) < self._frame_size:
            return None
        frame = bytes(buffer[: self._frame_size])
        del buffer[: self._frame_size]
        self._frame_size = None
        self._scan_from = 0
        return frame


def _stream_content_length(head: bytes, limits: ParserLimits) -> int:
    """The body length a stream frame needs: 0 when absent, an error when unusable."""
    values: list[bytes] = []
    in_content_length = False
    for line in head.split(b"\n")[1:]:
        if line[:1] in (b" ", b"\t"):
            if in_content_length:
                values[-1] += line
            continue
        name, _, value = line.partition(b":")
        in_content_length = name.strip().lower() in (b"content-length", b"l")
        if in_content_length:
            values.append(value)
    numbers = {value.strip() for value in values}
    if not numbers:
        return 0
    if len(numbers) > 1:
        raise RemoteProtocolError("conflicting Content-Length")
    number = numbers.pop()
    if not number.isdigit() or len(number) > MAX_DIGITS:  # bytes: ASCII digits only
        raise RemoteProtocolError("unparsable Content-Length")
    if int(number) > limits.max_body:
        raise RemoteProtocolError("body too large", 413)
    return int(number)
