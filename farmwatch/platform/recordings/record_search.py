"""Record search (RecordInfo) over a time range, slice by slice, with visible progress.

`RecordSearchService.start` checks the channel and begins a search of the device's
recordings, the platform's own (`source=platform`: the segment index, at once) or both
(`source=all`: spans of each source are kept apart, never merged with the other's). The
device is asked one slice at a time (default 6 h), in order, as LiveGBS does; each slice is
one RecordInfo whose answer may span many MESSAGEs (`DeviceAccess.query_records`
reassembles them by SN). A slice whose messages stop keeps what arrived and is marked
incomplete; a slice the device refused is marked failed with the reason; the search goes on
with the next slice either way (WVP#2232: a day's partial answer must not be thrown away).
The records found so far are merged after every slice (`merge_spans`), so a caller polling
`get(search_id)` sees the timeline fill in. Finished searches stay readable for
`keep_finished` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.platform.errors import DeviceOffline, InvalidInput, NotFound
from farmwatch.platform.recordings.record_spans import (
    RecordSource,
    RecordSpan,
    format_device_time,
    merge_spans,
    slice_range,
    spans_from_items,
)
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.errors import SipError

__all__ = ["RecordSearch", "RecordSearchService", "SearchSlice", "SearchSource", "SliceState"]

log = logging.getLogger(__name__)

MAX_RANGE = timedelta(days=31)
"""The longest range one search may cover (a month of slices is already 124 queries)."""


class SearchSource(StrEnum):
    DEVICE = "device"
    PLATFORM = "platform"
    ALL = "all"


class SliceState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    """The device's messages stopped before SumNum records arrived: what came is kept."""
    FAILED = "failed"
    """The device refused the query or could not be reached."""


@dataclass(slots=True)
class SearchSlice:
    start: datetime
    end: datetime
    state: SliceState = SliceState.PENDING
    received: int = 0
    expected: int | None = None
    error: str | None = None


