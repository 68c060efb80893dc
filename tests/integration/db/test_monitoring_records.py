"""Monitoring records and supervision schedules on SQLite and PostgreSQL: a record is
checked against its camera's checklist, signed, stored with its snapshot (or the reason it
has none) and found by farm, camera, user, time and outcome within the reader's reach; a
correction is a new record; the schedule inherits days down the organisations and flags
overdue farms by an injected clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from farmwatch.platform.access import ChannelGrant, OrgTier, Principal, Role
from farmwatch.platform.cameras import CameraPlace, KeyArea, PlacementRepository
from farmwatch.platform.db import Database
from farmwatch.platform.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StreamFailed,
)
from farmwatch.platform.supervision.monitoring_records import (
    MonitoringDraft,
    MonitoringFilter,
    Outcome,
    ViewMode,
)
from farmwatch.platform.supervision.monitoring_repository import MonitoringRepository
from farmwatch.platform.supervision.monitoring_service import MonitoringService, RecordSources
from farmwatch.platform.supervision.schedule_service import ScheduleService
from farmwatch.platform.supervision.snapshot_store import SnapshotStore

from . import test_access
from .conftest import T0
from .test_access import CAMERA_1, CAMERA_2, IPC, NVR, PASSWORD, Clock, Platform, build, logged_in

# A real JPEG's frame: SOI, a comment segment, EOI (the store checks the two markers).
JPEG = b"\xff\xd8\xff\xfe\x00\x06farm\xff\xd9"
ALL_COMPLIANT = {"drug_store.permitted_list": "compliant", "drug_store.labelled": "compliant"}


class Pictures:
    """The cameras' pictures: a JPEG, or the platform's error when there is none."""

    def __init__(self) -> None:
        self.failure: str | None = None
        self.asked: list[str] = []

    async def live(self, channel_id: str) -> bytes:
        self.asked.append(channel_id)
        if self.failure is not None:
            raise StreamFailed(self.failure)
        return JPEG

    async def playback(self, session_id: str) -> bytes:
        raise StreamFailed(f"no playback {session_id}")


@dataclass
class Setup:
    platform: Platform
    records: MonitoringService
    schedule: ScheduleService
    pictures: Pictures
    store: SnapshotStore
    chief: Principal
    gz: Principal
    pan: Principal
    idle: Principal
    farm_id: int
    other_farm_id: int
    bureau_id: int
    branch_id: int


@pytest.fixture
async def setup(database: Database, tmp_path: Path) -> Setup:
    """A bureau with a branch; farm 1 (branch) holds the NVR, its camera 1 a 药库 camera and
    camera 2 with no key area; farm 2 (bureau) holds nothing; a monitor granted camera 1,
    one granted nothing; the IPC on no farm."""
    clock = Clock()
    platform = build(database, clock)
    await test_access.register_cameras(database)
    administration = platform.access.administration
    await administration.bootstrap_administrator("chief", PASSWORD)
    chief = (await logged_in(platform, "chief")).principal
    bureau = await administration.create_organisation(
        chief, "广州局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    branch = await administration.create_organisation(
        chief, "番禺分支", OrgTier.BRANCH, bureau.id, source=None
    )
    farm = await administration.create_farm(chief, "一号猪场", "GZ-0001", branch.id, source=None)
    other = await administration.create_farm(chief, "二号鸡场", "GZ-0002", bureau.id, source=None)
    await administration.place_device(chief, NVR, farm.id, source=None)
    placements = PlacementRepository(database.sessions)
    await placements.set_place(CameraPlace(CAMERA_1, KeyArea.DRUG_STORE, "A-01"), at=T0)
    await placements.set_place(CameraPlace(IPC, KeyArea.DRUG_STORE, None), at=T0)
    for name, role in (("gz.admin", Role.ADMINISTRATOR), ("pan", Role.MONITOR),
                       ("idle", Role.MONITOR)):  # fmt: skip
        user = await administration.create_user(
            chief, name, f"{name} 姓名", bureau.id, role, PASSWORD, source=None
        )
        if name == "pan":
            await administration.grant(chief, user.id, ChannelGrant(CAMERA_1), source=None)
    signed = {n: (await logged_in(platform, n)).principal for n in ("gz.admin", "pan", "idle")}
    repository = MonitoringRepository(database.sessions)
    pictures = Pictures()
    store = SnapshotStore(tmp_path / "storage")
    access = platform.access
    records = MonitoringService(
        repository,
        RecordSources(access.gate, access.directory, placements, access.owners, pictures),
        store,
        zone=ZoneInfo("Asia/Shanghai"),
        clock=clock,
    )
    schedule = ScheduleService(
        repository, access.directory, access.gate, default_days=7, clock=clock
    )
    return Setup(
        platform, records, schedule, pictures, store, chief, signed["gz.admin"], signed["pan"],
        signed["idle"], farm.id, other.id, bureau.id, branch.id,
    )  # fmt: skip


def _live(answers: dict[str, object], **more: object) -> MonitoringDraft:
    return MonitoringDraft(ViewMode.LIVE, None, answers, **more)  # type: ignore[arg-type]


async def test_a_live_record_is_signed_stored_with_its_snapshot(setup: Setup) -> None:
    clock = setup.platform.clock
    clock.advance(hours=1)
    answers = {**ALL_COMPLIANT, "drug_store.labelled": {"answer": "not_compliant",
                                                        "remark": "两瓶无批次"}}  # fmt: skip
    made = await setup.records.create(setup.pan, CAMERA_1, _live(answers, remark="复查"))
    stored = await setup.records.get(setup.gz, made.id)
    assert stored == made
    assert (stored.farm_id, stored.device_id, stored.key_area) == (
        setup.farm_id,
        NVR,
        KeyArea.DRUG_STORE,
    )
    assert stored.recorded_at == clock.now and stored.signature.signed_at == clock.now
    assert (stored.signature.username, stored.signature.display_name) == ("pan", "pan 姓名")
    assert stored.signature.user_id == setup.pan.user_id
    assert stored.outcome is Outcome.NOT_COMPLIANT and stored.remark == "复查"
    assert [a.remark for a in stored.answers] == ["", "两瓶无批次"]
    assert stored.snapshot.sha256 == hashlib.sha256(JPEG).hexdigest()
    file = setup.store.path_of(stored.snapshot.sha256)
    assert file.parent.name == "monitoring-snapshots" and file.read_bytes() == JPEG
    assert await setup.records.snapshot(setup.pan, made.id) == JPEG


async def test_a_record_without_a_picture_is_kept_with_the_reason(setup: Setup) -> None:
    setup.pictures.failure = "channel 34020000001310000001 is offline"
    made = await setup.records.create(setup.pan, CAMERA_1, _live(ALL_COMPLIANT))
    stored = await setup.records.get(setup.pan, made.id)
    assert stored.snapshot.sha256 is None
    assert stored.snapshot.missing_reason == "channel 34020000001310000001 is offline"
    with pytest.raises(NotFound, match="has no snapshot: channel .* is offline"):
        await setup.records.snapshot(setup.pan, made.id)


async def test_bad_drafts_and_unready_cameras_are_refused_and_nothing_is_stored(
    setup: Setup,
) -> None:
    with pytest.raises(InvalidInput, match="missing drug_store.labelled"):
        await setup.records.create(
            setup.pan, CAMERA_1, _live({"drug_store.permitted_list": "compliant"})
        )
    with pytest.raises(Conflict, match="has no key area"):
        await setup.records.create(setup.chief, CAMERA_2, _live(ALL_COMPLIANT))
    with pytest.raises(Conflict, match="on no farm"):
        await setup.records.create(setup.chief, IPC, _live(ALL_COMPLIANT))
    future = MonitoringDraft(ViewMode.PLAYBACK, T0 + timedelta(days=1), ALL_COMPLIANT)
    with pytest.raises(InvalidInput, match="in the future"):
        await setup.records.create(setup.pan, CAMERA_1, future)
    with pytest.raises(InvalidInput, match="needs the position"):
        await setup.records.create(
            setup.pan, CAMERA_1, MonitoringDraft(ViewMode.PLAYBACK, None, ALL_COMPLIANT)
        )
    assert await setup.records.find(setup.chief, MonitoringFilter(), limit=10) == []
    assert setup.pictures.asked == []


async def test_a_correction_is_a_new_record_naming_the_old_one(setup: Setup) -> None:
    first = await setup.records.create(setup.pan, CAMERA_1, _live(ALL_COMPLIANT))
    setup.platform.clock.advance(minutes=5)
    answers = {**ALL_COMPLIANT, "drug_store.permitted_list": "not_visible"}
    second = await setup.records.create(setup.pan, CAMERA_1, _live(answers, corrects_id=first.id))
    assert second.id != first.id and second.corrects_id == first.id
    assert await setup.records.get(setup.pan, first.id) == first  # unchanged
    found = await setup.records.find(setup.pan, MonitoringFilter(), limit=10)
    assert [r.id for r in found] == [second.id, first.id]
    with pytest.raises(NotFound):
        await setup.records.create(setup.pan, CAMERA_1, _live(ALL_COMPLIANT, corrects_id=9999))


async def test_records_are_found_by_filters_within_reach(setup: Setup) -> None:
    clock = setup.platform.clock
    made = []
    for answers in (ALL_COMPLIANT, {**ALL_COMPLIANT, "drug_store.labelled": "not_compliant"}):
        clock.advance(hours=1)
        made.append(await setup.records.create(setup.pan, CAMERA_1, _live(answers)))
    clock.advance(hours=1)
    made.append(
        await setup.records.create(
            setup.gz,
            CAMERA_1,
            MonitoringDraft(ViewMode.PLAYBACK, T0 + timedelta(minutes=30), ALL_COMPLIANT),
        )  # fmt: skip
    )
    find = setup.records.find

    async def ids(who: Principal, **wanted: object) -> list[int]:
        found = await find(who, MonitoringFilter(**wanted), limit=10)  # type: ignore[arg-type]
        return [r.id for r in found]

    assert await ids(setup.chief) == [made[1].id, made[0].id, made[2].id]
    assert await ids(setup.chief, outcome=Outcome.NOT_COMPLIANT) == [made[1].id]
    assert await ids(setup.chief, user_id=setup.gz.user_id) == [made[2].id]
    assert await ids(setup.chief, farm_id=setup.other_farm_id) == []
    assert await ids(setup.chief, channel_id=CAMERA_1, since=T0 + timedelta(hours=1),
                     until=T0 + timedelta(hours=2)) == [made[0].id]  # fmt: skip
    assert await ids(setup.idle) == []  # a monitor granted nothing sees no farm
    with pytest.raises(NotFound):
        await setup.records.get(setup.idle, made[0].id)
    page = await find(setup.chief, MonitoringFilter(), limit=2, offset=2)
    assert [r.id for r in page] == [made[2].id]


async def test_the_schedule_inherits_days_and_flags_overdue_farms(setup: Setup) -> None:
    clock = setup.platform.clock
    clock.now = T0 + timedelta(days=3)
    await setup.records.create(setup.pan, CAMERA_1, _live(ALL_COMPLIANT))
    clock.now = T0 + timedelta(days=8)
    due = await setup.schedule.due(setup.chief)
    # Farm 2 (never monitored) was due 7 days after it was registered; farm 1 at day 10.
    assert [(d.farm.id, d.overdue) for d in due] == [
        (setup.other_farm_id, True),
        (setup.farm_id, False),
    ]
    assert due[1].last_record_at == T0 + timedelta(days=3)
    assert due[1].due_at == T0 + timedelta(days=10)

    # The bureau sets 3 days: its branch inherits them, until the branch sets its own.
    bureau = await setup.schedule.set_days(setup.gz, setup.bureau_id, 3)
    assert (bureau.days, bureau.own) == (3, True)
    assert (await setup.schedule.of(setup.branch_id)).days == 3
    due = await setup.schedule.due(setup.chief)
    assert [(d.farm.id, d.overdue, d.days) for d in due] == [
        (setup.other_farm_id, True, 3),
        (setup.farm_id, True, 3),
    ]
    branch = await setup.schedule.set_days(setup.gz, setup.branch_id, 30)
    assert (branch.days, branch.own) == (30, True)
    due = {d.farm.id: d for d in await setup.schedule.due(setup.chief)}
    assert not due[setup.farm_id].overdue and due[setup.farm_id].days == 30
    assert (await setup.schedule.set_days(setup.gz, setup.branch_id, None)).days == 3

    # A monitor sees the farms of their grants only, and sets nothing.
    assert [d.farm.id for d in await setup.schedule.due(setup.pan)] == [setup.farm_id]
    with pytest.raises(PermissionDenied):
        await setup.schedule.set_days(setup.pan, setup.branch_id, 5)
    with pytest.raises(PermissionDenied):
        await setup.schedule.set_days(setup.gz, setup.chief.organisation_id, 5)
    with pytest.raises(InvalidInput, match="1 to 366"):
        await setup.schedule.set_days(setup.gz, setup.bureau_id, 0)
    with pytest.raises(NotFound):
        await setup.schedule.set_days(setup.gz, 9999, 5)
