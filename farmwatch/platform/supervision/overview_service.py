"""Loads what the supervision overview sums up (`overview.overview_of`) for one caller:
each source read once per request, whatever the number of farms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from farmwatch.platform.access import AccessGate, DirectoryRepository, OrgTree, Principal
from farmwatch.platform.cameras import CameraTree
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.anomalies.repository import AnomalyRepository
from farmwatch.platform.supervision.anomalies.states import is_overdue
from farmwatch.platform.supervision.diagnosis import DiagnosisRepository
from farmwatch.platform.supervision.farms import FarmFilter, FarmRegisterRepository
from farmwatch.platform.supervision.faults.records import FaultFilter
from farmwatch.platform.supervision.faults.repository import FaultRepository
from farmwatch.platform.supervision.monitoring_repository import MonitoringRepository
from farmwatch.platform.supervision.overview import (
    OrganisationOverview,
    OverviewCamera,
    OverviewFacts,
    OverviewFarm,
    OverviewSpotCheck,
    Period,
    overview_of,
)
from farmwatch.platform.supervision.schedule_service import ScheduleService
from farmwatch.platform.supervision.spot_checks.repository import SpotCheckRepository

__all__ = ["MAX_OVERVIEW_DAYS", "OverviewService", "OverviewSources"]

Clock = Callable[[], datetime]
MAX_OVERVIEW_DAYS = 366
# An overview counts what is open; beyond these the platform has other problems.
MAX_OPEN = 100_000
MAX_SPOT_CHECKS = 10_000


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OverviewSources:
    gate: AccessGate
    directory: DirectoryRepository
    cameras: CameraTree
    schedule: ScheduleService
    monitoring: MonitoringRepository
    farms: FarmRegisterRepository
    faults: FaultRepository
    anomalies: AnomalyRepository
    spot_checks: SpotCheckRepository
    diagnoses: DiagnosisRepository


class OverviewService:
    def __init__(
        self, sources: OverviewSources, *, default_days: int, clock: Clock = _utc_now
    ) -> None:
        self._sources = sources
        self._default_days = default_days
        self._clock = clock

    def period(self, since: datetime | None, until: datetime | None) -> Period:
        """The period asked for; by default the last `schedule_days` days up to now (the
        configured default: one schedule period, whatever an organisation set)."""
        now = self._clock()
        end = until or now
        start = since or end - timedelta(days=self._default_days)
        if end <= start:
            raise InvalidInput("to: must be after from")
        if end - start > timedelta(days=MAX_OVERVIEW_DAYS):
            raise InvalidInput(f"from/to: at most {MAX_OVERVIEW_DAYS} days")
        return Period(start, end)

    async def overview(
        self, principal: Principal, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[Period, OrganisationOverview | None]:
        period = self.period(since, until)
        sources = self._sources
        now = self._clock()
        tree = await sources.cameras.tree(principal)
        due = await sources.schedule.due(principal)
        visible = await sources.gate.visible_farms(principal)
        farm_ids = frozenset(d.farm.id for d in due)
        # Every farm: no list of IDs (a query's parameters are bounded, farms are not).
        scope = None if visible is None else farm_ids
        states = {f.id: f.state for f in await sources.farms.farms(FarmFilter(), scope)}
        records = await sources.monitoring.records_per_farm(scope, period.since, period.until)
        farms = [
            OverviewFarm(
                d.farm.id,
                d.farm.name,
                d.farm.organisation_id,
                states[d.farm.id],
                records.get(d.farm.id, 0),
                d.last_record_at,
                d.due_at,
                d.overdue,
            )
            for d in due
            if d.farm.id in states
        ]
        cameras = [
            OverviewCamera(camera.record.channel_id, device.farm_id, camera.record.is_online)
            for device in tree.devices
            for camera in device.cameras
        ]
        # A top administrator sees every ticket, also of devices placed on no farm.
        faults = await sources.faults.find(FaultFilter(is_open=True, farms=scope), limit=MAX_OPEN)
        anomalies = await sources.anomalies.not_closed(scope)
        orgs = await sources.directory.organisations()
        reach = OrgTree(orgs).subtree(principal.organisation_id)
        checks = await sources.spot_checks.find(
            reach, since=period.since, until=period.until, limit=MAX_SPOT_CHECKS
        )
        seen = {camera.channel_id for camera in cameras}
        failing = [
            state
            for state in await sources.diagnoses.states(
                None if visible is None else seen, failed_only=True
            )
            if state.channel_id in seen
        ]
        facts = OverviewFacts(
            organisations=orgs,
            root_id=principal.organisation_id,
            period=period,
            farms=farms,
            cameras=cameras,
            open_faults=[(ticket.farm_id, ticket.kind) for ticket in faults],
            open_anomalies=[
                (a.farm_id, a.state, is_overdue(a.state, a.deadline, now)) for a in anomalies
            ],
            spot_checks=[
                OverviewSpotCheck(
                    check.organisation_id,
                    tuple((item.state, item.outcome) for item in check.items),
                )
                for check in checks
            ],
            failing_pictures=[state.channel_id for state in failing],
        )
        return period, overview_of(facts)
