"""Platform recording: plans reconciled against what the media layer really records.

Every `reconcile_interval` seconds `PlatformRecording` compares the channels whose plan says
"record now" (`record_plans.is_due`, in the configured zone) with the streams the media
nodes report recording, and repairs the difference by itself: a channel due but not
recording gets its live stream started (or joined) and a segment recorder attached; one
recording but no longer due has its recorder stopped. Nothing is remembered in memory that
the media layer could contradict (field-notes pitfall 16: WVP's in-memory map left "zombie"
recordings after a lost hook, a media server restart or its own): a device reboot, a media
worker's death and a platform restart all show as "due, not recording" at the next tick.
Plans live in the database. A channel that fails to start is retried with a growing delay
(up to `max_retry_delay`), so an offline device is not asked every tick.

Closed segments (`segment_closed`, from the media nodes) are indexed in the database with
paths relative to the storage folder: `recordings/{location}/{channel}/{YYYY-MM-DD}/
{HHMMSS}-{HHMMSS}.ps` (art. 21; the camera's PS as received, its frame index beside it as
`.idx`; `.mp4` for segments recorded before), where the location is the farm's filing number
when known and the channel's civil code otherwise. At start, temporary files a killed
process left are repaired and indexed, and closed files the database does not know are
indexed too. Retention deletes a segment's index with it.

Retention runs every `retention_interval` seconds: segments older than `retention_days`
first, then, while the storage disk is fuller than `disk_high_watermark` or recordings
exceed `max_bytes`, the oldest; locked segments are never deleted, and evidence clips live
in a store of their own that retention does not touch.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.node import RecordingSpec
from farmwatch.media.sinks.segment_recorder import RecordedSegment
from farmwatch.media.sinks.segment_recovery import recover_segments
from farmwatch.media.sinks.segment_writer import SEGMENT_SUFFIX, index_path
from farmwatch.platform.errors import NotFound, PlatformError
from farmwatch.platform.recordings.record_plans import is_due
from farmwatch.platform.recordings.records import (
    PlanMode,
    RecordPlan,
    SegmentData,
    SegmentRecord,
)
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.services.live_service import LiveService

__all__ = ["PlatformRecording", "RecordingDiskUse", "RecordingPolicy", "location_of"]

log = logging.getLogger(__name__)

RECORDINGS_FOLDER = "recordings"
_SAFE = re.compile(r"[^0-9A-Za-z_-]")
_SEGMENT_NAME = re.compile(r"(\d{6})-(\d{6})(?:_\d+)?\.(?:ps|mp4)")
_SEGMENT_FILES = ("*/*/*/*.ps", "*/*/*/*.mp4")
"""Segment files below the recordings folder (`.mp4`: recorded before segments were PS)."""
_DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
_RETIRE_BATCH = 200

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    segment_length: timedelta = timedelta(minutes=10)
    reconcile_interval: float = 5.0
    retention_days: float = 30.0
    disk_high_watermark: float = 0.90
    max_bytes: int = 0
    """0: no bound of its own (the disk watermark still applies)."""
    retention_interval: float = 60.0
    max_retry_delay: float = 60.0


def location_of(channel_id: str, civil_code: str | None, filing_number: str | None = None) -> str:
    """The folder a channel's recordings go in: the farm's filing number when known, else
    the channel's civil code (else the administrative part of its ID)."""
    text = filing_number or civil_code or channel_id[:8]
    return _SAFE.sub("_", text)[:64] or channel_id[:8]


@dataclass(slots=True)
class _Retry:
    attempts: int
    not_before: float


@dataclass(frozen=True, slots=True)
class RecordingDiskUse:
    segment_bytes: int
    """Bytes of every recorded segment the index holds."""
    free_bytes: int
    """Free bytes on the storage folder's file system."""
    total_bytes: int


