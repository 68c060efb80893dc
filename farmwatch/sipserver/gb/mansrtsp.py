"""MANSRTSP: the playback control bodies carried by INFO (gb28181.md §7, §11.6; 2016 Annex B).

A request is a request line, headers and a blank line: `PLAY RTSP/1.0` with `Scale` and/or
`Range: npt=<s>-` (seconds from the start of the playback's `t=` range, or `now`), `PAUSE`
with `PauseTime: now`, `TEARDOWN`. The `CSeq` is MANSRTSP's own counter. We send `RTSP/1.0`
(wvp does; devices accept it) and accept `MANSRTSP/1.0` too; the answer, `RTSP/1.0 200 OK`
with the same CSeq and, from 2022 devices, an `RTP-Info`, may ride in the INFO's 2xx or be
absent altogether. Scale is written with up to six decimals and no trailing zeros beyond
one (`2.0`, `0.25`). Pure: bytes in, values out; anything unreadable raises `MansrtspError`.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

from farmwatch.sipserver.sip.errors import RemoteProtocolError

__all__ = [
    "MAX_BODY",
    "MansrtspError",
    "MansrtspMethod",
    "MansrtspRequest",
    "MansrtspResponse",
    "build_mansrtsp_request",
    "build_mansrtsp_response",
    "format_scale",
    "parse_mansrtsp_request",
    "parse_mansrtsp_response",
]

MAX_BODY = 2048
"""A control body is a few lines; anything longer is not one."""
VERSIONS = ("RTSP/1.0", "MANSRTSP/1.0")
_NPT = re.compile(r"npt\s*=\s*(now|\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)?\s*$", re.IGNORECASE)


class MansrtspError(RemoteProtocolError):
    """A body that is not a MANSRTSP request or answer we can read."""


class MansrtspMethod(enum.StrEnum):
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    TEARDOWN = "TEARDOWN"


@dataclass(frozen=True, slots=True)
class MansrtspRequest:
    """One control request.

    `range_start`: seconds from the playback's `t=` start to play from; None with
    `range_now` True is `npt=now-` (resume where it paused); both unset: no Range.
    `scale`: the speed (negative: reverse, 2022), None when not sent.
    """

    method: MansrtspMethod
    cseq: int
    scale: float | None = None
    range_start: float | None = None
    range_now: bool = False
    pause_now: bool = False

    def __post_init__(self) -> None:
        if self.cseq < 0:
            raise ValueError(f"MANSRTSP CSeq must not be negative: {self.cseq}")
        if self.range_start is not None and (
            self.range_now or not math.isfinite(self.range_start) or self.range_start < 0
        ):
            raise ValueError(f"MANSRTSP Range must be a time >= 0 or now: {self.range_start}")
        if self.scale is not None and (not math.isfinite(self.scale) or self.scale == 0):
            raise ValueError(f"MANSRTSP Scale must be a non-zero number: {self.scale}")

    @classmethod
    def pause(cls, cseq: int) -> MansrtspRequest:
        return cls(MansrtspMethod.PAUSE, cseq, pause_now=True)

    @classmethod
    def resume(cls, cseq: int) -> MansrtspRequest:
        return cls(MansrtspMethod.PLAY, cseq, range_now=True)

    @classmethod
    def seek(cls, cseq: int, seconds: float) -> MansrtspRequest:
        return cls(MansrtspMethod.PLAY, cseq, range_start=seconds)

    @classmethod
    def speed(cls, cseq: int, scale: float) -> MansrtspRequest:
        return cls(MansrtspMethod.PLAY, cseq, scale=scale)

    @classmethod
    def teardown(cls, cseq: int) -> MansrtspRequest:
        return cls(MansrtspMethod.TEARDOWN, cseq)


@dataclass(frozen=True, slots=True)
class MansrtspResponse:
    """The MANSRTSP answer (`RTSP/1.0 200 OK`), when the device put one in its 2xx."""

    status: int
    reason: str
    cseq: int | None
    rtp_info: str | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


def format_scale(scale: float) -> str:
    """`2.0`, `0.25`, `-1.0`: at most six decimals, at least one."""
    text = f"{scale:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:.3f}".rstrip("0")


def build_mansrtsp_request(request: MansrtspRequest) -> bytes:
    """The body of the INFO, as §11.6 shows it (CRLF line ends, a final blank line)."""
    lines = [f"{request.method.value} RTSP/1.0", f"CSeq: {request.cseq}"]
    if request.method is MansrtspMethod.PAUSE and request.pause_now:
        lines.append("PauseTime: now")
    if request.scale is not None:
        lines.append(f"Scale: {format_scale(request.scale)}")
    if request.range_now:
        lines.append("Range: npt=now-")
    elif request.range_start is not None:
        lines.append(f"Range: npt={_format_seconds(request.range_start)}-")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def build_mansrtsp_response(
    cseq: int, status: int = 200, reason: str = "OK", *, rtp_info: str | None = None
) -> bytes:
    """What a device answers in the 2xx of the INFO (the simulator's side)."""
    lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {cseq}"]
    if rtp_info is not None:
        lines.append(f"RTP-Info: {rtp_info}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _lines(body: bytes) -> tuple[str, dict[str, str]]:
    if len(body) > MAX_BODY:
        raise MansrtspError(f"MANSRTSP body of {len(body)} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MansrtspError("MANSRTSP body is not text") from error
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise MansrtspError("empty MANSRTSP body")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:  # a line that is not a header is ignored, as RTSP peers do
            headers[name.strip().casefold()] = value.strip()
    return lines[0], headers


def _is_ascii_number(text: str) -> bool:
    # str.isdigit() admits "²" and other digits int() refuses
    return text.isascii() and text.isdigit()


def _cseq(headers: dict[str, str]) -> int | None:
    text = headers.get("cseq")
    if text is None or not _is_ascii_number(text) or len(text) > 10:
        return None
    return int(text)


def parse_mansrtsp_request(body: bytes) -> MansrtspRequest:
    """A control request as a device receives it; raises `MansrtspError`."""
    first, headers = _lines(body)
    parts = first.split()
    if len(parts) != 2 or parts[1].upper() not in VERSIONS:
        raise MansrtspError(f"not a MANSRTSP request line: {first[:60]!r}")
    try:
        method = MansrtspMethod(parts[0].upper())
    except ValueError:
        raise MansrtspError(f"unknown MANSRTSP method {parts[0][:20]!r}") from None
    cseq = _cseq(headers)
    if cseq is None:
        raise MansrtspError("MANSRTSP request without a numeric CSeq")
    scale = None
    if "scale" in headers:
        try:
            scale = float(headers["scale"])
        except ValueError:
            raise MansrtspError(f"unreadable Scale {headers['scale'][:20]!r}") from None
        if not math.isfinite(scale) or scale == 0:
            raise MansrtspError(f"unusable Scale {headers['scale'][:20]!r}")
    range_start, range_now = None, False
    if "range" in headers:
        match = _NPT.match(headers["range"])
        if match is None:
            raise MansrtspError(f"unreadable Range {headers['range'][:40]!r}")
        if match.group(1).lower() == "now":
            range_now = True
        else:
            range_start = float(match.group(1))
    pause_now = headers.get("pausetime", "").lower() == "now"
    return MansrtspRequest(method, cseq, scale, range_start, range_now, pause_now)


def parse_mansrtsp_response(body: bytes) -> MansrtspResponse:
    """The MANSRTSP answer in an INFO's 2xx (`RTSP/1.0` or `MANSRTSP/1.0`)."""
    first, headers = _lines(body)
    version, _, rest = first.partition(" ")
    status_text, _, reason = rest.strip().partition(" ")
    if (
        version.upper() not in VERSIONS
        or not _is_ascii_number(status_text)
        or len(status_text) != 3
    ):
        raise MansrtspError(f"not a MANSRTSP status line: {first[:60]!r}")
    return MansrtspResponse(int(status_text), reason.strip(), _cseq(headers),
                            headers.get("rtp-info"))  # fmt: skip