@dataclass(slots=True)
class RecordSearch:
    """One search and where it stands; `spans` are the merged records found so far."""

    search_id: str
    channel_id: str
    device_id: str
    start: datetime
    end: datetime
    source: SearchSource
    slices: list[SearchSlice]
    spans: list[RecordSpan] = field(default_factory=list)
    unreadable: int = 0
    """Records dropped because their times could not be read."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float | None = None

    @property
    def is_finished(self) -> bool:
        return self.done.is_set()

    @property
    def is_complete(self) -> bool:
        """Every slice answered in full."""
        return all(s.state is SliceState.COMPLETE for s in self.slices)


class RecordSearchService:
    """Searches of device recordings; one task per search, slices asked one after another."""

    def __init__(
        self,
        access: DeviceAccess,
        channels: ChannelRepository,
        segments: RecordingRepository,
        *,
        zone: ZoneInfo,
        slice_length: timedelta = timedelta(hours=6),
        keep_finished: float = 600.0,
        max_searches: int = 256,
    ) -> None:
        self._access = access
        self._channels = channels
        self._segments = segments
        self.zone = zone
        self._slice_length = slice_length
        self._keep_finished = keep_finished
        self._max_searches = max_searches
        self._searches: OrderedDict[str, RecordSearch] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def start(
        self, channel_id: str, start: datetime, end: datetime, source: SearchSource
    ) -> RecordSearch:
        """Begin a search of `channel_id` between two aware times; raises `NotFound`,
        `DeviceOffline` (the device's recordings of an offline device), `InvalidInput`."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("record search times must be aware")
        if end <= start:
            raise InvalidInput("end: must be after start")
        if end - start > MAX_RANGE:
            raise InvalidInput(f"a search may cover at most {MAX_RANGE.days} days")
        channel = await self._channels.get(channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        asks_device = source is not SearchSource.PLATFORM
        offline = not self._access.is_online(channel.device_id)
        if source is SearchSource.DEVICE and offline:
            raise DeviceOffline(f"device {channel.device_id} of channel {channel_id} is offline")
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        slices = slice_range(local_start, local_end, self._slice_length) if asks_device else []
        search = RecordSearch(
            secrets.token_urlsafe(9),
            channel_id,
            channel.device_id,
            local_start,
            local_end,
            source,
            [SearchSlice(a, b) for a, b in slices],
        )
        if asks_device and offline:  # source=all: the platform's records still come
            for piece in search.slices:
                piece.state = SliceState.FAILED
                piece.error = f"device {channel.device_id} is offline"
        found: list[RecordSpan] = []
        if source is not SearchSource.DEVICE:
            found = await self.platform_spans(channel_id, local_start, local_end)
            search.spans = merge_spans(found, local_start, local_end)
        self._remember(search)
        self._spawn(self._run(search, found))
        return search

    async def platform_spans(
        self, channel_id: str, start: datetime, end: datetime
    ) -> list[RecordSpan]:
        segments = await self._segments.segments_between(channel_id, start, end)
        return [
            RecordSpan(
                s.start_at.astimezone(self.zone),
                s.end_at.astimezone(self.zone),
                RecordSource.PLATFORM,
                file_path=s.path,
                address=s.location,
                record_type="time",
                file_size=s.bytes,
                stream_number=0,
                record_location="0",  # [2022] 0: central storage
            )
            for s in segments
        ]

    def has_search(self, search_id: str) -> bool:
        """Whether the search is still kept (running, or finished within the last minutes)."""
        self._forget_old()
        return search_id in self._searches

    def get(self, search_id: str) -> RecordSearch:
        self._forget_old()
        search = self._searches.get(search_id)
        if search is None:
            raise NotFound(f"no record search {search_id}")
        return search

    async def _run(self, search: RecordSearch, found: list[RecordSpan]) -> None:
        try:
            for piece in search.slices:
                if piece.state is SliceState.FAILED:
                    continue
                piece.state = SliceState.RUNNING
                await self._run_slice(search, piece, found)
                search.spans = merge_spans(found, search.start, search.end)
        finally:
            for piece in search.slices:
                if piece.state in (SliceState.PENDING, SliceState.RUNNING):
                    piece.state, piece.error = SliceState.FAILED, "search stopped"
            search.finished_at = asyncio.get_running_loop().time()
            search.done.set()
            log.info("record search %s of channel %s: %d records, %s", search.search_id,
                     search.channel_id, len(search.spans),
                     "complete" if search.is_complete else "incomplete")  # fmt: skip

    async def _run_slice(
        self, search: RecordSearch, piece: SearchSlice, found: list[RecordSpan]
    ) -> None:
        try:
            result = await self._access.query_records(
                search.device_id,
                search.channel_id,
                format_device_time(piece.start, self.zone),
                format_device_time(piece.end, self.zone),
            )
        except SipError as error:
            piece.state, piece.error = SliceState.FAILED, str(error)
            log.info("record search %s: slice %s failed: %s", search.search_id,
                     piece.start.isoformat(), error)  # fmt: skip
            return
        spans, unreadable = spans_from_items(result.items, self.zone)
        found.extend(spans)
        search.unreadable += unreadable
        piece.received, piece.expected = len(result.items), result.expected
        piece.state = SliceState.COMPLETE if result.is_complete else SliceState.INCOMPLETE
        if not result.is_complete:
            piece.error = (
                f"the device's answer stopped after {len(result.items)} of "
                f"{result.expected if result.expected is not None else 'an unknown number of'}"
                " records"
            )

    def _remember(self, search: RecordSearch) -> None:
        self._forget_old()
        while len(self._searches) >= self._max_searches:
            oldest_id, oldest = next(iter(self._searches.items()))
            if not oldest.is_finished:
                break  # never forget a running one; the bound is soft while they run
            del self._searches[oldest_id]
        self._searches[search.search_id] = search

    def _forget_old(self) -> None:
        now = asyncio.get_running_loop().time()
        for search_id, search in list(self._searches.items()):
            if search.finished_at is not None and now - search.finished_at > self._keep_finished:
                del self._searches[search_id]

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
