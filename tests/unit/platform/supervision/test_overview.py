"""The supervision overview's pure aggregation: nesting, sums over subtrees, the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farmwatch.platform.access.records import Organisation, OrgTier
from farmwatch.platform.supervision.anomalies.states import AnomalyState
from farmwatch.platform.supervision.farms.approval import ApprovalState
from farmwatch.platform.supervision.faults.states import FaultKind
from farmwatch.platform.supervision.monitoring_records import Outcome
from farmwatch.platform.supervision.overview import (
    OverviewCamera,
    OverviewFacts,
    OverviewFarm,
    OverviewSpotCheck,
    Period,
    overview_of,
)
from farmwatch.platform.supervision.spot_checks.records import ItemState

T0 = datetime(2026, 12, 1, tzinfo=UTC)
PERIOD = Period(T0, T0 + timedelta(days=7))
ORGS = [
    Organisation(1, "总局", OrgTier.NATIONAL, None, T0),
    Organisation(2, "天津局", OrgTier.BUREAU, 1, T0),
    Organisation(3, "蓟州分支", OrgTier.BRANCH, 2, T0),
    Organisation(4, "山东局", OrgTier.BUREAU, 1, T0),
]


def farm(
    farm_id: int, org: int, *, records: int = 0, due_in: float = 3, overdue: bool = False,
    state: ApprovalState = ApprovalState.APPROVED,
) -> OverviewFarm:  # fmt: skip
    return OverviewFarm(
        farm_id, f"farm {farm_id}", org, state, records, None,
        PERIOD.since + timedelta(days=due_in), overdue,
    )  # fmt: skip


def facts(**given: object) -> OverviewFacts:
    values: dict[str, object] = {
        "organisations": ORGS, "root_id": 1, "period": PERIOD, "farms": [], "cameras": [],
        "open_faults": [], "open_anomalies": [], "spot_checks": [], "failing_pictures": [],
    }  # fmt: skip
    values.update(given)
    return OverviewFacts(**values)  # type: ignore[arg-type]


def test_the_tree_nests_from_the_callers_organisation() -> None:
    root = overview_of(facts())
    assert root is not None
    assert root.organisation.id == 1
    assert [child.organisation.id for child in root.children] == [2, 4]
    assert [child.organisation.id for child in root.children[0].children] == [3]
    below = overview_of(facts(root_id=2))
    assert below is not None
    assert below.organisation.id == 2
    assert [c.organisation.id for c in below.children] == [3]
    assert overview_of(facts(root_id=99)) is None


def test_figures_sum_over_the_subtree_and_own_counts_only_its_own() -> None:
    farms = [farm(10, 3, records=2), farm(11, 2, overdue=True, due_in=-1), farm(12, 4)]
    cameras = [
        OverviewCamera("c10a", 10, True), OverviewCamera("c10b", 10, False),
        OverviewCamera("c11", 11, True), OverviewCamera("c12", 12, True),
        OverviewCamera("loose", None, False),
    ]  # fmt: skip
    root = overview_of(facts(
        farms=farms, cameras=cameras,
        open_faults=[(10, FaultKind.OFFLINE), (10, FaultKind.BLACK), (None, FaultKind.OFFLINE)],
        open_anomalies=[(12, AnomalyState.CASE_OPENED, False),
                        (10, AnomalyState.RECTIFICATION_ORDERED, True)],
        failing_pictures=["c10b", "c12"],
    ))  # fmt: skip
    assert root is not None
    tianjin, shandong = root.children
    branch = tianjin.children[0]
    assert (branch.figures.cameras, branch.figures.cameras_online) == (2, 1)
    assert (tianjin.own.cameras, tianjin.figures.cameras) == (1, 3)
    assert (root.own.cameras, root.figures.cameras, root.figures.cameras_online) == (1, 5, 3)
    assert tianjin.figures.farms == 2 and root.figures.farms == 3
    assert tianjin.figures.farms_supervised == 1 and tianjin.figures.farms_overdue == 1
    assert branch.figures.faults_by_kind == {FaultKind.OFFLINE: 1, FaultKind.BLACK: 1}
    assert root.figures.faults_open == 3 and root.own.faults_open == 1
    assert root.figures.faults_by_kind[FaultKind.OFFLINE] == 2
    assert branch.figures.rectifications_overdue == 1 and branch.figures.cases_opened == 0
    assert shandong.figures.cases_opened == 1 and root.figures.anomalies_open == 2
    assert (branch.figures.farms_flagged, shandong.figures.farms_flagged) == (1, 1)
    assert root.figures.farms_flagged == 2
    assert (branch.figures.pictures_failing, root.figures.pictures_failing) == (1, 2)
    assert root.figures.farms_by_state[ApprovalState.APPROVED] == 3


def test_attention_lists_own_overdue_and_flagged_farms_overdue_first() -> None:
    root = overview_of(facts(
        root_id=2,
        farms=[farm(20, 2), farm(21, 2, overdue=True, due_in=-2), farm(22, 2), farm(23, 3)],
        open_faults=[(22, FaultKind.FROZEN)],
        open_anomalies=[(23, AnomalyState.OPEN, False)],
    ))  # fmt: skip
    assert root is not None
    assert [(a.farm.id, a.open_faults) for a in root.attention] == [(21, 0), (22, 1)]
    assert [(a.farm.id, a.open_anomalies) for a in root.children[0].attention] == [(23, 1)]


def test_due_counts_farms_falling_due_before_the_periods_end() -> None:
    root = overview_of(facts(farms=[
        farm(30, 1, due_in=6.9), farm(31, 1, due_in=7), farm(32, 1, due_in=-3, overdue=True),
    ]))  # fmt: skip
    assert root is not None
    assert (root.figures.farms_due, root.figures.farms_overdue) == (2, 1)


def test_spot_checks_count_with_the_organisation_that_drew_them() -> None:
    root = overview_of(facts(spot_checks=[
        OverviewSpotCheck(2, ((ItemState.RECORDED, Outcome.NOT_COMPLIANT),
                              (ItemState.UNPLAYABLE, None), (ItemState.PENDING, None))),
        OverviewSpotCheck(1, ((ItemState.RECORDED, Outcome.COMPLIANT),)),
    ]))  # fmt: skip
    assert root is not None
    tianjin = root.children[0]
    assert (tianjin.figures.spot_checks, tianjin.figures.spot_check_cameras) == (1, 3)
    assert tianjin.figures.spot_check_non_compliant == 1
    assert tianjin.figures.spot_check_unplayable == 1
    assert (root.own.spot_checks, root.figures.spot_checks) == (1, 2)
    assert root.figures.spot_check_recorded == 2
