"""The supervision overview on SQLite and PostgreSQL, over real repositories: a farm
monitored in the period, a farm overdue, a fault opened by hand, anomalies (one with its
rectification overdue, one escalated to a case) and a spot check, summed per organisation;
a monitor's figures cover only his camera's farm."""

from __future__ import annotations

from datetime import timedelta

from farmwatch.platform.cameras import CameraTree, PlacementRepository
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.supervision.anomalies.records import NewAnomaly, ViewMode
from farmwatch.platform.supervision.anomalies.repository import AnomalyRepository
from farmwatch.platform.supervision.anomalies.states import AnomalyState, EvidenceState, Step
from farmwatch.platform.supervision.diagnosis import DiagnosisRepository
from farmwatch.platform.supervision.farms import ApprovalState, FarmRegisterRepository
from farmwatch.platform.supervision.faults.feed import FaultFeed
from farmwatch.platform.supervision.faults.repository import FaultRepository
from farmwatch.platform.supervision.faults.service import FaultService
from farmwatch.platform.supervision.faults.states import FaultKind
from farmwatch.platform.supervision.monitoring_repository import MonitoringRepository
from farmwatch.platform.supervision.overview import OrganisationOverview
from farmwatch.platform.supervision.overview_service import OverviewService, OverviewSources
from farmwatch.platform.supervision.spot_checks.records import ItemState
from farmwatch.platform.supervision.spot_checks.repository import SpotCheckRepository
from farmwatch.platform.supervision.spot_checks.service import (
    ResultDraft,
    SpotCheckService,
    SpotCheckSources,
)
from farmwatch.platform.supervision.webhook import Webhook

from .conftest import T0
from .test_access import CAMERA_1, CAMERA_2, IPC
from .test_monitoring_records import ALL_COMPLIANT, Setup, _live
from .test_monitoring_records import setup as setup  # noqa: F401  (the fixture)


def _overview(setup: Setup) -> OverviewService:
    database, access = setup.platform.database, setup.platform.access
    channels = ChannelRepository(database.sessions)
    placements = PlacementRepository(database.sessions)
    tree = CameraTree(DeviceRepository(database.sessions), channels, placements, access)
    return OverviewService(
        OverviewSources(
            access.gate, access.directory, tree, setup.schedule,
            MonitoringRepository(database.sessions), FarmRegisterRepository(database.sessions),
            FaultRepository(database.sessions), AnomalyRepository(database.sessions),
            SpotCheckRepository(database.sessions), DiagnosisRepository(database.sessions),
        ),
        default_days=7,
        clock=setup.platform.clock,
    )  # fmt: skip


def _walk(node: OrganisationOverview) -> dict[int, OrganisationOverview]:
    found = {node.organisation.id: node}
    for child in node.children:
        found.update(_walk(child))
    return found


