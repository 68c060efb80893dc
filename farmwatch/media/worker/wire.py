"""The media workers' control channel: what travels between the platform and a worker.

The channel is plain HTTP/1.1 with JSON bodies over a Unix domain socket (aiohttp on both
sides): a well-known mechanism anyone can read with `curl --unix-socket`, and the same
requests work over TCP to a media host on another machine. One request per `MediaNode`
method; the fMP4 bytes of a viewer stream back as the body of a GET; what the worker tells
the platform (a stream closed, a keyframe is needed, an output closed, a recorded segment
closed, its load each second) comes as JSON messages on one WebSocket (`/events`). Times
travel as ISO 8601 text with their UTC offset, paths as text, codecs by their value. Errors
come back as JSON with the status a `MediaError` maps to, and are raised again on the platform
side as the same types, so the platform cannot tell a remote node from a local one. Pure.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.events import (
    MediaConnectFailed,
    MediaStartTimedOut,
    MediaStopped,
    PeerClosed,
    ReceiverEvent,
    RecordingEnded,
)
from farmwatch.media.frames import Codec
from farmwatch.media.manager import IngestTotals
from farmwatch.media.node import DownloadResult, NodeStats, RecordingSpec, RelaySpec, RelayTransport
from farmwatch.media.ports import PortsExhausted
from farmwatch.media.stream import StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress

if TYPE_CHECKING:
    from farmwatch.media.sinks.segment_recorder import RecordedSegment

__all__ = [
    "download_from_json",
    "download_to_json",
    "error_body",
    "error_from_body",
    "progress_from_json",
    "progress_to_json",
    "recording_spec_from_json",
    "relay_spec_from_json",
    "relay_spec_to_json",
    "segment_from_json",
    "segment_to_json",
    "stats_from_json",
    "stats_to_json",
]

_CAUSES: dict[str, type[Any]] = {
    "MediaConnectFailed": MediaConnectFailed,
    "MediaStartTimedOut": MediaStartTimedOut,
    "MediaStopped": MediaStopped,
    "PeerClosed": PeerClosed,
    "RecordingEnded": RecordingEnded,
}


def error_body(error: MediaError) -> tuple[int, dict[str, Any]]:
    """The status and JSON body that carry `error` to the platform."""
    body: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, StreamClosedError):
        body["reason"] = error.reason.value
        cause = error.cause
        if cause is not None and type(cause).__name__ in _CAUSES:
            body["cause"] = {"type": type(cause).__name__, **dataclasses.asdict(cause)}
        return 409, body
    if isinstance(error, InvalidOffer):
        return 400, body
    if isinstance(error, PortsExhausted):
        return 503, body
    return 500, body


def error_from_body(body: Any) -> MediaError:
    """The `MediaError` a worker's error body describes (a plain one when it is unknown)."""
    if not isinstance(body, dict):
        return MediaError(f"media worker answered {body!r}")
    kind, message = body.get("error"), str(body.get("message", ""))
    if kind == "StreamClosedError":
        try:
            reason = CloseReason(str(body.get("reason")))
        except ValueError:
            reason = CloseReason.REQUESTED
        return StreamClosedError(reason, _cause(body.get("cause")))
    if kind == "InvalidOffer":
        return InvalidOffer(message)
    if kind == "PortsExhausted":
        return PortsExhausted(message)
    return MediaError(message or "media worker failed")


def _cause(data: Any) -> ReceiverEvent | None:
    if not isinstance(data, dict):
        return None
    cause_type = _CAUSES.get(str(data.get("type")))
    if cause_type is None:
        return None
    fields = {field.name for field in dataclasses.fields(cause_type)}
    values = {key: value for key, value in data.items() if key in fields}
    if "address" in values and isinstance(values["address"], list):
        values["address"] = tuple(values["address"])
    try:
        event: ReceiverEvent = cause_type(**values)
    except TypeError:
        return None
    return event


def progress_to_json(progress: StreamProgress) -> dict[str, Any]:
    return dataclasses.asdict(progress)


def progress_from_json(data: dict[str, Any]) -> StreamProgress:
    return StreamProgress(**data)


def recording_spec_from_json(data: dict[str, Any]) -> RecordingSpec:
    return RecordingSpec(
        directory=str(data["directory"]),
        zone=str(data["zone"]),
        segment_seconds=float(data["segment_seconds"]),
    )


def relay_spec_to_json(spec: RelaySpec) -> dict[str, Any]:
    return {**dataclasses.asdict(spec), "transport": spec.transport.value}


def relay_spec_from_json(data: dict[str, Any]) -> RelaySpec:
    return RelaySpec(
        host=str(data["host"]),
        port=int(data["port"]),
        transport=RelayTransport(data["transport"]),
        ssrc=int(data["ssrc"]),
        payload_type=int(data.get("payload_type", 96)),
    )


def download_to_json(result: DownloadResult | None) -> dict[str, Any]:
    return {"result": None if result is None else dataclasses.asdict(result)}


def download_from_json(data: dict[str, Any]) -> DownloadResult | None:
    result = data["result"]
    return None if result is None else DownloadResult(**result)


def segment_to_json(segment: RecordedSegment) -> dict[str, Any]:
    return {
        "path": str(segment.path),
        "start": segment.start.isoformat(),
        "end": segment.end.isoformat(),
        "frame_count": segment.frame_count,
        "byte_count": segment.byte_count,
        "codec": segment.codec.value,
        "width": segment.width,
        "height": segment.height,
    }


def segment_from_json(data: dict[str, Any]) -> RecordedSegment:
    # The recorder's module (PyAV) is loaded by the platform side with the first segment.
    from farmwatch.media.sinks.segment_recorder import RecordedSegment

    return RecordedSegment(
        path=Path(data["path"]),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        frame_count=int(data["frame_count"]),
        byte_count=int(data["byte_count"]),
        codec=Codec(data["codec"]),
        width=int(data["width"]),
        height=int(data["height"]),
    )


def stats_to_json(stats: NodeStats) -> dict[str, Any]:
    return dataclasses.asdict(stats)


def stats_from_json(data: dict[str, Any]) -> NodeStats:
    ingest = IngestTotals(**data["ingest"])
    return NodeStats(**{**data, "ingest": ingest})
