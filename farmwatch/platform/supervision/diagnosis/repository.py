"""Persistence of the diagnosis (`picture_samples`, `picture_states`): one unit of work per
method, frozen records out, never rows."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import PictureSampleRow, PictureStateRow
from farmwatch.platform.supervision.diagnosis.checks import Measurements, PictureFault
from farmwatch.platform.supervision.diagnosis.records import (
    CameraPictureState,
    PictureSample,
    SampleOutcome,
)

__all__ = ["DiagnosisRepository"]


def _faults(text: str) -> tuple[PictureFault, ...]:
    return tuple(PictureFault(kind) for kind in text.split(",") if kind)


def _joined(faults: tuple[PictureFault, ...]) -> str:
    return ",".join(fault.value for fault in faults)


def _sample(row: PictureSampleRow) -> PictureSample:
    measurements = None
    if row.mean_luma is not None:
        measurements = Measurements(
            mean_luma=row.mean_luma, luma_std=row.luma_std or 0.0,
            sharpness=row.sharpness or 0.0, chroma_offset=row.chroma_offset or 0.0,
            difference=row.difference,
        )  # fmt: skip
    return PictureSample(
        channel_id=row.channel_id, sampled_at=row.sampled_at,
        outcome=SampleOutcome(row.outcome), failures=_faults(row.failures), detail=row.detail,
        measurements=measurements,
    )  # fmt: skip


def _state(row: PictureStateRow) -> CameraPictureState:
    return CameraPictureState(
        channel_id=row.channel_id, sampled_at=row.sampled_at,
        outcome=SampleOutcome(row.outcome), is_failed=row.is_failed,
        failures=_faults(row.failures), detail=row.detail, thumbnail=row.thumbnail,
    )  # fmt: skip


class DiagnosisRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, sample: PictureSample, state: CameraPictureState, *, keep: int) -> None:
        """Store a sample and the camera's new state together; drop the camera's samples
        older than its newest `keep`."""
        m = sample.measurements
        row = PictureSampleRow(
            channel_id=sample.channel_id, sampled_at=sample.sampled_at,
            outcome=sample.outcome.value, failures=_joined(sample.failures),
            detail=sample.detail,
            mean_luma=None if m is None else m.mean_luma,
            luma_std=None if m is None else m.luma_std,
            sharpness=None if m is None else m.sharpness,
            chroma_offset=None if m is None else m.chroma_offset,
            difference=None if m is None else m.difference,
        )  # fmt: skip
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.merge(
                PictureStateRow(
                    channel_id=state.channel_id, sampled_at=state.sampled_at,
                    outcome=state.outcome.value, is_failed=state.is_failed,
                    failures=_joined(state.failures), detail=state.detail,
                    thumbnail=state.thumbnail,
                )
            )  # fmt: skip
            await session.flush()
            cutoff = await session.scalar(
                select(PictureSampleRow.id)
                .where(PictureSampleRow.channel_id == sample.channel_id)
                .order_by(PictureSampleRow.id.desc())
                .offset(keep)
                .limit(1)
            )
            if cutoff is not None:
                await session.execute(
                    delete(PictureSampleRow).where(
                        PictureSampleRow.channel_id == sample.channel_id,
                        PictureSampleRow.id <= cutoff,
                    )
                )

    async def history(self, channel_id: str, *, limit: int) -> list[PictureSample]:
        """The camera's samples, newest first."""
        statement = (
            select(PictureSampleRow)
            .where(PictureSampleRow.channel_id == channel_id)
            .order_by(PictureSampleRow.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_sample(row) for row in (await session.execute(statement)).scalars()]

    async def state(self, channel_id: str) -> CameraPictureState | None:
        async with self._sessions() as session:
            row = await session.get(PictureStateRow, channel_id)
            return None if row is None else _state(row)

    async def states(
        self, channel_ids: Collection[str] | None = None, *, failed_only: bool = False
    ) -> list[CameraPictureState]:
        """Every camera's state (or those of `channel_ids`), by channel ID."""
        statement = select(PictureStateRow).order_by(PictureStateRow.channel_id)
        if channel_ids is not None:
            statement = statement.where(PictureStateRow.channel_id.in_(list(channel_ids)))
        if failed_only:
            statement = statement.where(PictureStateRow.is_failed.is_(True))
        async with self._sessions() as session:
            return [_state(row) for row in (await session.execute(statement)).scalars()]
