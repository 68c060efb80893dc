"""Persistence of recorded video: segments, record plans, download tasks, evidence clips.

Like the device repositories: built with the injected `async_sessionmaker`, every public
method is one unit of work, records go out frozen (`records.py`), times in and out are
aware UTC datetimes, and no clock is read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import (
    DownloadTaskRow,
    EvidenceClipRow,
    RecordingSegmentRow,
    RecordPlanRow,
)
from farmwatch.platform.recordings.records import (
    ClipState,
    DownloadState,
    DownloadTask,
    EvidenceClip,
    PlanMode,
    RecordPlan,
    SegmentData,
    SegmentRecord,
    WeeklyWindow,
)
from farmwatch.platform.repositories.device_repository import dialect_insert

__all__ = ["RecordingRepository"]

SEGMENTS: Table = RecordingSegmentRow.__table__  # type: ignore[assignment]
PLANS: Table = RecordPlanRow.__table__  # type: ignore[assignment]
DOWNLOADS: Table = DownloadTaskRow.__table__  # type: ignore[assignment]
CLIPS: Table = EvidenceClipRow.__table__  # type: ignore[assignment]


def _segment(row: Any) -> SegmentRecord:
    return SegmentRecord(
        row.id, row.channel_id, row.device_id, row.location, row.path, row.start_at,
        row.end_at, row.bytes, row.frames, row.codec, row.width, row.height, row.is_locked,
        row.created_at,
    )  # fmt: skip


def _plan(row: Any) -> RecordPlan:
    windows = tuple(
        WeeklyWindow(int(day), time.fromisoformat(start), time.fromisoformat(end))
        for day, start, end in row.windows or ()
    )
    return RecordPlan(row.channel_id, PlanMode(row.mode), windows, row.record_until,
                      row.updated_at)  # fmt: skip


def _download(row: Any) -> DownloadTask:
    return DownloadTask(
        row.id, row.channel_id, row.device_id, row.source, row.start_at, row.end_at, row.speed,
        DownloadState(row.state), row.progress, row.path, row.bytes, row.error, row.created_at,
        row.finished_at,
    )  # fmt: skip


def _clip(row: Any) -> EvidenceClip:
    return EvidenceClip(
        row.id, row.channel_id, row.start_at, row.end_at, row.reason, row.source,
        ClipState(row.state), row.path, row.sha256, row.bytes, row.error, row.created_at,
    )  # fmt: skip


class RecordingRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- segments ----------------------------------------------------------------------

    async def add_segment(self, data: SegmentData, *, at: datetime) -> int:
        """Index a closed segment; a path indexed already (a recovered file seen twice) is
        updated in place. Returns its ID."""
        values = {
            "channel_id": data.channel_id, "device_id": data.device_id,
            "location": data.location, "path": data.path, "start_at": data.start_at,
            "end_at": data.end_at, "bytes": data.bytes, "frames": data.frames,
            "codec": data.codec, "width": data.width, "height": data.height,
            "created_at": at,
        }  # fmt: skip
        async with self._sessions.begin() as session:
            insert = dialect_insert(session, SEGMENTS).values(**values)
            refreshed = {k: insert.excluded[k] for k in values if k not in ("path", "created_at")}
            statement = insert.on_conflict_do_update(index_elements=["path"], set_=refreshed)
            result = await session.execute(statement.returning(SEGMENTS.c.id))
            return int(result.scalar_one())

    async def segments_between(
        self, channel_id: str, start: datetime, end: datetime
    ) -> list[SegmentRecord]:
        """The channel's segments overlapping [start, end], oldest first."""
        statement = (
            select(SEGMENTS)
            .where(
                SEGMENTS.c.channel_id == channel_id,
                SEGMENTS.c.end_at >= start,
                SEGMENTS.c.start_at <= end,
            )
            .order_by(SEGMENTS.c.start_at)
        )
        async with self._sessions() as session:
            return [_segment(row) for row in (await session.execute(statement))]

    async def segment_paths(self) -> set[str]:
        async with self._sessions() as session:
            return set((await session.execute(select(SEGMENTS.c.path))).scalars())

    async def oldest_unlocked(
        self, limit: int, *, before: datetime | None = None
    ) -> list[SegmentRecord]:
        """Unlocked segments, oldest first (ending before `before` when given)."""
        statement = select(SEGMENTS).where(SEGMENTS.c.is_locked.is_(False))
        if before is not None:
            statement = statement.where(SEGMENTS.c.end_at < before)
        statement = statement.order_by(SEGMENTS.c.start_at).limit(limit)
        async with self._sessions() as session:
            return [_segment(row) for row in (await session.execute(statement))]

    async def delete_segments(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        async with self._sessions.begin() as session:
            result = await session.execute(delete(SEGMENTS).where(SEGMENTS.c.id.in_(ids)))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def set_locked(self, ids: Sequence[int], locked: bool) -> None:
        if not ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(SEGMENTS).where(SEGMENTS.c.id.in_(ids)).values(is_locked=locked)
            )

    async def total_segment_bytes(self) -> int:
        async with self._sessions() as session:
            total = (await session.execute(select(func.sum(SEGMENTS.c.bytes)))).scalar()
            return int(total or 0)

    # -- plans -------------------------------------------------------------------------

    async def put_plan(self, plan: RecordPlan) -> None:
        values = {
            "channel_id": plan.channel_id,
            "mode": plan.mode.value,
            "windows": [[w.weekday, w.start.isoformat(), w.end.isoformat()] for w in plan.windows],
            "record_until": plan.record_until,
            "updated_at": plan.updated_at,
        }
        async with self._sessions.begin() as session:
            insert = dialect_insert(session, PLANS).values(**values)
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["channel_id"],
                    set_={k: insert.excluded[k] for k in values if k != "channel_id"},
                )
            )

    async def get_plan(self, channel_id: str) -> RecordPlan | None:
        async with self._sessions() as session:
            row = (
                await session.execute(select(PLANS).where(PLANS.c.channel_id == channel_id))
            ).first()
            return None if row is None else _plan(row)

    async def plans(self) -> list[RecordPlan]:
        async with self._sessions() as session:
            return [_plan(row) for row in await session.execute(select(PLANS))]

    # -- downloads ---------------------------------------------------------------------

    async def add_download(self, task: DownloadTask) -> None:
        async with self._sessions.begin() as session:
            await session.execute(DOWNLOADS.insert().values(**_download_values(task)))

    async def update_download(self, task: DownloadTask) -> None:
        values = _download_values(task)
        del values["id"]
        async with self._sessions.begin() as session:
            await session.execute(update(DOWNLOADS).where(DOWNLOADS.c.id == task.id)
                                  .values(**values))  # fmt: skip

    async def get_download(self, task_id: str) -> DownloadTask | None:
        async with self._sessions() as session:
            row = (
                await session.execute(select(DOWNLOADS).where(DOWNLOADS.c.id == task_id))
            ).first()
            return None if row is None else _download(row)

    async def unfinished_downloads(self) -> list[DownloadTask]:
        final = [state.value for state in DownloadState if state.is_final]
        async with self._sessions() as session:
            rows = await session.execute(select(DOWNLOADS).where(DOWNLOADS.c.state.not_in(final)))
            return [_download(row) for row in rows]

    # -- evidence clips ----------------------------------------------------------------

    async def add_clip(self, clip: EvidenceClip) -> None:
        async with self._sessions.begin() as session:
            await session.execute(CLIPS.insert().values(**_clip_values(clip)))

    async def update_clip(self, clip: EvidenceClip) -> None:
        values = _clip_values(clip)
        del values["id"]
        async with self._sessions.begin() as session:
            await session.execute(update(CLIPS).where(CLIPS.c.id == clip.id).values(**values))

    async def get_clip(self, clip_id: str) -> EvidenceClip | None:
        async with self._sessions() as session:
            row = (await session.execute(select(CLIPS).where(CLIPS.c.id == clip_id))).first()
            return None if row is None else _clip(row)

    async def clip_paths(self) -> set[str]:
        async with self._sessions() as session:
            paths = (await session.execute(select(CLIPS.c.path))).scalars()
            return {path for path in paths if path is not None}


def _download_values(task: DownloadTask) -> dict[str, Any]:
    return {
        "id": task.id, "channel_id": task.channel_id, "device_id": task.device_id,
        "source": task.source, "start_at": task.start_at, "end_at": task.end_at,
        "speed": task.speed, "state": task.state.value, "progress": task.progress,
        "path": task.path, "bytes": task.bytes, "error": task.error,
        "created_at": task.created_at, "finished_at": task.finished_at,
    }  # fmt: skip


def _clip_values(clip: EvidenceClip) -> dict[str, Any]:
    return {
        "id": clip.id, "channel_id": clip.channel_id, "start_at": clip.start_at,
        "end_at": clip.end_at, "reason": clip.reason, "source": clip.source,
        "state": clip.state.value, "path": clip.path, "sha256": clip.sha256,
        "bytes": clip.bytes, "error": clip.error, "created_at": clip.created_at,
    }  # fmt: skip
