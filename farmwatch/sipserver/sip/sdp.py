"""SDP for GB/T 28181 INVITEs (RFC 4566 plus the `y=` and `f=` lines; gb28181.md §6.2-6.9).

Owns `SessionDescription` and its parts, `parse_sdp` (lenient: LF-only bodies, missing or
extra lines, vendor rtpmaps, empty `f=`, missing `y=`), `SessionDescription.serialise()`
(strict GB line order v, o, s, u, c, t, m, a..., y, f with CRLF, ASCII). `parse_sdp` raises
`SdpError` only when nothing usable is left: no `m=` line (488), no connection address, or
a malformed `m=`/`t=` line (400). The offers and answers we send are built in `sdp_build`.

SSRC policy (allocation, `y=` in answers) belongs to `farmwatch.sipserver.gb.ssrc`; here
`y=` is kept as the text that was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError


class SdpError(RemoteProtocolError):
    """An SDP body we cannot use; answer `status_hint` (400 malformed, 488 unsatisfiable)."""

    def __init__(self, reason: str, status_hint: int = 400) -> None:
        super().__init__(reason, status_hint, can_answer=True)


class SessionName(StrEnum):
    """`s=` values of GB/T 28181 Annex F."""

    PLAY = "Play"
    PLAYBACK = "Playback"
    DOWNLOAD = "Download"
    TALK = "Talk"
    """Two-way audio (对讲), GB/T 28181-2016 Annex F; reported dropped by 2022."""


class MediaProtocol(StrEnum):
    RTP_AVP = "RTP/AVP"
    TCP_RTP_AVP = "TCP/RTP/AVP"

    @property
    def transport(self) -> Transport:
        return Transport.TCP if self is MediaProtocol.TCP_RTP_AVP else Transport.UDP

    @classmethod
    def for_transport(cls, transport: Transport) -> MediaProtocol:
        return cls.TCP_RTP_AVP if transport is Transport.TCP else cls.RTP_AVP


_PROTOCOL_ALIASES = {
    "RTP/AVP": MediaProtocol.RTP_AVP,
    "RTP/AVP/UDP": MediaProtocol.RTP_AVP,
    "TCP/RTP/AVP": MediaProtocol.TCP_RTP_AVP,
    "RTP/AVP/TCP": MediaProtocol.TCP_RTP_AVP,
}


class Direction(StrEnum):
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    SENDRECV = "sendrecv"
    INACTIVE = "inactive"


class Setup(StrEnum):
    """`a=setup:` (RFC 4145): what the SDP's author does. ACTIVE connects, PASSIVE listens."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"

    @property
    def answer(self) -> Setup:
        """The role an answerer takes against this offered role."""
        return Setup.PASSIVE if self is Setup.ACTIVE else Setup.ACTIVE


class ConnectionMode(StrEnum):
    NEW = "new"
    EXISTING = "existing"


class StreamStyle(StrEnum):
    """How main/sub-stream choice is written (gb28181.md §6.2)."""

    STREAMNUMBER = "streamnumber"  # GB/T 28181-2022
    STREAMPROFILE = "streamprofile"  # Dahua
    STREAM = "stream"  # Hikvision
    STREAM_MODE = "streamMode"  # TP-LINK / Mercury: MAIN | SUB


@dataclass(frozen=True, slots=True)
class Origin:
    """`o=<username> <sess-id> <sess-version> IN IP4 <address>`."""

    username: str
    session_id: str
    session_version: str
    address: str
    address_type: str = "IP4"
    network_type: str = "IN"

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.network_type} {self.address_type} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """`c=IN IP4 <address>`."""

    address: str
    address_type: str = "IP4"

    def __str__(self) -> str:
        return f"IN {self.address_type} {self.address}"


_VENDOR_ENCODINGS = frozenset({"HIKVISION", "DAHUA"})


