"""The anomalies' tables on SQLite and PostgreSQL: a report with its first history row,
changes of state guarded by the state read, unique case numbers, evidence and follow-up
links, overdue first, the open count per farm, the feed's order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from farmwatch.platform.access import DirectoryRepository, OrgTier
from farmwatch.platform.db import Database
from farmwatch.platform.errors import Conflict
from farmwatch.platform.supervision.anomalies.records import AnomalyFilter, NewAnomaly, ViewMode
from farmwatch.platform.supervision.anomalies.repository import AnomalyRepository
from farmwatch.platform.supervision.anomalies.states import AnomalyState, EvidenceState, Step

from .conftest import T0

CAMERA = "34020000001320000001"


@pytest.fixture
async def farms(database: Database) -> tuple[int, int]:
    directory = DirectoryRepository(database.sessions)
    top = await directory.add_organisation("总局", OrgTier.NATIONAL, None, at=T0)
    one = await directory.add_farm("一号猪场", "GZ-0001", top.id, at=T0)
    two = await directory.add_farm("二号鸡场", "GZ-0002", top.id, at=T0)
    return one.id, two.id


def new(farm_id: int, minutes: int = 0, text: str = "饲料库门未关") -> NewAnomaly:
    at = T0 + timedelta(minutes=minutes)
    return NewAnomaly(farm_id, CAMERA, "monitor1", 7, at, at - timedelta(seconds=5),
                      ViewMode.LIVE, "饲料", text)  # fmt: skip


def order(deadline_minutes: int) -> Step:
    return Step(AnomalyState.RECTIFICATION_ORDERED, True, "", "限期整改",
                T0 + timedelta(minutes=deadline_minutes))  # fmt: skip


async def test_a_report_and_its_road_to_a_case(database: Database, farms: tuple[int, int]) -> None:
    repository = AnomalyRepository(database.sessions)
    stored = await repository.add(new(farms[0]), evidence=EvidenceState.PENDING)
    read = await repository.get(stored.id)
    assert read == stored
    assert read.state is AnomalyState.OPEN and read.evidence_state is EvidenceState.PENDING
    assert read.seen_at == T0 - timedelta(seconds=5) and read.mode is ViewMode.LIVE
    assert await repository.farm_of(stored.id) == farms[0]
    assert await repository.farm_of(stored.id + 100) is None

    at = T0 + timedelta(minutes=1)
    ordered = await repository.apply(stored.id, AnomalyState.OPEN, order(60), by="chief", at=at)
    assert ordered.state is AnomalyState.RECTIFICATION_ORDERED
    assert (ordered.order, ordered.ordered_by, ordered.ordered_at) == ("限期整改", "chief", at)
    assert ordered.deadline == T0 + timedelta(minutes=60)
    with pytest.raises(Conflict, match="changed meanwhile"):  # read as open, it is not any more
        await repository.apply(stored.id, AnomalyState.OPEN, order(90), by="other", at=at)
    case = Step(AnomalyState.CASE_OPENED, True, "逾期未整改", case_number="2026-001")
    escalated = await repository.apply(stored.id, AnomalyState.RECTIFICATION_ORDERED, case,
                                       by="chief", at=at)  # fmt: skip
    assert escalated.case_number == "2026-001"
    closed = await repository.apply(stored.id, AnomalyState.CASE_OPENED,
                                    Step(AnomalyState.CLOSED, True, "结案"), by="chief",
                                    at=at + timedelta(days=1))  # fmt: skip
    assert closed.closed_at == at + timedelta(days=1)

    history = await repository.history(stored.id)
    assert [(h.from_state, h.to_state, h.by) for h in history] == [
        (None, AnomalyState.OPEN, "monitor1"),
        (AnomalyState.OPEN, AnomalyState.RECTIFICATION_ORDERED, "chief"),
        (AnomalyState.RECTIFICATION_ORDERED, AnomalyState.CASE_OPENED, "chief"),
        (AnomalyState.CASE_OPENED, AnomalyState.CLOSED, "chief"),
    ]
    assert history[0].remark == "饲料库门未关" and history[1].remark == "限期整改"

    # A case number is never given twice; the failed attempt changes nothing.
    other = await repository.add(new(farms[1], 2), evidence=EvidenceState.SAVED)
    with pytest.raises(Conflict, match="2026-001 is already used"):
        await repository.apply(other.id, AnomalyState.OPEN, case, by="chief", at=at)
    assert (await repository.get(other.id)).state is AnomalyState.OPEN  # type: ignore[union-attr]
    assert len(await repository.history(other.id)) == 1


async def test_evidence_and_follow_ups_are_linked_once(
    database: Database, farms: tuple[int, int]
) -> None:
    repository = AnomalyRepository(database.sessions)
    stored = await repository.add(new(farms[0]), evidence=EvidenceState.PENDING)
    assert await repository.attach(stored.id, "c1", by="monitor1", at=T0)
    assert not await repository.attach(stored.id, "c1", by="monitor1", at=T0)
    assert await repository.attach(stored.id, "c2", by="chief", at=T0 + timedelta(seconds=1))
    assert [link.clip_id for link in await repository.evidence(stored.id)] == ["c1", "c2"]
    await repository.set_evidence(stored.id, EvidenceState.FAILED, "x" * 600, at=T0)
    failed = await repository.get(stored.id)
    assert failed is not None and failed.evidence_state is EvidenceState.FAILED
    assert failed.evidence_error == "x" * 512
    assert await repository.pending_evidence() == []

    # A monitoring record is another subject's: any ID is kept, without a foreign key.
    assert await repository.link_follow_up(stored.id, 9_000_000_001, by="monitor1", at=T0)
    assert not await repository.link_follow_up(stored.id, 9_000_000_001, by="monitor1", at=T0)
    assert [f.monitoring_record_id for f in await repository.follow_ups(stored.id)] == [
        9_000_000_001
    ]


async def test_lists_put_overdue_rectifications_first_and_count_open_ones(
    database: Database, farms: tuple[int, int]
) -> None:
    repository = AnomalyRepository(database.sessions)
    one, two = farms
    first = await repository.add(new(one, 0), evidence=EvidenceState.SAVED)
    second = await repository.add(new(one, 1), evidence=EvidenceState.SAVED)
    third = await repository.add(new(two, 2), evidence=EvidenceState.PENDING)
    await repository.apply(first.id, AnomalyState.OPEN, order(30), by="chief", at=T0)
    await repository.apply(third.id, AnomalyState.OPEN, Step(AnomalyState.CLOSED, True, "无"),
                           by="chief", at=T0)  # fmt: skip

    at_20 = await repository.find(AnomalyFilter(), now=T0 + timedelta(minutes=20), limit=10)
    assert [a.id for a in at_20] == [third.id, second.id, first.id]  # newest first
    at_40 = await repository.find(AnomalyFilter(), now=T0 + timedelta(minutes=40), limit=10)
    assert [a.id for a in at_40] == [first.id, third.id, second.id]  # overdue first
    mine = AnomalyFilter(farms=frozenset({two}))
    assert [a.id for a in await repository.find(mine, now=T0, limit=10)] == [third.id]
    ordered = AnomalyFilter(state=AnomalyState.RECTIFICATION_ORDERED)
    assert [a.id for a in await repository.find(ordered, now=T0, limit=10)] == [first.id]
    nowhere = AnomalyFilter(farms=frozenset())
    assert await repository.find(nowhere, now=T0, limit=10) == []

    assert await repository.open_by_farm([one, two]) == {one: 2}
    assert await repository.open_by_farm([]) == {}
    assert await repository.latest_id() == third.id
    feed = await repository.after(AnomalyFilter(after_id=first.id), limit=10)
    assert [a.id for a in feed] == [second.id, third.id]
    assert [a.id for a in await repository.pending_evidence()] == [third.id]
