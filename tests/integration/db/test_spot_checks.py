"""Random spot checks on SQLite and PostgreSQL: a draw is stored with its seed and
population and verifies; a tampered population or draw is caught; farms' weights come from
their last recorded checks; results are validated like monitoring records; the period
report counts them; a check is seen by its organisation and those above only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update

from farmwatch.platform.access import ChannelGrant, OrgTier, Principal, Role
from farmwatch.platform.cameras import CameraPlace, KeyArea, PlacementRepository
from farmwatch.platform.db import Database
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from farmwatch.platform.models import SpotCheckRow
from farmwatch.platform.records import ChannelData, Transport
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.supervision.monitoring_records import Outcome, ViewMode
from farmwatch.platform.supervision.spot_checks.draw import MAX_WEIGHT, farm_weight
from farmwatch.platform.supervision.spot_checks.records import ItemState
from farmwatch.platform.supervision.spot_checks.repository import SpotCheckRepository
from farmwatch.platform.supervision.spot_checks.service import (
    ResultDraft,
    SpotCheckService,
    SpotCheckSources,
)

from . import test_access
from .conftest import T0
from .test_access import CAMERA_1, CAMERA_2, IPC, NVR, PASSWORD, Platform, build, logged_in

# A lower platform as the bureau sees it: its farm a virtual organisation (216) under a
# business group (215), the farm's NVR under the farm, two cameras and an alarm input.
LOWER = "44000000002000000001"
GROUP = "44000000002159000001"
FARM_VO = "44000000002169000001"
LOWER_NVR = "44000000001180000001"
LOWER_CAMS = ("44000000001310000001", "44000000001310000002")
ALARM_INPUT = "44000000001340000001"
DRUG_STORE_OK = {"drug_store.permitted_list": "compliant", "drug_store.labelled": "compliant"}


class Seeds:
    def __init__(self, *values: int) -> None:
        self.values = list(values)

    def __call__(self) -> int:
        return self.values.pop(0)


@dataclass
class Setup:
    platform: Platform
    checks: SpotCheckService
    chief: Principal
    gz: Principal
    pan: Principal
    other: Principal
    farm_id: int


async def _register_lower(database: Database) -> None:
    devices, channels = DeviceRepository(database.sessions), ChannelRepository(database.sessions)
    await devices.upsert_registration(
        LOWER, transport=Transport.UDP, remote_host="192.0.2.60", remote_port=5060,
        contact_uri=f"sip:{LOWER}@192.0.2.60:5060", expires=3600, gb_version="3.0", at=T0,
    )  # fmt: skip
    items = [
        ChannelData(GROUP, name="出口养殖场", parent_id=LOWER),
        ChannelData(FARM_VO, name="东方鸡场", parent_id=f"{LOWER}/{GROUP}"),
        ChannelData(LOWER_NVR, name="NVR", parent_id=FARM_VO),
        *(ChannelData(cam, name=f"cam {cam[-1]}", parent_id=LOWER_NVR) for cam in LOWER_CAMS),
        ChannelData(ALARM_INPUT, name="door", parent_id=LOWER_NVR),
    ]
    await channels.replace_catalog(LOWER, items, at=T0)


@pytest.fixture
async def setup(database: Database) -> Setup:
    """The top organisation's chief; a bureau with a farm holding the NVR (camera 1 a 药库
    camera); the IPC on no farm; the lower platform with its farm of two cameras; an
    administrator of the bureau, a monitor of it granted camera 1, an administrator of a
    second bureau."""
    platform = build(database, test_access.Clock())
    await test_access.register_cameras(database)
    await _register_lower(database)
    administration = platform.access.administration
    await administration.bootstrap_administrator("chief", PASSWORD)
    chief = (await logged_in(platform, "chief")).principal
    bureau = await administration.create_organisation(
        chief, "广州局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    second = await administration.create_organisation(
        chief, "深圳局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    farm = await administration.create_farm(chief, "一号猪场", "GZ-0001", bureau.id, source=None)
    await administration.place_device(chief, NVR, farm.id, source=None)
    placements = PlacementRepository(database.sessions)
    await placements.set_place(CameraPlace(CAMERA_1, KeyArea.DRUG_STORE, "A-01"), at=T0)
    users = {}
    for name, role, org in (("gz.admin", Role.ADMINISTRATOR, bureau.id),
                            ("pan", Role.MONITOR, bureau.id),
                            ("sz.admin", Role.ADMINISTRATOR, second.id)):  # fmt: skip
        user = await administration.create_user(
            chief, name, f"{name} 姓名", org, role, PASSWORD, source=None
        )
        users[name] = user
    await administration.grant(chief, users["pan"].id, ChannelGrant(CAMERA_1), source=None)
    signed = {n: (await logged_in(platform, n)).principal for n in users}
    access = platform.access
    checks = SpotCheckService(
        SpotCheckRepository(database.sessions, database.read_sessions),
        SpotCheckSources(
            access.gate, access.cameras, access.directory,
            ChannelRepository(database.sessions), placements,
        ),
        clock=platform.clock,
        seeds=Seeds(*range(1, 50)),
    )  # fmt: skip
    return Setup(
        platform, checks, chief, signed["gz.admin"], signed["pan"], signed["sz.admin"], farm.id
    )


async def test_a_draw_is_stored_with_its_seed_population_and_farms(setup: Setup) -> None:
    check = await setup.checks.draw(setup.chief, 5, "2025-03")
    stored = await setup.checks.get(setup.chief, check.id, with_population=True)
    assert stored.seed == f"{1:016x}" and stored.period == "2025-03"
    assert (stored.drawn_by, stored.requested, stored.drawn_at) == ("chief", 5, T0)
    # Cameras only (no group, farm, NVR or alarm input): NVR's two, the IPC, the lower's two.
    assert sorted(c.channel_id for c in stored.population) == sorted(
        [CAMERA_1, CAMERA_2, IPC, *LOWER_CAMS]
    )
    farms = {(c.channel_id, c.farm_key, c.farm_name) for c in stored.population}
    assert (CAMERA_1, f"farm:{setup.farm_id}", "一号猪场") in farms
    assert (LOWER_CAMS[0], FARM_VO, "东方鸡场") in farms
    assert (IPC, IPC, IPC) in farms
    assert [i.position for i in stored.items] == [1, 2, 3, 4, 5]
    # One camera of each of the three farms before any farm's second camera.
    assert len({i.farm_key for i in stored.items[:3]}) == 3
    assert all(i.state is ItemState.PENDING for i in stored.items)
    by_channel = {i.channel_id: i for i in stored.items}
    assert by_channel[CAMERA_1].key_area is KeyArea.DRUG_STORE
    assert by_channel[LOWER_CAMS[0]].key_area is None
    assert (await setup.checks.verify(setup.chief, check.id)).ok


async def test_a_monitor_draws_only_among_the_cameras_they_may_view(setup: Setup) -> None:
    check = await setup.checks.draw(setup.pan, 3)
    assert [i.channel_id for i in check.items] == [CAMERA_1]
    with pytest.raises(Conflict, match="no camera"):
        await setup.checks.draw(setup.other, 1)  # the second bureau holds no farm
    with pytest.raises(InvalidInput, match="count"):
        await setup.checks.draw(setup.chief, 101)


async def test_a_tampered_population_or_draw_fails_verification(
    setup: Setup, database: Database
) -> None:
    check = await setup.checks.draw(setup.chief, 2)
    stored = await setup.checks.get(setup.chief, check.id, with_population=True)
    population = [
        {"channel": c.channel_id, "device": c.device_id, "farm": c.farm_key,
         "farm_name": c.farm_name, "weight": c.weight}
        for c in stored.population if c.channel_id != check.items[1].channel_id
    ]  # fmt: skip
    async with database.sessions.begin() as session:
        await session.execute(
            update(SpotCheckRow).where(SpotCheckRow.id == check.id).values(population=population)
        )
    verification = await setup.checks.verify(setup.chief, check.id)
    assert not verification.digest_matches and not verification.ok
    assert verification.population == len(stored.population) - 1

    other = await setup.checks.draw(setup.chief, 2)
    async with database.sessions.begin() as session:  # a seed chosen after the fact
        await session.execute(
            update(SpotCheckRow).where(SpotCheckRow.id == other.id).values(seed=f"{999:016x}")
        )
    verification = await setup.checks.verify(setup.chief, other.id)
    assert verification.digest_matches and not verification.draw_matches


async def test_farms_weigh_by_their_last_recorded_check(setup: Setup) -> None:
    clock = setup.platform.clock
    first = await setup.checks.draw(setup.chief, 5)
    assert {c.weight for c in first.population} == {MAX_WEIGHT}  # none checked yet
    camera_1 = next(i for i in first.items if i.channel_id == CAMERA_1)
    lower = next(i for i in first.items if i.farm_key == FARM_VO)
    ipc = next(i for i in first.items if i.channel_id == IPC)
    clock.advance(days=1)
    await setup.checks.record(
        setup.chief, first.id, camera_1.position,
        ResultDraft(ItemState.RECORDED, ViewMode.LIVE, answers=DRUG_STORE_OK),
    )  # fmt: skip
    clock.advance(days=13)
    await setup.checks.record(
        setup.chief, first.id, lower.position,
        ResultDraft(ItemState.RECORDED, ViewMode.PLAYBACK, KeyArea.FEED_STORE,
                    {"feed_store.approved_source": "compliant",
                     "feed_store.labelled": "not_compliant"}),
    )  # fmt: skip
    await setup.checks.record(  # unplayable: the farm was not checked
        setup.chief, first.id, ipc.position, ResultDraft(ItemState.UNPLAYABLE, remark="无码流")
    )
    clock.advance(days=7)
    second = await setup.checks.draw(setup.chief, 1)
    weights = {c.farm_key: c.weight for c in second.population}
    assert weights[f"farm:{setup.farm_id}"] == pytest.approx(
        farm_weight(T0, clock.now - timedelta(days=1))
    )
    assert weights[f"farm:{setup.farm_id}"] == pytest.approx(1 + 20 / 7)
    assert weights[FARM_VO] == pytest.approx(2.0)
    assert weights[IPC] == MAX_WEIGHT


async def test_results_are_validated_and_recorded_once(setup: Setup) -> None:
    check = await setup.checks.draw(setup.chief, 5)
    by_channel = {i.channel_id: i for i in check.items}
    lower = by_channel[LOWER_CAMS[0]].position
    with pytest.raises(InvalidInput, match="key_area"):
        await setup.checks.record(
            setup.chief, check.id, lower, ResultDraft(ItemState.RECORDED, answers=DRUG_STORE_OK)
        )
    with pytest.raises(InvalidInput, match="missing drug_store.labelled"):
        await setup.checks.record(
            setup.chief, check.id, lower,
            ResultDraft(ItemState.RECORDED, key_area=KeyArea.DRUG_STORE,
                        answers={"drug_store.permitted_list": "compliant"}),
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="remark"):
        await setup.checks.record(setup.chief, check.id, lower, ResultDraft(ItemState.UNPLAYABLE))
    await setup.checks.record(
        setup.chief, check.id, lower, ResultDraft(ItemState.UNPLAYABLE, remark="上级无响应")
    )
    item = await setup.checks.record(  # played later after all
        setup.chief, check.id, lower,
        ResultDraft(ItemState.RECORDED, ViewMode.LIVE, KeyArea.DRUG_STORE,
                    {**DRUG_STORE_OK, "drug_store.labelled": {"answer": "not_compliant",
                                                              "remark": "无批次"}}),
    )  # fmt: skip
    assert (item.state, item.outcome, item.key_area) == (
        ItemState.RECORDED,
        Outcome.NOT_COMPLIANT,
        KeyArea.DRUG_STORE,
    )
    assert item.answers[1].remark == "无批次" and item.recorded_by == "chief"
    with pytest.raises(Conflict, match="recorded already"):
        await setup.checks.record(
            setup.chief, check.id, lower, ResultDraft(ItemState.UNPLAYABLE, remark="x")
        )
    with pytest.raises(NotFound):
        await setup.checks.record(setup.chief, check.id, 9, ResultDraft(ItemState.UNPLAYABLE))


async def test_a_check_is_seen_by_its_organisation_and_above_only(setup: Setup) -> None:
    mine = await setup.checks.draw(setup.gz, 5)
    assert (await setup.checks.get(setup.chief, mine.id)).id == mine.id
    assert (await setup.checks.get(setup.pan, mine.id)).id == mine.id
    with pytest.raises(NotFound):
        await setup.checks.get(setup.other, mine.id)
    assert await setup.checks.find(setup.other, limit=10) == []
    top = await setup.checks.draw(setup.chief, 1)
    assert [c.id for c in await setup.checks.find(setup.gz, limit=10)] == [mine.id]
    with pytest.raises(NotFound):
        await setup.checks.verify(setup.gz, top.id)
    # The monitor sees the bureau's check but may record only the camera granted to them.
    not_granted = next(i for i in mine.items if i.channel_id != CAMERA_1)
    with pytest.raises(PermissionDenied):
        await setup.checks.record(
            setup.pan, mine.id, not_granted.position, ResultDraft(ItemState.UNPLAYABLE, remark="x")
        )


async def test_the_period_report_counts_per_farm(setup: Setup) -> None:
    clock = setup.platform.clock
    before = await setup.checks.draw(setup.chief, 1)
    clock.advance(days=2)
    check = await setup.checks.draw(setup.chief, 5)
    by_channel = {i.channel_id: i for i in check.items}
    await setup.checks.record(
        setup.chief, check.id, by_channel[CAMERA_1].position,
        ResultDraft(ItemState.RECORDED, answers={"drug_store.permitted_list": "not_compliant",
                                                 "drug_store.labelled": "not_compliant"}),
    )  # fmt: skip
    await setup.checks.record(
        setup.chief,
        check.id,
        by_channel[IPC].position,
        ResultDraft(ItemState.UNPLAYABLE, remark="离线"),
    )
    report = await setup.checks.report(setup.chief, T0 + timedelta(days=1), None)
    assert report.checks == 1
    total = report.total
    assert (total.drawn, total.recorded, total.unplayable, total.pending) == (5, 1, 1, 3)
    assert (total.not_compliant, total.not_compliant_points) == (1, 2)
    farms = {farm.farm_key: farm for farm in report.farms}
    ours = farms[f"farm:{setup.farm_id}"]
    assert (ours.farm_name, ours.drawn, ours.recorded, ours.not_compliant_points) == (
        "一号猪场",
        2,
        1,
        2,
    )
    assert (farms[IPC].unplayable, farms[FARM_VO].drawn, farms[FARM_VO].farm_name) == (
        1,
        2,
        "东方鸡场",
    )
    everything = await setup.checks.report(setup.chief, None, None)
    assert everything.checks == 2 and everything.total.drawn == 5 + len(before.items)
    assert (await setup.checks.report(setup.other, None, None)).checks == 0
    with pytest.raises(InvalidInput):
        await setup.checks.report(setup.chief, T0, T0)
