"""The supervision schedule (regulation art. 18; issue 11 item 2): each farm within the
caller's reach with its last monitoring record, due date and overdue flag
(`schedule.farm_schedule`), and an organisation's own number of days, set by an
administrator of it or of one above it and inherited by the organisations below."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from farmwatch.platform.access import (
    AccessGate,
    DirectoryRepository,
    OrgTree,
    Principal,
    can_manage,
)
from farmwatch.platform.errors import InvalidInput, NotFound, PermissionDenied
from farmwatch.platform.supervision.monitoring_repository import MonitoringRepository
from farmwatch.platform.supervision.schedule import FarmDue, farm_schedule, schedule_days

__all__ = ["MAX_SCHEDULE_DAYS", "OrganisationSchedule", "ScheduleService"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_SCHEDULE_DAYS = 366


@dataclass(frozen=True, slots=True)
class OrganisationSchedule:
    organisation_id: int
    days: int
    """What applies to it: its own, inherited, or the configured default."""
    own: bool
    """Whether it set the days itself."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ScheduleService:
    def __init__(
        self,
        repository: MonitoringRepository,
        directory: DirectoryRepository,
        gate: AccessGate,
        *,
        default_days: int,
        clock: Clock = _utc_now,
    ) -> None:
        self._repository = repository
        self._directory = directory
        self._gate = gate
        self._default_days = default_days
        self._clock = clock

    async def due(self, principal: Principal) -> list[FarmDue]:
        """The caller's farms in the schedule, overdue first."""
        visible = await self._gate.visible_farms(principal)
        farms = [f for f in await self._directory.farms() if visible is None or f.id in visible]
        orgs = OrgTree(await self._directory.organisations())
        return farm_schedule(
            farms,
            await self._repository.last_recorded(None if visible is None else visible),
            await self._repository.schedule_overrides(),
            orgs,
            self._default_days,
            self._clock(),
        )

    async def set_days(
        self, principal: Principal, organisation_id: int, days: int | None
    ) -> OrganisationSchedule:
        """Set the organisation's own days (None: inherit again)."""
        orgs = OrgTree(await self._directory.organisations())
        if orgs.get(organisation_id) is None:
            raise NotFound(f"no organisation {organisation_id}")
        if not can_manage(principal, organisation_id, orgs):
            raise PermissionDenied(f"organisation {organisation_id} is not within your reach")
        if days is not None and not 1 <= days <= MAX_SCHEDULE_DAYS:
            raise InvalidInput(f"days: expected 1 to {MAX_SCHEDULE_DAYS} or null, got {days}")
        await self._repository.set_schedule(
            organisation_id, days, at=self._clock(), by=principal.name
        )
        log.info(
            "supervision schedule of organisation %d set to %s by %s",
            organisation_id, "inherited" if days is None else f"{days} days", principal.name,
        )  # fmt: skip
        return await self.of(organisation_id, orgs)

    async def of(self, organisation_id: int, orgs: OrgTree | None = None) -> OrganisationSchedule:
        tree = orgs or OrgTree(await self._directory.organisations())
        overrides = await self._repository.schedule_overrides()
        days = schedule_days(organisation_id, overrides, tree, self._default_days)
        return OrganisationSchedule(organisation_id, days, organisation_id in overrides)