@dataclass(frozen=True, slots=True)
class RtpMap:
    """`a=rtpmap:96 PS/90000`."""

    payload_type: int
    encoding: str
    clock_rate: int
    parameters: str | None = None

    @property
    def is_vendor_private(self) -> bool:
        """`HIKVISION/90000`, `DAHUA/90000`: the vendor's private format, not standard PS."""
        return self.encoding.upper() in _VENDOR_ENCODINGS

    def __str__(self) -> str:
        tail = f"/{self.parameters}" if self.parameters is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


@dataclass(frozen=True, slots=True)
class Attribute:
    """Any other `a=name[:value]` line, as sent."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One `m=` section."""

    port: int
    protocol: MediaProtocol
    payload_types: tuple[int, ...]
    kind: str = "video"
    rtpmaps: tuple[RtpMap, ...] = ()
    direction: Direction | None = None
    setup: Setup | None = None
    connection_mode: ConnectionMode | None = None
    connection: Connection | None = None
    """A media-level `c=`, which overrides the session's."""
    attributes: tuple[Attribute, ...] = ()

    @property
    def transport(self) -> Transport:
        return self.protocol.transport

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        return next((m for m in self.rtpmaps if m.payload_type == payload_type), None)

    def attribute(self, name: str) -> str | None:
        """The value of the first attribute called `name` (any case); '' for a flag."""
        return _find_attribute(self.attributes, name)


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A parsed or built GB/T 28181 SDP body."""

    origin: Origin | None
    session_name: str
    """As sent; compares equal to a `SessionName` member when it is one."""
    connection: Connection | None
    media: tuple[MediaDescription, ...]
    start_time: int = 0
    stop_time: int = 0
    uri: str | None = None
    ssrc: str | None = None
    """`y=` exactly as sent (normally 10 digits)."""
    media_format: str | None = None
    """`f=` raw text; '' when the line is present but empty."""
    attributes: tuple[Attribute, ...] = field(default=())
    """Session-level `a=` lines (before the first `m=`)."""

    def __post_init__(self) -> None:
        if not self.media:
            raise LocalProtocolError("a session description needs at least one m= section")

    @property
    def session_kind(self) -> SessionName | None:
        lower = self.session_name.strip().lower()
        return next((name for name in SessionName if name.lower() == lower), None)

    @property
    def ssrc_value(self) -> int | None:
        """`y=` as the RTP header's SSRC, or None if absent or not a 32-bit decimal."""
        if self.ssrc is None or _SSRC_RE.fullmatch(self.ssrc) is None:
            return None
        value = int(self.ssrc)
        return value if value < 2**32 else None

    @property
    def video(self) -> MediaDescription:
        """The first `m=video` section, else the first section."""
        return next((m for m in self.media if m.kind.lower() == "video"), self.media[0])

    @property
    def media_address(self) -> str:
        """Where the video goes to (offer) or comes from (answer)."""
        connections = (self.video.connection, self.connection, *(m.connection for m in self.media))
        connection = next((c for c in connections if c is not None), None)
        if connection is None:
            raise LocalProtocolError("session description without a connection address")
        return connection.address

    def attribute(self, name: str) -> str | None:
        """An attribute of the video section, else of the session."""
        value = self.video.attribute(name)
        return value if value is not None else _find_attribute(self.attributes, name)

    @property
    def download_speed(self) -> int | None:
        return _to_int(self.attribute("downloadspeed"))

    @property
    def filesize(self) -> int | None:
        return _to_int(self.attribute("filesize"))

    @property
    def stream_number(self) -> int | None:
        """Main (0) / sub (1...) stream from whichever vendor attribute is present."""
        for style in (StreamStyle.STREAMNUMBER, StreamStyle.STREAMPROFILE, StreamStyle.STREAM):
            number = _to_int(self.attribute(style.value))
            if number is not None:
                return number
        mode = (self.attribute(StreamStyle.STREAM_MODE.value) or "").strip().upper()
        return {"MAIN": 0, "SUB": 1}.get(mode)

    def serialise(self) -> bytes:
        """The body in GB line order with CRLF line ends; non-ASCII is a local error."""
        try:
            return self.to_text().encode("ascii")
        except UnicodeEncodeError as error:
            raise LocalProtocolError(f"SDP must be ASCII: {error}") from error

    def to_text(self) -> str:
        origin = self.origin or Origin("-", "0", "0", self.media_address)
        lines = ["v=0", f"o={origin}", f"s={self.session_name or ' '}"]
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines.append(f"t={self.start_time} {self.stop_time}")
        lines.extend(f"a={attribute}" for attribute in self.attributes)
        for media in self.media:
            lines.extend(_media_lines(media))
        if self.ssrc is not None:
            lines.append(f"y={self.ssrc}")
        if self.media_format is not None:
            lines.append(f"f={self.media_format}")
        return "\r\n".join(lines) + "\r\n"