async def test_the_overview_sums_what_the_services_recorded(setup: Setup) -> None:
    clock, database = setup.platform.clock, setup.platform.database
    access = setup.platform.access
    clock.advance(days=8)  # both farms (registered at T0, 7 days' schedule) are overdue...
    await setup.records.create(setup.pan, CAMERA_1, _live(ALL_COMPLIANT))  # ...farm 1 no more
    faults = FaultService(
        FaultRepository(database.sessions), access.gate, access.directory, access.cameras,
        FaultFeed(), Webhook(""), clock=clock,
    )  # fmt: skip
    await faults.open_by_hand(setup.gz, CAMERA_2, FaultKind.BLURRED, "镜头脏")
    anomalies = AnomalyRepository(database.sessions)
    for farm_id in (setup.farm_id, setup.other_farm_id):
        await anomalies.add(
            NewAnomaly(farm_id, CAMERA_1, "pan", None, clock.now, clock.now, ViewMode.LIVE,
                       None, "饲料库门未关"),
            evidence=EvidenceState.FAILED,
        )  # fmt: skip
    first, second = await anomalies.not_closed(None)
    overdue_order = Step(AnomalyState.RECTIFICATION_ORDERED, True, "", "限期整改",
                         clock.now - timedelta(hours=1))  # fmt: skip
    await anomalies.apply(first.id, AnomalyState.OPEN, overdue_order, by="chief", at=clock.now)
    case = Step(AnomalyState.CASE_OPENED, True, "立案", case_number="2026-007")
    await anomalies.apply(second.id, AnomalyState.OPEN, case, by="chief", at=clock.now)
    checks = SpotCheckService(
        SpotCheckRepository(database.sessions, database.read_sessions),
        SpotCheckSources(access.gate, access.cameras, access.directory,
                         ChannelRepository(database.sessions),
                         PlacementRepository(database.sessions)),
        clock=clock,
    )  # fmt: skip
    check = await checks.draw(setup.gz, 5)
    await checks.record(
        setup.gz, check.id, check.items[0].position,
        ResultDraft(ItemState.UNPLAYABLE, remark="无码流"),
    )  # fmt: skip
    clock.advance(minutes=1)
    service = _overview(setup)

    period, root = await service.overview(setup.chief)
    assert (period.since, period.until) == (clock.now - timedelta(days=7), clock.now)
    assert root is not None
    nodes = _walk(root)
    bureau, branch = nodes[setup.bureau_id], nodes[setup.branch_id]
    assert branch.own.farms == 1 and bureau.own.farms == 1 and root.figures.farms == 2
    assert (
        root.figures.farms_by_state[ApprovalState.APPLIED]
        + root.figures.farms_by_state[ApprovalState.APPROVED]
        == 2
    )
    assert (branch.figures.farms_supervised, branch.figures.farms_overdue) == (1, 0)
    assert (bureau.own.farms_supervised, bureau.own.farms_overdue) == (0, 1)
    assert bureau.figures.farms_supervised == 1 and bureau.figures.farms_overdue == 1
    online = {
        record.channel_id
        for record in await ChannelRepository(database.sessions).list_all()
        if record.is_online and record.channel_id in (CAMERA_1, CAMERA_2, IPC)
    }
    assert (branch.figures.cameras, branch.figures.cameras_online) == (
        2, len(online - {IPC}),
    )  # fmt: skip
    assert root.figures.cameras == 3 and root.own.cameras == 1  # the IPC is on no farm
    assert branch.figures.faults_open == 1
    assert branch.figures.faults_by_kind == {FaultKind.BLURRED: 1}
    assert branch.figures.rectifications_overdue == 1 and branch.figures.cases_opened == 0
    assert bureau.own.cases_opened == 1 and root.figures.anomalies_open == 2
    assert root.figures.farms_flagged == 2
    assert bureau.own.spot_checks == 1 and root.own.spot_checks == 0
    assert bureau.figures.spot_check_cameras == len(check.items)
    assert bureau.figures.spot_check_unplayable == 1
    assert [a.farm.id for a in bureau.attention] == [setup.other_farm_id]
    assert [(a.farm.id, a.open_faults, a.open_anomalies) for a in branch.attention] == [
        (setup.farm_id, 1, 1)
    ]

    # A period before the record: farm 1 was not supervised in it.
    _, earlier = await service.overview(setup.chief, T0, T0 + timedelta(days=1))
    assert earlier is not None and earlier.figures.farms_supervised == 0
    assert earlier.figures.spot_checks == 0

    # The monitor, granted camera 1 only: his bureau's tree, his farm's figures alone.
    _, mine = await service.overview(setup.pan)
    assert mine is not None and mine.organisation.id == setup.bureau_id
    assert mine.figures.farms == 1 and mine.figures.cameras == 1
    assert mine.figures.anomalies_open == 1 and mine.figures.cases_opened == 0
    assert _walk(mine)[setup.branch_id].own.farms == 1
