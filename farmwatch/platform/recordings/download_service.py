"""Downloads of recorded video into one MP4 file, as tasks that outlive their sessions.

`DownloadService.create` records a task (`pending`) and runs it: from the device, an
`s=Download` INVITE with `a=downloadspeed` (gb28181.md §6.9, §11.7) whose stream is written
by the media layer into one file, with backpressure instead of drops at 4× (TCP); from the
platform's own recordings, a copy of the segments. Progress is media time received ÷ the
span asked for, never `a=filesize`, which devices fill with −1 or 0 (field-notes pitfalls 13,
20); it only rises. The task is `completed` on MediaStatus 121 (matched by Call-ID), or
when the media has been silent for `end_silence` seconds with the timestamps near the end
(devices that never send 121), or when the device hangs up after sending nearly all of it;
otherwise `failed` with the reason. The finished file is named by time and location (art.
21): `downloads/{location}/{channel}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}_{task}.mp4` under the
storage folder. Tasks live in the database: a finished one stays readable after its session
is gone, and one cut by a platform restart is marked failed at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.manager import MediaTransport
from farmwatch.media.stream_core import CloseReason
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PlatformError
from farmwatch.platform.recordings.platform_recording import location_of
from farmwatch.platform.recordings.record_spans import RecordSource
from farmwatch.platform.recordings.recording_copy import SegmentFile, copy_recording
from farmwatch.platform.recordings.records import DownloadState, DownloadTask
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.services.stream_starter import DeviceStreamStarter, StreamRequest
from farmwatch.sipserver.call_types import CallEndReason, EstablishedCall
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.ssrc import SsrcAllocator, SsrcKind
from farmwatch.sipserver.sip.sdp import SessionDescription
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_download_offer

__all__ = ["DOWNLOAD_SPEEDS", "DownloadService"]

log = logging.getLogger(__name__)

STREAM_KEY_PREFIX = "dl-"
DOWNLOADS_FOLDER = "downloads"
DOWNLOAD_SPEEDS = (1, 2, 4, 8)
MAX_SPAN = timedelta(hours=24)
_WATCH_INTERVAL = 0.5
_SAVE_EVERY = 2.0
_NEARLY_ALL = 0.97
"""Received share that counts as the whole range when the device stops without 121."""
_MISSING_SLACK = 3.0
"""Seconds a complete file may lack (it starts at a key frame, the last frame is short)."""


@dataclass(slots=True)
class _Running:
    task: DownloadTask
    location: str
    stream_key: str = ""
    call: EstablishedCall | None = None
    partial: Path | None = None
    finishing: bool = False
    saved_at: float = 0.0
    cancelled: bool = False
    file_end: bool = False
    """The device said it sent the whole range (MediaStatus 121)."""


class DownloadService:
    """Download tasks of device and platform recordings."""

    def __init__(
        self,
        repository: RecordingRepository,
        media: MediaCluster,
        calls: Calls,
        access: DeviceAccess,
        channels: ChannelRepository,
        *,
        platform_id: str,
        storage: Path,
        zone: ZoneInfo,
        transport: MediaTransport = MediaTransport.TCP_PASSIVE,
        invite_timeout: float = 10.0,
        end_silence: float = 3.0,
    ) -> None:
        self._repository = repository
        self._media = media
        self._calls = calls
        self._channels = channels
        self._starter = DeviceStreamStarter(media, calls, access)
        self._platform_id = platform_id
        self._storage = storage
        self.zone = zone
        self._transport = transport
        self._invite_timeout = invite_timeout
        self._end_silence = end_silence
        self._ssrc = SsrcAllocator(platform_id)
        self._running: dict[str, _Running] = {}
        self._by_call: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Tasks a stopped platform left unfinished are failed, their partial files gone."""
        for task in await self._repository.unfinished_downloads():
            await self._repository.update_download(
                replace(
                    task,
                    state=DownloadState.FAILED,
                    error="interrupted by a platform restart",
                    finished_at=datetime.now(UTC),
                )  # fmt: skip
            )
            log.info("download %s failed: interrupted by a platform restart", task.id)

    async def close(self) -> None:
        for running in list(self._running.values()):
            running.cancelled = True
            await self._stop_media(running, abort=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the API -----------------------------------------------------------------------

    async def create(
        self,
        channel_id: str,
        start: datetime,
        end: datetime,
        *,
        speed: int = 4,
        source: RecordSource = RecordSource.DEVICE,
        transport: MediaTransport | None = None,
    ) -> DownloadTask:
        if end <= start:
            raise InvalidInput("end: must be after start")
        if end - start > MAX_SPAN:
            raise InvalidInput("a download may cover at most 24 hours")
        if speed not in DOWNLOAD_SPEEDS:
            raise InvalidInput(f"speed: expected one of {', '.join(map(str, DOWNLOAD_SPEEDS))}")
        channel = await self._channels.get(channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        now = datetime.now(UTC)
        task = DownloadTask(
            secrets.token_hex(8), channel_id, channel.device_id, source.value,
            start.astimezone(UTC), end.astimezone(UTC), speed, DownloadState.PENDING, 0.0, None,
            None, None, now, None,
        )  # fmt: skip
        await self._repository.add_download(task)
        running = _Running(task, location_of(channel_id, channel.data.civil_code))
        self._running[task.id] = running
        if source is RecordSource.PLATFORM:
            self._spawn(self._copy_from_platform(running))
        else:
            self._spawn(self._download_from_device(running, transport or self._transport))
        log.info("download %s of channel %s from %s to %s (%s, %d×) created", task.id,
                 channel_id, _local(start, self.zone), _local(end, self.zone), source.value,
                 speed)  # fmt: skip
        return task

    async def get(self, task_id: str) -> DownloadTask:
        running = self._running.get(task_id)
        if running is not None:
            return running.task
        task = await self._repository.get_download(task_id)
        if task is None:
            raise NotFound(f"no download {task_id}")
        return task

    async def file(self, task_id: str) -> Path:
        task = await self.get(task_id)
        if task.state is not DownloadState.COMPLETED or task.path is None:
            raise Conflict(f"download {task_id} is {task.state.value}, it has no file yet")
        path = self._storage / task.path
        if not path.is_file():
            raise NotFound(f"the file of download {task_id} is gone")
        return path

    async def cancel(self, task_id: str) -> DownloadTask:
        running = self._running.get(task_id)
        if running is None:
            task = await self.get(task_id)
            if task.state.is_final:
                raise Conflict(f"download {task_id} is already {task.state.value}")
            return task
        running.cancelled = True
        await self._stop_media(running, abort=True)
        return await self._finish(running, DownloadState.CANCELLED, "cancelled")

    # -- from the device ---------------------------------------------------------------

    async def _download_from_device(self, running: _Running, transport: MediaTransport) -> None:
        task = running.task
        running.stream_key = STREAM_KEY_PREFIX + task.id
        ssrc = self._ssrc.allocate(SsrcKind.HISTORY)

        def offer(media: MediaEndpoint) -> SessionDescription:
            return build_download_offer(
                sender_id=self._platform_id, endpoint=media, ssrc=ssrc.text,
                channel_id=task.channel_id, start=math.floor(task.start_at.timestamp()),
                stop=math.ceil(task.end_at.timestamp()), download_speed=task.speed,
            )  # fmt: skip

        def confirmed(call: EstablishedCall) -> None:
            running.call = call
            self._by_call[call.call_id] = task.id

        request = StreamRequest(running.stream_key, task.device_id, task.channel_id, transport,
                                ssrc, offer, self._invite_timeout,
                                what="the download INVITE")  # fmt: skip
        try:
            await self._starter.start(request, on_call=confirmed)
            running.partial = self._temporary_path(task)
            running.partial.parent.mkdir(parents=True, exist_ok=True)
            await self._media.start_download(running.stream_key, str(running.partial))
            await self._update(running, state=DownloadState.DOWNLOADING)
            await self._watch(running)
        except (PlatformError, MediaError, OSError) as error:
            if not running.cancelled:
                await self._stop_media(running, abort=True)
                await self._finish(running, DownloadState.FAILED, str(error))
        finally:
            self._ssrc.release(ssrc)

    async def _watch(self, running: _Running) -> None:
        """Follow the media until the range is in (or the stream ends)."""
        span = (running.task.end_at - running.task.start_at).total_seconds()
        while not running.finishing and not running.cancelled:
            await asyncio.sleep(_WATCH_INTERVAL)  # progress is sampled, not pushed
            try:
                progress = await self._media.stream_progress(running.stream_key)
            except MediaError:
                break  # the stream is gone: finish with what arrived
            received = progress.media_seconds
            await self._progress(running, received / span)
            silent = progress.seconds_since_last_frame
            if (
                silent is not None
                and silent >= self._end_silence
                and running.task.progress >= _NEARLY_ALL
            ):
                log.info("download %s: media silent at %.0f %% (no MediaStatus 121): done",
                         running.task.id, running.task.progress * 100)  # fmt: skip
                break
        if not running.cancelled:
            await self._complete(running)

    async def _progress(self, running: _Running, fraction: float) -> None:
        fraction = min(max(fraction, running.task.progress), 0.999)  # 1.0 once the file is
        loop = asyncio.get_running_loop()
        if fraction > running.task.progress:
            running.task = replace(running.task, progress=fraction)
            if loop.time() - running.saved_at >= _SAVE_EVERY:
                running.saved_at = loop.time()
                await self._repository.update_download(running.task)

    async def _complete(self, running: _Running) -> None:
        running.finishing = True
        try:
            result = await self._media.finish_download(running.stream_key)
        except MediaError as error:
            result = None
            log.warning("download %s: the file could not be finished: %s", running.task.id,
                        error)  # fmt: skip
        await self._stop_media(running, abort=False)
        task = running.task
        span = (task.end_at - task.start_at).total_seconds()
        if result is None or running.partial is None:
            await self._finish(running, DownloadState.FAILED, "no video was received")
            return
        missing = span - result.duration_seconds
        if not running.file_end and missing > max(_MISSING_SLACK, span * (1 - _NEARLY_ALL)):
            self._discard(running)
            share = result.duration_seconds / span
            await self._finish(running, DownloadState.FAILED,
                               f"the device stopped after {share:.0%} of the range")  # fmt: skip
            return
        final = self._final_path(task, result.duration_seconds)
        final.parent.mkdir(parents=True, exist_ok=True)
        running.partial.rename(final)
        relative = final.relative_to(self._storage).as_posix()
        running.task = replace(task, path=relative, bytes=result.byte_count, progress=1.0)
        await self._finish(running, DownloadState.COMPLETED, None)

    # -- from platform recordings --------------------------------------------------------

    async def _copy_from_platform(self, running: _Running) -> None:
        task = running.task
        segments = await self._repository.segments_between(task.channel_id, task.start_at,
                                                           task.end_at)  # fmt: skip
        if not segments:
            await self._finish(running, DownloadState.FAILED,
                               "the platform has no recording in this range")  # fmt: skip
            return
        parts = [SegmentFile(self._storage / s.path, s.start_at) for s in segments]
        running.partial = self._temporary_path(task)
        running.partial.parent.mkdir(parents=True, exist_ok=True)
        await self._update(running, state=DownloadState.DOWNLOADING)
        span = (task.end_at - task.start_at).total_seconds()
        loop = asyncio.get_running_loop()

        def progress(seconds: float) -> None:
            loop.call_soon_threadsafe(self._spawn, self._progress(running, seconds / span))

        try:
            result = await asyncio.to_thread(
                copy_recording, parts, task.start_at, task.end_at, running.partial, progress,
                lambda: running.cancelled,
            )  # fmt: skip
        except (MediaError, OSError) as error:
            await self._finish(running, DownloadState.FAILED, f"copy failed: {error}")
            return
        if running.cancelled:
            return
        if result is None:
            await self._finish(running, DownloadState.FAILED, "no video in this range")
            return
        final = self._final_path(task, result.duration.total_seconds())
        final.parent.mkdir(parents=True, exist_ok=True)
        running.partial.rename(final)
        running.task = replace(task, path=final.relative_to(self._storage).as_posix(),
                               bytes=result.byte_count, progress=1.0)  # fmt: skip
        await self._finish(running, DownloadState.COMPLETED, None)

    # -- ending --------------------------------------------------------------------------

    async def _stop_media(self, running: _Running, *, abort: bool) -> None:
        if not running.stream_key:
            return
        if abort:
            with contextlib.suppress(MediaError):  # no stream: nothing is being written
                await self._media.abort_download(running.stream_key)
            self._discard(running)
        if running.call is not None:
            self._by_call.pop(running.call.call_id, None)
            await self._calls.bye(running.call)
        with contextlib.suppress(MediaError):  # closed already
            await self._media.close_stream(running.stream_key, CloseReason.PEER_CLOSED)

    def _discard(self, running: _Running) -> None:
        if running.partial is not None:
            running.partial.unlink(missing_ok=True)

    async def _update(self, running: _Running, *, state: DownloadState) -> None:
        running.task = replace(running.task, state=state)
        await self._repository.update_download(running.task)

    async def _finish(
        self, running: _Running, state: DownloadState, error: str | None
    ) -> DownloadTask:
        if running.task.state.is_final:
            return running.task
        running.task = replace(running.task, state=state, error=error,
                               finished_at=datetime.now(UTC))  # fmt: skip
        self._running.pop(running.task.id, None)
        await self._repository.update_download(running.task)
        log.info("download %s %s%s", running.task.id, state.value,
                 f": {error}" if error else "")  # fmt: skip
        return running.task

    def _temporary_path(self, task: DownloadTask) -> Path:
        return self._storage / DOWNLOADS_FOLDER / ".partial" / f"{task.id}.mp4"

    def _final_path(self, task: DownloadTask, duration: float) -> Path:
        start = task.start_at.astimezone(self.zone)
        end = start + timedelta(seconds=duration)
        running = self._running.get(task.id)
        location = running.location if running is not None else task.channel_id[:8]
        return (
            self._storage / DOWNLOADS_FOLDER / location / task.channel_id
            / f"{start:%Y-%m-%d}" / f"{start:%H%M%S}-{end:%H%M%S}_{task.id}.mp4"
        )  # fmt: skip

    # -- listeners ---------------------------------------------------------------------

    def owns_stream(self, stream_key: str) -> bool:
        return stream_key.startswith(STREAM_KEY_PREFIX)

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        running = self._running.get(stream_key.removeprefix(STREAM_KEY_PREFIX))
        if running is not None and not running.finishing:
            running.finishing = True  # the watcher completes it with what arrived

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        task_id = self._by_call.pop(call_id, None)
        running = self._running.get(task_id) if task_id is not None else None
        if running is not None:
            running.call = None  # the device hung up: no BYE back
            running.finishing = True

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        task_id = self._by_call.get(call_id)
        running = self._running.get(task_id) if task_id is not None else None
        if running is not None and status.is_file_end:
            log.info("download %s: the device sent the whole range (MediaStatus 121)",
                     running.task.id)  # fmt: skip
            running.file_end = True
            running.finishing = True

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")