def _media_lines(media: MediaDescription) -> list[str]:
    formats = "".join(f" {pt}" for pt in media.payload_types)
    lines = [f"m={media.kind} {media.port} {media.protocol.value}{formats}"]
    if media.connection is not None:
        lines.append(f"c={media.connection}")
    if media.direction is not None:
        lines.append(f"a={media.direction.value}")
    lines.extend(f"a=rtpmap:{rtpmap}" for rtpmap in media.rtpmaps)
    if media.setup is not None:
        lines.append(f"a=setup:{media.setup.value}")
    if media.connection_mode is not None:
        lines.append(f"a=connection:{media.connection_mode.value}")
    lines.extend(f"a={attribute}" for attribute in media.attributes)
    return lines


_SSRC_RE = re.compile(r"[0-9]{1,10}")
_INT_RE = re.compile(r"-?[0-9]{1,19}")


def _find_attribute(attributes: tuple[Attribute, ...], name: str) -> str | None:
    lower = name.lower()
    found = next((a for a in attributes if a.name.lower() == lower), None)
    return None if found is None else (found.value or "")


def _to_int(text: str | None) -> int | None:
    if text is None or _INT_RE.fullmatch(text.strip()) is None:
        return None
    return int(text.strip())


def parse_sdp(body: bytes | str) -> SessionDescription:
    """Parse a device's or platform's SDP leniently; `SdpError` only when it is unusable."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    parser = _Parser()
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) >= 2 and line[1] == "=":
            parser.feed(line[0].lower(), line[2:].strip())
    return parser.finish()


class _MediaDraft:
    """A media section while its attribute lines are being read."""

    def __init__(self, media: MediaDescription) -> None:
        self.media = media
        self.rtpmaps: list[RtpMap] = []
        self.attributes: list[Attribute] = []

    def finish(self) -> MediaDescription:
        return replace(self.media, rtpmaps=tuple(self.rtpmaps), attributes=tuple(self.attributes))


class _Parser:
    """Accumulates lines; `y=`/`f=` are session-level wherever they appear."""

    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.session_name = ""
        self.uri: str | None = None
        self.connection: Connection | None = None
        self.times: tuple[int, int] | None = None
        self.attributes: list[Attribute] = []
        self.ssrc: str | None = None
        self.media_format: str | None = None
        self.done: list[MediaDescription] = []
        self.current: _MediaDraft | None = None

    def feed(self, kind: str, value: str) -> None:
        if kind == "m":
            self._close_media()
            self.current = _parse_media_line(value)
        elif kind == "a":
            self._attribute(value)
        elif kind == "c":
            self._connection(value)
        elif kind == "o" and self.origin is None:
            self.origin = _parse_origin(value)
        elif kind == "s" and not self.session_name:
            self.session_name = value
        elif kind == "u" and self.uri is None:
            self.uri = value
        elif kind == "t" and self.times is None:
            self.times = _parse_times(value)
        elif kind == "y" and self.ssrc is None:
            self.ssrc = value
        elif kind == "f" and self.media_format is None:
            self.media_format = value

    def _connection(self, value: str) -> None:
        parts = value.split()
        if len(parts) < 3:
            return  # unusable; a missing address is judged in finish()
        connection = Connection(parts[2], parts[1].upper())
        if self.current is None:
            self.connection = self.connection or connection
        elif self.current.media.connection is None:
            self.current.media = replace(self.current.media, connection=connection)

    def _attribute(self, value: str) -> None:
        name, sep, rest = value.partition(":")
        attribute = Attribute(name.strip(), rest.strip() if sep else None)
        if self.current is None:
            self.attributes.append(attribute)
            return
        if not _apply_typed_attribute(self.current, attribute):
            self.current.attributes.append(attribute)

    def _close_media(self) -> None:
        if self.current is not None:
            self.done.append(self.current.finish())
            self.current = None

    def finish(self) -> SessionDescription:
        self._close_media()
        if not self.done:
            raise SdpError("SDP without an m= line", 488)
        if self.connection is None and all(m.connection is None for m in self.done):
            raise SdpError("SDP without a connection address (c=)")
        start, stop = self.times or (0, 0)
        return SessionDescription(
            origin=self.origin,
            session_name=self.session_name,
            connection=self.connection,
            media=tuple(self.done),
            start_time=start,
            stop_time=stop,
            uri=self.uri,
            ssrc=self.ssrc,
            media_format=self.media_format,
            attributes=tuple(self.attributes),
        )


def _apply_typed_attribute(draft: _MediaDraft, attribute: Attribute) -> bool:
    """Fold rtpmap/direction/setup/connection into the draft; False keeps it generic."""
    name, value = attribute.name.lower(), (attribute.value or "").strip().lower()
    if name == "rtpmap":
        rtpmap = _parse_rtpmap(attribute.value or "")
        if rtpmap is not None:
            draft.rtpmaps.append(rtpmap)
        return rtpmap is not None
    if attribute.value is None and name in _DIRECTIONS:
        draft.media = replace(draft.media, direction=_DIRECTIONS[name])
    elif name == "setup" and value in _SETUPS:
        draft.media = replace(draft.media, setup=_SETUPS[value])
    elif name == "connection" and value in _CONNECTION_MODES:
        draft.media = replace(draft.media, connection_mode=_CONNECTION_MODES[value])
    else:
        return False
    return True


_DIRECTIONS = {member.value: member for member in Direction}
_SETUPS = {member.value: member for member in Setup}
_CONNECTION_MODES = {member.value: member for member in ConnectionMode}
_RTPMAP_RE = re.compile(r"([0-9]{1,3})\s+([^/\s]+)/([0-9]{1,10})(?:/(\S*))?")
_PORT_RE = re.compile(r"([0-9]{1,5})(?:/[0-9]+)?")


def _parse_rtpmap(value: str) -> RtpMap | None:
    match = _RTPMAP_RE.fullmatch(value.strip())
    if match is None or int(match.group(1)) > 127:
        return None
    return RtpMap(int(match.group(1)), match.group(2), int(match.group(3)), match.group(4))


def _parse_media_line(value: str) -> _MediaDraft:
    parts = value.split()
    if len(parts) < 3:
        raise SdpError(f"malformed m= line: {value[:80]!r}")
    port_match = _PORT_RE.fullmatch(parts[1])
    if port_match is None or int(port_match.group(1)) > 65535:
        raise SdpError(f"malformed m= port: {value[:80]!r}")
    protocol = _PROTOCOL_ALIASES.get(parts[2].upper())
    if protocol is None:
        raise SdpError(f"unsupported media protocol: {parts[2][:40]!r}", 488)
    formats = []
    for text in parts[3:]:
        if _SSRC_RE.fullmatch(text) is None or int(text) > 127:
            raise SdpError(f"malformed payload type in m= line: {value[:80]!r}")
        formats.append(int(text))
    port = int(port_match.group(1))
    return _MediaDraft(MediaDescription(port, protocol, tuple(formats), kind=parts[0]))


def _parse_origin(value: str) -> Origin | None:
    parts = value.split()
    if len(parts) < 6:
        return None
    return Origin(parts[0], parts[1], parts[2], parts[5], parts[4].upper(), parts[3].upper())


def _parse_times(value: str) -> tuple[int, int]:
    parts = value.split()
    if len(parts) != 2 or not all(_INT_RE.fullmatch(p) for p in parts):
        raise SdpError(f"malformed t= line: {value[:80]!r}")
    return int(parts[0]), int(parts[1])
