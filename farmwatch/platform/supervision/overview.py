"""The supervision overview (issue 11 item 7): per organisation within the caller's reach,
its cameras online, its farms supervised in a period against the schedule, what is open
against them (fault tickets, anomalies, cases) and the spot checks it drew.

Pure: the facts come in as plain records (loaded once per request by `OverviewService`),
each belonging to exactly one organisation; an organisation's figures are its own facts
plus those of every organisation below it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from farmwatch.platform.access.records import Organisation
from farmwatch.platform.access.rules import OrgTree
from farmwatch.platform.supervision.anomalies.states import AnomalyState
from farmwatch.platform.supervision.farms.approval import ApprovalState
from farmwatch.platform.supervision.faults.states import FaultKind
from farmwatch.platform.supervision.monitoring_records import Outcome
from farmwatch.platform.supervision.spot_checks.records import ItemState

__all__ = [
    "AttentionFarm",
    "Figures",
    "OrganisationOverview",
    "OverviewCamera",
    "OverviewFacts",
    "OverviewFarm",
    "OverviewSpotCheck",
    "Period",
    "overview_of",
]


@dataclass(frozen=True, slots=True)
class Period:
    """[since, until): what "supervised in the period" and "spot checks in the period" count."""

    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class OverviewFarm:
    id: int
    name: str
    organisation_id: int
    state: ApprovalState
    records_in_period: int
    """Monitoring records made on it in the period."""
    last_record_at: datetime | None
    due_at: datetime
    overdue: bool


@dataclass(frozen=True, slots=True)
class OverviewCamera:
    channel_id: str
    farm_id: int | None
    """None: its device is placed on no farm (it counts with the caller's organisation)."""
    is_online: bool


@dataclass(frozen=True, slots=True)
class OverviewSpotCheck:
    """A spot check drawn in the period by `organisation_id`, as its items' results."""

    organisation_id: int
    items: tuple[tuple[ItemState, Outcome | None], ...]


@dataclass(frozen=True, slots=True)
class OverviewFacts:
    """Everything one caller may see, loaded once."""

    organisations: Sequence[Organisation]
    root_id: int
    """The caller's organisation: the overview's top; facts of no organisation count here."""
    period: Period
    farms: Sequence[OverviewFarm]
    cameras: Sequence[OverviewCamera]
    open_faults: Sequence[tuple[int | None, FaultKind]]
    """(farm, kind) of each open fault ticket."""
    open_anomalies: Sequence[tuple[int, AnomalyState, bool]]
    """(farm, state, rectification overdue) of each anomaly not closed."""
    spot_checks: Sequence[OverviewSpotCheck]
    failing_pictures: Sequence[str]
    """Cameras whose picture fails the diagnosis now."""


@dataclass(frozen=True, slots=True)
class Figures:
    cameras: int = 0
    cameras_online: int = 0
    farms: int = 0
    farms_by_state: Counter[ApprovalState] = field(default_factory=Counter)
    farms_supervised: int = 0
    """Farms with at least one monitoring record in the period."""
    farms_due: int = 0
    """Farms whose schedule due date falls before the period's end."""
    farms_overdue: int = 0
    faults_open: int = 0
    faults_by_kind: Counter[FaultKind] = field(default_factory=Counter)
    farms_flagged: int = 0
    """Farms with an open fault ticket or an anomaly not closed (more on-site inspection)."""
    anomalies_open: int = 0
    rectifications_overdue: int = 0
    cases_opened: int = 0
    """Anomalies escalated to a case (立案) and not yet closed."""
    spot_checks: int = 0
    spot_check_cameras: int = 0
    spot_check_recorded: int = 0
    spot_check_unplayable: int = 0
    spot_check_non_compliant: int = 0
    pictures_failing: int = 0

    def plus(self, other: Figures) -> Figures:
        return Figures(
            **{
                name: getattr(self, name) + getattr(other, name)
                for name in self.__dataclass_fields__
            }
        )


@dataclass(frozen=True, slots=True)
class AttentionFarm:
    """A farm needing attention: overdue in the schedule, or flagged."""

    farm: OverviewFarm
    open_faults: int
    open_anomalies: int


@dataclass(frozen=True, slots=True)
class OrganisationOverview:
    organisation: Organisation
    figures: Figures
    """Its own and those of every organisation below it."""
    own: Figures
    """Its own farms, cameras and spot checks only."""
    attention: tuple[AttentionFarm, ...]
    """Its own farms needing attention, overdue first."""
    children: tuple[OrganisationOverview, ...]


@dataclass(slots=True)
class _Tally:
    """One organisation's own facts, as they are gathered."""

    farms: list[OverviewFarm] = field(default_factory=list)
    cameras: list[OverviewCamera] = field(default_factory=list)
    faults: list[FaultKind] = field(default_factory=list)
    anomalies: list[tuple[AnomalyState, bool]] = field(default_factory=list)
    spot_checks: list[OverviewSpotCheck] = field(default_factory=list)
    failing: int = 0


def _own_figures(tally: _Tally, flagged: set[int], period: Period) -> Figures:
    items = [item for check in tally.spot_checks for item in check.items]
    return Figures(
        cameras=len(tally.cameras),
        cameras_online=sum(camera.is_online for camera in tally.cameras),
        farms=len(tally.farms),
        farms_by_state=Counter(farm.state for farm in tally.farms),
        farms_supervised=sum(farm.records_in_period > 0 for farm in tally.farms),
        farms_due=sum(farm.due_at < period.until for farm in tally.farms),
        farms_overdue=sum(farm.overdue for farm in tally.farms),
        faults_open=len(tally.faults),
        faults_by_kind=Counter(tally.faults),
        farms_flagged=sum(farm.id in flagged for farm in tally.farms),
        anomalies_open=len(tally.anomalies),
        rectifications_overdue=sum(overdue for _, overdue in tally.anomalies),
        cases_opened=sum(state is AnomalyState.CASE_OPENED for state, _ in tally.anomalies),
        spot_checks=len(tally.spot_checks),
        spot_check_cameras=len(items),
        spot_check_recorded=sum(state is ItemState.RECORDED for state, _ in items),
        spot_check_unplayable=sum(state is ItemState.UNPLAYABLE for state, _ in items),
        spot_check_non_compliant=sum(outcome is Outcome.NOT_COMPLIANT for _, outcome in items),
        pictures_failing=tally.failing,
    )


def _children(orgs: Iterable[Organisation]) -> dict[int | None, list[Organisation]]:
    found: dict[int | None, list[Organisation]] = {}
    for org in sorted(orgs, key=lambda o: o.id):
        found.setdefault(org.parent_id, []).append(org)
    return found


def overview_of(facts: OverviewFacts) -> OrganisationOverview | None:
    """The overview tree from the caller's organisation down (None: it is unknown)."""
    tree = OrgTree(facts.organisations)
    root = tree.get(facts.root_id)
    if root is None:
        return None
    reach = tree.subtree(root.id)

    def home(org_id: int | None) -> int:
        return org_id if org_id is not None and org_id in reach else root.id

    tallies: dict[int, _Tally] = {org_id: _Tally() for org_id in reach}
    farm_org = {farm.id: home(farm.organisation_id) for farm in facts.farms}
    for farm in facts.farms:
        tallies[farm_org[farm.id]].farms.append(farm)
    camera_org: dict[str, int] = {}
    for camera in facts.cameras:
        on_farm = None if camera.farm_id is None else farm_org.get(camera.farm_id)
        camera_org[camera.channel_id] = home(on_farm)
        tallies[camera_org[camera.channel_id]].cameras.append(camera)
    faults: Counter[int] = Counter()
    for farm_id, kind in facts.open_faults:
        tallies[home(None if farm_id is None else farm_org.get(farm_id))].faults.append(kind)
        if farm_id is not None:
            faults[farm_id] += 1
    anomalies: Counter[int] = Counter()
    for farm_id, state, overdue in facts.open_anomalies:
        tallies[home(farm_org.get(farm_id))].anomalies.append((state, overdue))
        anomalies[farm_id] += 1
    for check in facts.spot_checks:
        tallies[home(check.organisation_id)].spot_checks.append(check)
    for channel_id in facts.failing_pictures:
        tallies[camera_org.get(channel_id, root.id)].failing += 1
    flagged = set(faults) | set(anomalies)
    below = _children(org for org in facts.organisations if org.id in reach and org.id != root.id)

    def build(org: Organisation) -> OrganisationOverview:
        tally = tallies[org.id]
        own = _own_figures(tally, flagged, facts.period)
        children = tuple(build(child) for child in below.get(org.id, ()))
        total = own
        for child in children:
            total = total.plus(child.figures)
        attention = sorted(
            (
                AttentionFarm(farm, faults[farm.id], anomalies[farm.id])
                for farm in tally.farms
                if farm.overdue or farm.id in flagged
            ),
            key=lambda a: (not a.farm.overdue, a.farm.due_at, a.farm.id),
        )
        return OrganisationOverview(org, total, own, tuple(attention), children)

    return build(root)
