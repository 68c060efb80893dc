"""Fault figures per organisation (pure): open tickets by kind, and how long faults took to
be repaired over a period (mean and median, seconds)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from farmwatch.platform.supervision.faults.records import FaultTicket
from farmwatch.platform.supervision.faults.states import FaultKind

__all__ = ["OrganisationFaults", "Period", "fault_statistics"]


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end]: a ticket counts towards the repair times when repaired within it."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


@dataclass(frozen=True, slots=True)
class OrganisationFaults:
    organisation_id: int
    open_by_kind: Mapping[FaultKind, int] = field(default_factory=dict)
    repaired: int = 0
    mean_repair_seconds: float | None = None
    median_repair_seconds: float | None = None

    @property
    def open_total(self) -> int:
        return sum(self.open_by_kind.values())


def fault_statistics(
    tickets: Iterable[FaultTicket], farm_organisations: Mapping[int, int], period: Period
) -> list[OrganisationFaults]:
    """Per organisation of the tickets' farms (`farm_organisations`: farm → organisation;
    a ticket of a farm not in it is left out), ordered by organisation ID. The repair time
    of a ticket runs from when its fault began (`since`) to when it was fixed or closed."""
    open_counts: dict[int, Counter[FaultKind]] = {}
    repair_times: dict[int, list[float]] = {}
    for ticket in tickets:
        if ticket.farm_id is None or ticket.farm_id not in farm_organisations:
            continue
        organisation = farm_organisations[ticket.farm_id]
        open_counts.setdefault(organisation, Counter())
        repair_times.setdefault(organisation, [])
        if ticket.state.is_open:
            open_counts[organisation][ticket.kind] += 1
        repaired_at = ticket.repaired_at
        if repaired_at is not None and period.holds(repaired_at):
            repair_times[organisation].append(max((repaired_at - ticket.since).total_seconds(), 0))
    found: list[OrganisationFaults] = []
    for organisation in sorted(open_counts):
        times = repair_times[organisation]
        found.append(
            OrganisationFaults(
                organisation_id=organisation,
                open_by_kind=dict(open_counts[organisation]),
                repaired=len(times),
                mean_repair_seconds=statistics.fmean(times) if times else None,
                median_repair_seconds=statistics.median(times) if times else None,
            )
        )
    return found