class PlatformRecording:
    """Record plans, the reconciler, the segment index and retention."""

    def __init__(
        self,
        repository: RecordingRepository,
        live: LiveService,
        media: MediaCluster,
        channels: ChannelRepository,
        *,
        storage: Path,
        zone: ZoneInfo,
        policy: RecordingPolicy | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._repository = repository
        self._live = live
        self._media = media
        self._channels = channels
        self._storage = storage
        self.zone = zone
        self.policy = policy or RecordingPolicy()
        self._clock = clock
        self._plans: dict[str, RecordPlan] = {}
        self._starting: set[str] = set()
        self._retries: dict[str, _Retry] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.segments_indexed = 0

    @property
    def root(self) -> Path:
        return self._storage / RECORDINGS_FOLDER

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Repair what a killed process left, index unknown files, load plans, reconcile."""
        self.root.mkdir(parents=True, exist_ok=True)
        recovered = await asyncio.to_thread(recover_segments, self.root, self.zone)
        for segment in recovered:
            await self._index(segment)
        await self._index_unknown_files()
        self._plans = {plan.channel_id: plan for plan in await self._repository.plans()}
        self._loop_task = asyncio.get_running_loop().create_task(self._run())
        if recovered:
            log.info("recording: %d segments cut by the last stop recovered", len(recovered))

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_retention = loop.time()
        while True:
            try:
                await self.reconcile()
                if loop.time() >= next_retention:
                    await self.enforce_retention()
                    next_retention = loop.time() + self.policy.retention_interval
            except (PlatformError, MediaError, OSError) as error:
                log.warning("recording: reconcile failed, trying again: %s", error)
            except Exception:
                # Isolation boundary: the reconciler must keep running whatever one tick hit.
                log.exception("recording: reconcile tick failed")
            self._wake.clear()
            try:
                async with asyncio.timeout(self.policy.reconcile_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # -- plans -------------------------------------------------------------------------

    async def set_plan(self, plan: RecordPlan) -> RecordPlan:
        if await self._channels.get(plan.channel_id) is None:
            raise NotFound(f"no channel {plan.channel_id}")
        await self._repository.put_plan(plan)
        self._plans[plan.channel_id] = plan
        self._retries.pop(plan.channel_id, None)
        self._wake.set()  # reconcile now, not at the next tick
        return plan

    async def plan(self, channel_id: str) -> RecordPlan:
        plan = self._plans.get(channel_id)
        if plan is not None:
            return plan
        if await self._channels.get(channel_id) is None:
            raise NotFound(f"no channel {channel_id}")
        return RecordPlan(channel_id, PlanMode.OFF, (), None, self._clock())

    def due_channels(self) -> set[str]:
        now = self._clock()
        return {c for c, plan in self._plans.items() if is_due(plan, now, self.zone)}

    # -- the reconciler ----------------------------------------------------------------

    async def reconcile(self) -> None:
        """One comparison of what should record with what records, and its repair."""
        desired = self.due_channels()
        actual = await self._media.recording_keys()
        now = asyncio.get_running_loop().time()
        for channel_id in desired - actual - self._starting:
            retry = self._retries.get(channel_id)
            if retry is not None and now < retry.not_before:
                continue
            self._starting.add(channel_id)
            self._spawn(self._start_recording(channel_id))
        for channel_id in actual - desired:
            if channel_id in self._plans or await self._channels.get(channel_id) is not None:
                log.info("recording: channel %s no longer due, stopping", channel_id)
                await self._media.stop_recording(channel_id)

    async def _start_recording(self, channel_id: str) -> None:
        try:
            channel = await self._channels.get(channel_id)
            if channel is None:
                raise NotFound(f"no channel {channel_id}")
            await self._live.ensure_live(channel_id)
            folder = self.root / location_of(channel_id, channel.data.civil_code) / channel_id
            spec = RecordingSpec(
                str(folder), self.zone.key, self.policy.segment_length.total_seconds()
            )
            await self._media.start_recording(channel_id, spec)
        except (PlatformError, MediaError, OSError) as error:
            retry = self._retries.get(channel_id)
            attempts = 1 if retry is None else retry.attempts + 1
            delay = min(self.policy.reconcile_interval * 2 ** (attempts - 1),
                        self.policy.max_retry_delay)  # fmt: skip
            self._retries[channel_id] = _Retry(attempts, asyncio.get_running_loop().time() + delay)
            log.warning("recording: channel %s not recording (attempt %d, next in %.0f s): %s",
                        channel_id, attempts, delay, error)  # fmt: skip
        else:
            self._retries.pop(channel_id, None)
            log.info("recording: channel %s recording", channel_id)
        finally:
            self._starting.discard(channel_id)

    # -- the segment index -------------------------------------------------------------

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        """A media node closed a segment file (called on the loop, returns at once)."""
        self._spawn(self._index(segment))

    async def _index(self, segment: RecordedSegment) -> None:
        try:
            relative = segment.path.resolve().relative_to(self._storage.resolve())
        except ValueError:
            log.warning("recording: segment %s is outside the storage folder", segment.path)
            return
        parts = relative.parts
        if len(parts) < 5 or parts[0] != RECORDINGS_FOLDER:
            log.warning("recording: segment %s is not where recordings go", relative)
            return
        location, channel_id = parts[1], parts[2]
        channel = await self._channels.get(channel_id)
        data = SegmentData(
            channel_id,
            channel.device_id if channel is not None else "",
            location,
            relative.as_posix(),
            segment.start.astimezone(UTC),
            segment.end.astimezone(UTC),
            segment.byte_count,
            segment.frame_count,
            segment.codec.value,
            segment.width,
            segment.height,
        )
        await self._repository.add_segment(data, at=self._clock())
        self.segments_indexed += 1

    async def _index_unknown_files(self) -> None:
        """Closed segment files the database does not list (the process stopped between
        renaming a file and indexing it)."""
        known = await self._repository.segment_paths()
        found = await asyncio.to_thread(self._closed_files)
        for relative, start, end, size in found:
            if relative in known:
                continue
            parts = Path(relative).parts
            channel = await self._channels.get(parts[2])
            await self._repository.add_segment(
                SegmentData(parts[2], channel.device_id if channel else "", parts[1], relative,
                            start, end, size, 0, None, None, None),
                at=self._clock(),
            )  # fmt: skip
            log.info("recording: indexed %s, which the database did not list", relative)

    def _closed_files(self) -> list[tuple[str, datetime, datetime, int]]:
        found = []
        for path in (path for pattern in _SEGMENT_FILES for path in self.root.glob(pattern)):
            name = _SEGMENT_NAME.fullmatch(path.name)
            if name is None or not _DAY_FOLDER.fullmatch(path.parent.name):
                continue
            day = datetime.strptime(path.parent.name, "%Y-%m-%d").date()
            start = datetime.combine(day, datetime.strptime(name.group(1), "%H%M%S").time(),
                                     tzinfo=self.zone)  # fmt: skip
            end = datetime.combine(day, datetime.strptime(name.group(2), "%H%M%S").time(),
                                   tzinfo=self.zone)  # fmt: skip
            if end < start:  # ran past midnight
                end += timedelta(days=1)
            relative = path.relative_to(self._storage).as_posix()
            found.append((relative, start.astimezone(UTC), end.astimezone(UTC),
                          path.stat().st_size))  # fmt: skip
        return found

    async def segments(
        self, channel_id: str, start: datetime, end: datetime
    ) -> list[SegmentRecord]:
        return await self._repository.segments_between(channel_id, start, end)

    def path_of(self, segment: SegmentRecord) -> Path:
        return self._storage / segment.path

    # -- retention ---------------------------------------------------------------------

    async def enforce_retention(self) -> int:
        """Delete what the retention rules say; returns how many segments went."""
        deleted = 0
        cutoff = self._clock() - timedelta(days=self.policy.retention_days)
        while batch := await self._repository.oldest_unlocked(_RETIRE_BATCH, before=cutoff):
            deleted += await self._retire(batch, "older than the retention")
            if len(batch) < _RETIRE_BATCH:
                break
        while self._over_capacity_bytes() or await self._over_max_bytes():
            batch = await self._repository.oldest_unlocked(1)
            if not batch:
                log.warning("recording: storage over its limit and nothing left to delete "
                            "(every segment is locked)")  # fmt: skip
                break
            deleted += await self._retire(batch, "storage over its limit")
        return deleted

    async def disk_use(self) -> RecordingDiskUse:
        """What the recordings take and what the storage folder's disk has (/metrics)."""
        usage = await asyncio.to_thread(shutil.disk_usage, self._storage)
        return RecordingDiskUse(
            await self._repository.total_segment_bytes(), usage.free, usage.total
        )

    def _over_capacity_bytes(self) -> bool:
        usage = shutil.disk_usage(self._storage)
        # What this process cannot write counts as used (the root reserve included).
        return 1 - usage.free / usage.total > self.policy.disk_high_watermark

    async def _over_max_bytes(self) -> bool:
        if self.policy.max_bytes <= 0:
            return False
        return await self._repository.total_segment_bytes() > self.policy.max_bytes

    async def _retire(self, segments: list[SegmentRecord], why: str) -> int:
        for segment in segments:
            path = self.path_of(segment)
            try:
                await asyncio.to_thread(_delete_segment, path)
            except OSError as error:
                log.warning("recording: cannot delete %s: %s", path, error)
        count = await self._repository.delete_segments([s.id for s in segments])
        log.info("recording: deleted %d segments (%s), oldest %s", count, why,
                 segments[0].start_at.astimezone(self.zone).isoformat())  # fmt: skip
        return count

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording task failed", exc_info=task.exception())


def _delete_segment(path: Path) -> None:
    """A segment file and the index beside it (a legacy `.mp4` has none)."""
    path.unlink(missing_ok=True)
    if path.suffix == SEGMENT_SUFFIX:
        index_path(path).unlink(missing_ok=True)
