"""Persistence of spot checks (`spot_checks`, `spot_check_items`). Like the other
repositories: built with the injected session makers, each public method one unit of work,
frozen values out, no clock read here."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.models import SpotCheckItemRow, SpotCheckRow
from farmwatch.platform.supervision.monitoring_records import (
    Answer,
    Outcome,
    PointAnswer,
    ViewMode,
)
from farmwatch.platform.supervision.spot_checks.draw import Candidate
from farmwatch.platform.supervision.spot_checks.records import (
    ItemResult,
    ItemState,
    SpotCheck,
    SpotCheckItem,
)

__all__ = ["SpotCheckRepository"]

CHECKS: Table = SpotCheckRow.__table__  # type: ignore[assignment]
ITEMS: Table = SpotCheckItemRow.__table__  # type: ignore[assignment]
_FARM_NAME = 128


def _population_json(population: Collection[Candidate]) -> list[dict[str, Any]]:
    return [
        {"channel": c.channel_id, "device": c.device_id, "farm": c.farm_key,
         "farm_name": c.farm_name, "weight": c.weight}
        for c in population
    ]  # fmt: skip


def _population(rows: list[dict[str, Any]]) -> tuple[Candidate, ...]:
    return tuple(
        Candidate(
            str(row["channel"]),
            str(row["device"]),
            str(row["farm"]),
            str(row.get("farm_name", "")),
            float(row["weight"]),
        )  # fmt: skip
        for row in rows
    )


def _answers(rows: list[dict[str, Any]] | None) -> tuple[PointAnswer, ...]:
    return tuple(
        PointAnswer(row["point"], Answer(row["answer"]), row.get("remark", ""))
        for row in rows or ()
    )


def _item(row: Any) -> SpotCheckItem:
    return SpotCheckItem(
        position=row.position, channel_id=row.channel_id, device_id=row.device_id,
        farm_key=row.farm_key, farm_name=row.farm_name, weight=row.weight,
        state=ItemState(row.state),
        key_area=None if row.key_area is None else KeyArea(row.key_area),
        answers=_answers(row.answers), remark=row.remark,
        outcome=None if row.outcome is None else Outcome(row.outcome),
        mode=None if row.mode is None else ViewMode(row.mode),
        recorded_by=row.recorded_by, recorded_at=row.recorded_at,
    )  # fmt: skip


class SpotCheckRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions

    async def add(self, check: SpotCheck) -> SpotCheck:
        """Store a new check with its items (pending); returns it with its ID."""
        values = {
            "organisation_id": check.organisation_id, "drawn_by": check.drawn_by,
            "drawn_by_user_id": check.drawn_by_user_id, "drawn_at": check.drawn_at,
            "requested": check.requested, "seed": check.seed,
            "population_digest": check.population_digest,
            "population": _population_json(check.population), "period": check.period,
        }  # fmt: skip
        async with self._sessions.begin() as session:
            new_id = await session.scalar(insert(CHECKS).values(values).returning(CHECKS.c.id))
            assert new_id is not None
            if check.items:
                await session.execute(
                    insert(ITEMS),
                    [
                        {"spot_check_id": new_id, "position": item.position,
                         "channel_id": item.channel_id, "device_id": item.device_id,
                         "farm_key": item.farm_key, "farm_name": item.farm_name[:_FARM_NAME],
                         "weight": item.weight, "state": item.state.value,
                         "key_area": None if item.key_area is None else item.key_area.value,
                         "answers": None, "remark": "", "outcome": None, "mode": None,
                         "recorded_by": None, "recorded_user_id": None, "recorded_at": None}
                        for item in check.items
                    ],
                )  # fmt: skip
        return replace(check, id=new_id)

    async def get(self, check_id: int, *, with_population: bool = False) -> SpotCheck | None:
        async with self._read_sessions() as session:
            row = (
                await session.execute(select(CHECKS).where(CHECKS.c.id == check_id))
            ).one_or_none()
            if row is None:
                return None
            items = await session.execute(
                select(ITEMS).where(ITEMS.c.spot_check_id == check_id).order_by(ITEMS.c.position)
            )
            return self._check(row, [_item(item) for item in items], with_population)

    @staticmethod
    def _check(row: Any, items: list[SpotCheckItem], with_population: bool) -> SpotCheck:
        return SpotCheck(
            id=row.id, organisation_id=row.organisation_id, drawn_by=row.drawn_by,
            drawn_by_user_id=row.drawn_by_user_id, drawn_at=row.drawn_at,
            requested=row.requested, seed=row.seed, population_digest=row.population_digest,
            period=row.period, items=tuple(items),
            population=_population(row.population) if with_population else (),
        )  # fmt: skip

    async def find(
        self,
        organisations: Collection[int] | None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[SpotCheck]:
        """Checks of `organisations` (None: every one) drawn in [since, until), newest
        first, with their items."""
        statement = select(CHECKS)
        if organisations is not None:
            statement = statement.where(CHECKS.c.organisation_id.in_(sorted(organisations)))
        if since is not None:
            statement = statement.where(CHECKS.c.drawn_at >= since)
        if until is not None:
            statement = statement.where(CHECKS.c.drawn_at < until)
        statement = (
            statement.order_by(CHECKS.c.drawn_at.desc(), CHECKS.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._read_sessions() as session:
            rows = list(await session.execute(statement))
            if not rows:
                return []
            items: dict[int, list[SpotCheckItem]] = {}
            found = await session.execute(
                select(ITEMS)
                .where(ITEMS.c.spot_check_id.in_([row.id for row in rows]))
                .order_by(ITEMS.c.spot_check_id, ITEMS.c.position)
            )
            for item in found:
                items.setdefault(item.spot_check_id, []).append(_item(item))
            return [self._check(row, items.get(row.id, []), False) for row in rows]

    async def last_checked(self) -> dict[str, datetime]:
        """When each farm last had a drawn camera's result recorded (watched, not merely
        found unplayable), by farm key."""
        statement = (
            select(ITEMS.c.farm_key, func.max(ITEMS.c.recorded_at))
            .where(ITEMS.c.state == ItemState.RECORDED.value)
            .group_by(ITEMS.c.farm_key)
        )
        async with self._read_sessions() as session:
            rows = await session.execute(statement)
            return {farm: latest for farm, latest in rows if latest is not None}

    async def record(
        self, check_id: int, position: int, result: ItemResult, *, allowed_from: set[ItemState]
    ) -> bool:
        """Record `result` on the item when its state is still one of `allowed_from`; False
        when it was not (another inspector recorded it first)."""
        values = {
            "state": result.state.value,
            "key_area": None if result.key_area is None else result.key_area.value,
            "answers": [
                {"point": a.point_id, "answer": a.answer.value, "remark": a.remark}
                for a in result.answers
            ] if result.answers else None,
            "remark": result.remark,
            "outcome": None if result.outcome is None else result.outcome.value,
            "mode": None if result.mode is None else result.mode.value,
            "recorded_by": result.recorded_by, "recorded_user_id": result.recorded_user_id,
            "recorded_at": result.recorded_at,
        }  # fmt: skip
        statement = (
            update(ITEMS)
            .where(
                ITEMS.c.spot_check_id == check_id,
                ITEMS.c.position == position,
                ITEMS.c.state.in_(sorted(state.value for state in allowed_from)),
            )
            .values(values)
        )
        async with self._sessions.begin() as session:
            result_proxy = await session.execute(statement)
            return bool(result_proxy.rowcount)  # type: ignore[attr-defined]
