"""Record search over HTTP: `GET /api/channels/{id}/records` and its progress.

Times in and out are ISO local times of the platform's zone (`2024-01-01T08:00:00`; an
offset, if given, is honoured). The search waits until every slice has answered, unless
`wait=false`: then it answers 202 at once and `GET /api/record-searches/{id}` shows the
slices and the records found so far while it runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.recordings.record_search import RecordSearch, SearchSource
from farmwatch.platform.recordings.record_spans import RecordSpan
from farmwatch.web.authorization import note_opened
from farmwatch.web.keys import RECORD_SEARCH

routes = web.RouteTableDef()


def local_time_param(request: web.Request, name: str, zone: ZoneInfo) -> datetime:
    """A required ISO time parameter, read in `zone` unless it carries an offset."""
    text = request.query.get(name)
    if text is None:
        raise InvalidInput(f"{name}: required (ISO local time, e.g. 2024-01-01T08:00:00)")
    return parse_local_time(name, text, zone)


def parse_local_time(name: str, text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text[:40])
        # An offset far from the zone's at the edge of the calendar overflows here.
        return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{name}: expected an ISO time such as 2024-01-01T08:00:00, got {text[:40]!r}"
        ) from None


def _source_param(request: web.Request) -> SearchSource:
    text = request.query.get("source", "device")
    try:
        return SearchSource(text)
    except ValueError:
        raise InvalidInput(f"source: expected device, platform or all, got {text[:20]!r}") from None


def local_text(moment: datetime) -> str:
    """An aware time as the API writes it: ISO local time of its own zone, no offset."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def _span_view(span: RecordSpan) -> dict[str, Any]:
    return {
        "start": local_text(span.start),
        "end": local_text(span.end),
        "source": span.source.value,
        "name": span.name,
        "file_path": span.file_path,
        "address": span.address,
        "type": span.record_type,
        "secrecy": span.secrecy,
        "recorder_id": span.recorder_id,
        "file_size": span.file_size,
        "stream_number": span.stream_number,
        "record_location": span.record_location,
    }


def search_view(search: RecordSearch) -> dict[str, Any]:
    zone = search.start.tzinfo
    return {
        "search": search.search_id,
        "channel_id": search.channel_id,
        "device_id": search.device_id,
        "timezone": str(zone),
        "start": local_text(search.start),
        "end": local_text(search.end),
        "source": search.source.value,
        "finished": search.is_finished,
        "complete": search.is_complete,
        "slices": [
            {
                "start": local_text(piece.start),
                "end": local_text(piece.end),
                "state": piece.state.value,
                "received": piece.received,
                "expected": piece.expected,
                "error": piece.error,
            }
            for piece in search.slices
        ],
        "unreadable": search.unreadable,
        "records": [_span_view(span) for span in search.spans],
    }


@routes.get("/channels/{channel_id}/records")
async def search_records(request: web.Request) -> web.Response:
    service = request.app[RECORD_SEARCH]
    wait = request.query.get("wait", "true").lower()
    if wait not in ("true", "false"):
        raise InvalidInput(f"wait: expected true or false, got {wait[:10]!r}")
    start = local_time_param(request, "start", service.zone)
    end = local_time_param(request, "end", service.zone)
    search = await service.start(
        request.match_info["channel_id"], start, end, _source_param(request)
    )
    note_opened(request, search.search_id, (start, end))
    if wait == "false":
        return web.json_response(search_view(search), status=202)
    await search.done.wait()
    return web.json_response(search_view(search))


@routes.get("/record-searches/{search_id}")
async def search_progress(request: web.Request) -> web.Response:
    search = request.app[RECORD_SEARCH].get(request.match_info["search_id"])
    return web.json_response(search_view(search))
