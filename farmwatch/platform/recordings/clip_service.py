"""Evidence clips (regulation art. 20–21): a time range kept apart, hashed, verifiable.

`ClipService.create` copies [start, end] of a channel into the evidence store — from the
platform's own recordings when they cover the range, otherwise fetched from the device as a
download — and records the file's SHA-256. The evidence store
(`evidence/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}_{location}_{channel}_{clip}.mp4`, named by the
clip's recorded time and location) is outside the recordings folder, so retention never
reaches it, and files are made read-only; while a clip is cut from platform segments those
are locked, so that retention cannot delete them under the copy. `verify` hashes the file
again: an altered or missing file fails. Anomalies (`supervision.anomalies`) take their
evidence through it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.media.errors import MediaError
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PlatformError
from farmwatch.platform.recordings.download_service import DownloadService
from farmwatch.platform.recordings.platform_recording import location_of
from farmwatch.platform.recordings.record_spans import RecordSource
from farmwatch.platform.recordings.recording_copy import SegmentFile, copy_recording
from farmwatch.platform.recordings.records import ClipState, DownloadState, EvidenceClip
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.channel_repository import ChannelRepository

__all__ = ["ClipService", "ClipVerification", "sha256_of"]

log = logging.getLogger(__name__)

EVIDENCE_FOLDER = "evidence"
MAX_CLIP = timedelta(hours=2)
MAX_REASON = 500
_CHUNK = 1 << 20
_DOWNLOAD_POLL = 0.5


@dataclass(frozen=True, slots=True)
class ClipVerification:
    clip_id: str
    is_valid: bool
    recorded_sha256: str | None
    computed_sha256: str | None
    detail: str


def sha256_of(path: Path) -> str:
    """The file's SHA-256 (blocking: run in a worker thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ClipService:
    def __init__(
        self,
        repository: RecordingRepository,
        downloads: DownloadService,
        channels: ChannelRepository,
        *,
        storage: Path,
        zone: ZoneInfo,
    ) -> None:
        self._repository = repository
        self._downloads = downloads
        self._channels = channels
        self._storage = storage
        self.zone = zone
        self._tasks: set[asyncio.Task[Any]] = set()
        self._making: dict[str, asyncio.Task[None]] = {}
        """Clips being cut, by ID (`wait`)."""

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def create(
        self, channel_id: str, start: datetime, end: datetime, reason: str
    ) -> EvidenceClip:
        if end <= start:
            raise InvalidInput("end: must be after start")
        if end - start > MAX_CLIP:
            raise InvalidInput("a clip may cover at most 2 hours")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidInput(f"reason: required, at most {MAX_REASON} characters")
        channel = await self._channels.get(channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        source = (
            RecordSource.PLATFORM if await self.covers(channel_id, start, end)
            else RecordSource.DEVICE
        )  # fmt: skip
        clip = EvidenceClip(
            secrets.token_hex(8), channel_id, start.astimezone(UTC), end.astimezone(UTC),
            reason, source.value, ClipState.PENDING, None, None, None, None, datetime.now(UTC),
        )  # fmt: skip
        await self._repository.add_clip(clip)
        location = location_of(channel_id, channel.data.civil_code)
        # Retention must not delete the segments while they are copied.
        held = await self.hold(channel_id, start, end) if source is RecordSource.PLATFORM else []
        self._making[clip.id] = self._spawn(self._make(clip, location, held))
        log.info("evidence clip %s of channel %s from %s (%s): %s", clip.id, channel_id,
                 start.astimezone(self.zone).isoformat(), source.value, reason)  # fmt: skip
        return clip

    async def covers(self, channel_id: str, start: datetime, end: datetime) -> bool:
        """Whether the platform's closed segments hold (95 % of) [start, end]: a clip of
        it is cut from them, else fetched from the device."""
        segments = await self._repository.segments_between(channel_id, start, end)
        covered = sum(
            (min(s.end_at, end) - max(s.start_at, start)).total_seconds() for s in segments
        )
        return covered >= (end - start).total_seconds() * 0.95

    async def hold(self, channel_id: str, start: datetime, end: datetime) -> list[int]:
        """Lock the platform segments of [start, end] not locked yet, so that retention
        keeps them until `release` (the IDs to give it)."""
        segments = await self._repository.segments_between(channel_id, start, end)
        ids = [segment.id for segment in segments if not segment.is_locked]
        await self._repository.set_locked(ids, True)
        return ids

    async def release(self, ids: list[int]) -> None:
        await self._repository.set_locked(ids, False)

    async def wait(self, clip_id: str) -> EvidenceClip:
        """The clip once it is ready or failed (at once if it is already)."""
        making = self._making.get(clip_id)
        if making is not None:
            await asyncio.shield(making)
        return await self.get(clip_id)

    async def get(self, clip_id: str) -> EvidenceClip:
        clip = await self._repository.get_clip(clip_id)
        if clip is None:
            raise NotFound(f"no evidence clip {clip_id}")
        return clip

    async def file(self, clip_id: str) -> Path:
        clip = await self.get(clip_id)
        if clip.state is not ClipState.READY or clip.path is None:
            raise Conflict(f"evidence clip {clip_id} is {clip.state.value}")
        return self._storage / clip.path

    async def verify(self, clip_id: str) -> ClipVerification:
        clip = await self.get(clip_id)
        if clip.state is not ClipState.READY or clip.path is None:
            raise Conflict(f"evidence clip {clip_id} is {clip.state.value}")
        path = self._storage / clip.path
        try:
            computed = await asyncio.to_thread(sha256_of, path)
        except OSError as error:
            return ClipVerification(clip_id, False, clip.sha256, None,
                                    f"the file cannot be read: {error.strerror}")  # fmt: skip
        valid = computed == clip.sha256
        if not valid:
            log.warning("evidence clip %s FAILED verification: %s recorded, %s now", clip_id,
                        clip.sha256, computed)  # fmt: skip
        detail = "the file is as recorded" if valid else "the file was altered"
        return ClipVerification(clip_id, valid, clip.sha256, computed, detail)

    # -- making a clip -----------------------------------------------------------------

    async def _make(self, clip: EvidenceClip, location: str, held: list[int]) -> None:
        try:
            await self._cut(clip, location)
        finally:
            self._making.pop(clip.id, None)
            await self.release(held)

    async def _cut(self, clip: EvidenceClip, location: str) -> None:
        try:
            if clip.source == RecordSource.PLATFORM.value:
                path, size = await self._from_platform(clip, location)
            else:
                path, size = await self._from_device(clip, location)
            await asyncio.to_thread(os.chmod, path, stat.S_IRUSR | stat.S_IRGRP)
            digest = await asyncio.to_thread(sha256_of, path)
        except (PlatformError, MediaError, OSError) as error:
            await self._repository.update_clip(
                replace(clip, state=ClipState.FAILED, error=str(error))
            )
            log.warning("evidence clip %s failed: %s", clip.id, error)
            return
        ready = replace(clip, state=ClipState.READY, sha256=digest, bytes=size,
                        path=path.relative_to(self._storage).as_posix())  # fmt: skip
        await self._repository.update_clip(ready)
        log.info("evidence clip %s ready: %s, SHA-256 %s", clip.id, ready.path, digest)

    def _path(self, clip: EvidenceClip, location: str, duration: float) -> Path:
        start = clip.start_at.astimezone(self.zone)
        end = start + timedelta(seconds=duration)
        name = f"{start:%H%M%S}-{end:%H%M%S}_{location}_{clip.channel_id}_{clip.id}.mp4"
        return self._storage / EVIDENCE_FOLDER / f"{start:%Y-%m-%d}" / name

    async def _from_platform(self, clip: EvidenceClip, location: str) -> tuple[Path, int]:
        segments = await self._repository.segments_between(clip.channel_id, clip.start_at,
                                                           clip.end_at)  # fmt: skip
        parts = [SegmentFile(self._storage / s.path, s.start_at) for s in segments]
        partial = self._storage / EVIDENCE_FOLDER / ".partial" / f"{clip.id}.mp4"
        partial.parent.mkdir(parents=True, exist_ok=True)
        result = await asyncio.to_thread(copy_recording, parts, clip.start_at, clip.end_at,
                                         partial)  # fmt: skip
        if result is None:
            raise Conflict("the platform recordings hold no video in this range")
        final = self._path(clip, location, result.duration.total_seconds())
        final.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(final)
        return final, result.byte_count

    async def _from_device(self, clip: EvidenceClip, location: str) -> tuple[Path, int]:
        task = await self._downloads.create(clip.channel_id, clip.start_at, clip.end_at)
        while not task.state.is_final:
            await asyncio.sleep(_DOWNLOAD_POLL)  # the download task is polled like the API does
            task = await self._downloads.get(task.id)
        if task.state is not DownloadState.COMPLETED:
            raise Conflict(f"fetching the range from the device failed: {task.error}")
        downloaded = await self._downloads.file(task.id)
        duration = (task.end_at - task.start_at).total_seconds()
        final = self._path(clip, location, duration)
        final.parent.mkdir(parents=True, exist_ok=True)
        # A copy: the download task keeps its own file.
        await asyncio.to_thread(shutil.copyfile, downloaded, final)
        return final, final.stat().st_size

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
