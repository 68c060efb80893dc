"""Who may manage and see what: the organisation tree, can_manage and camera visibility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from farmwatch.platform.access import (
    CameraPlacement,
    ChannelGrant,
    DeviceGrant,
    FarmGrant,
    Grant,
    GrantTarget,
    Organisation,
    OrgTier,
    OrgTree,
    Role,
    can_manage,
    can_view,
    organisation_problem,
    visible_channels,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NATIONAL, BUREAU, BRANCH, OTHER_BUREAU, OTHER_BRANCH = 1, 2, 3, 4, 5
ORGS = OrgTree(
    [
        Organisation(NATIONAL, "总局", OrgTier.NATIONAL, None, T0),
        Organisation(BUREAU, "广州局", OrgTier.BUREAU, NATIONAL, T0),
        Organisation(BRANCH, "番禺分支", OrgTier.BRANCH, BUREAU, T0),
        Organisation(OTHER_BUREAU, "深圳局", OrgTier.BUREAU, NATIONAL, T0),
        Organisation(OTHER_BRANCH, "宝安分支", OrgTier.BRANCH, OTHER_BUREAU, T0),
    ]
)
# farm 10 of the branch (NVR D1 with C1, C2; IPC D2 with C3), farm 20 of the other branch
# (D3 with C4), and D4 with C5 on no farm yet.
CAMERAS = [
    CameraPlacement("C1", "D1", 10, BRANCH),
    CameraPlacement("C2", "D1", 10, BRANCH),
    CameraPlacement("C3", "D2", 10, BRANCH),
    CameraPlacement("C4", "D3", 20, OTHER_BRANCH),
    CameraPlacement("C5", "D4", None, None),
]


@dataclass(frozen=True)
class Someone:
    role: Role
    organisation_id: int


def grants(*targets: GrantTarget) -> list[Grant]:
    return [Grant(target, T0, 1) for target in targets]


def test_subtrees_follow_parent_links() -> None:
    assert ORGS.subtree(NATIONAL) == {1, 2, 3, 4, 5}
    assert ORGS.subtree(BUREAU) == {BUREAU, BRANCH}
    assert ORGS.subtree(BRANCH) == {BRANCH}
    assert ORGS.subtree(99) == frozenset()
    assert ORGS.is_within(BRANCH, NATIONAL) and not ORGS.is_within(BRANCH, OTHER_BUREAU)
    assert [org.id for org in ORGS.roots()] == [NATIONAL]


@pytest.mark.parametrize(
    ("admin_org", "target", "expected"),
    [
        (NATIONAL, OTHER_BRANCH, True),
        (BUREAU, BUREAU, True),
        (BUREAU, BRANCH, True),
        (BUREAU, OTHER_BRANCH, False),
        (BUREAU, NATIONAL, False),
        (BRANCH, BUREAU, False),
        (BRANCH, 99, False),
    ],
)
def test_an_administrator_manages_their_organisation_and_those_below(
    admin_org: int, target: int, expected: bool
) -> None:
    assert can_manage(Someone(Role.ADMINISTRATOR, admin_org), target, ORGS) is expected


def test_a_monitor_manages_nothing() -> None:
    assert not can_manage(Someone(Role.MONITOR, NATIONAL), BRANCH, ORGS)


def test_administrators_see_their_subtrees_farms_and_the_top_sees_unplaced_cameras() -> None:
    def seen(org: int) -> frozenset[str]:
        return visible_channels(Someone(Role.ADMINISTRATOR, org), [], CAMERAS, ORGS)

    assert seen(NATIONAL) == {"C1", "C2", "C3", "C4", "C5"}
    assert seen(BUREAU) == {"C1", "C2", "C3"}
    assert seen(BRANCH) == {"C1", "C2", "C3"}
    assert seen(OTHER_BUREAU) == {"C4"}


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        ([], set()),
        ([ChannelGrant("C2")], {"C2"}),
        ([DeviceGrant("D1")], {"C1", "C2"}),
        ([FarmGrant(10)], {"C1", "C2", "C3"}),
        ([ChannelGrant("C3"), DeviceGrant("D1")], {"C1", "C2", "C3"}),
        # granted, but out of the monitor's organisation (a farm moved away): not shown
        ([FarmGrant(20), ChannelGrant("C4")], set()),
        ([ChannelGrant("C5")], set()),
    ],
)
def test_a_monitor_sees_only_granted_cameras_of_their_subtree(
    held: list[GrantTarget], expected: set[str]
) -> None:
    monitor = Someone(Role.MONITOR, BRANCH)
    assert visible_channels(monitor, grants(*held), CAMERAS, ORGS) == expected
    for camera in CAMERAS:
        assert can_view(monitor, grants(*held), camera, ORGS) is (camera.channel_id in expected)


def test_a_national_monitor_can_be_granted_any_camera() -> None:
    monitor = Someone(Role.MONITOR, NATIONAL)
    held = grants(FarmGrant(20), ChannelGrant("C5"))
    assert visible_channels(monitor, held, CAMERAS, ORGS) == {"C4", "C5"}


@pytest.mark.parametrize(
    ("tier", "parent", "problem"),
    [
        (OrgTier.BUREAU, NATIONAL, ""),
        (OrgTier.BRANCH, BUREAU, ""),
        (OrgTier.BRANCH, NATIONAL, "a national (总局) can hold only a bureau, not a branch"),
        (OrgTier.BUREAU, BRANCH, "a branch (番禺分支) can hold nothing, not a bureau"),
        (OrgTier.NATIONAL, None, "there is a top organisation already: name a parent"),
        (OrgTier.BUREAU, 99, "no organisation 99"),
    ],
)
def test_organisations_nest_national_bureau_branch(
    tier: OrgTier, parent: int | None, problem: str
) -> None:
    assert organisation_problem(tier, parent, ORGS) == problem


def test_the_first_organisation_may_be_of_any_tier() -> None:
    assert organisation_problem(OrgTier.BRANCH, None, OrgTree([])) == ""
