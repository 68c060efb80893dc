"""The supervision schedule (regulation art. 18: "定期开展实时或回放监督"): every farm is
to be monitored at least once every N days. N is `[supervision] schedule_days`, unless the
farm's organisation, or the nearest one above it, sets its own.

Pure: the organisations, the overrides, the farms' last records and `now` come in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from farmwatch.platform.access.records import Farm
from farmwatch.platform.access.rules import OrgTree

__all__ = ["FarmDue", "farm_schedule", "schedule_days"]


@dataclass(frozen=True, slots=True)
class FarmDue:
    """One farm's place in the schedule. A farm never monitored is due from when it was
    registered."""

    farm: Farm
    days: int
    last_record_at: datetime | None
    due_at: datetime
    overdue: bool


def schedule_days(
    organisation_id: int, overrides: Mapping[int, int], orgs: OrgTree, default: int
) -> int:
    """The days of `organisation_id`: its own, else the nearest ancestor's, else `default`."""
    seen: set[int] = set()
    current = orgs.get(organisation_id)
    while current is not None and current.id not in seen:
        if current.id in overrides:
            return overrides[current.id]
        seen.add(current.id)
        current = None if current.parent_id is None else orgs.get(current.parent_id)
    return default


def farm_schedule(
    farms: Iterable[Farm],
    last_records: Mapping[int, datetime],
    overrides: Mapping[int, int],
    orgs: OrgTree,
    default: int,
    now: datetime,
) -> list[FarmDue]:
    """Each farm's due date, overdue farms first (the longest overdue first), then by due
    date."""
    found: list[FarmDue] = []
    for farm in farms:
        days = schedule_days(farm.organisation_id, overrides, orgs, default)
        last = last_records.get(farm.id)
        due_at = (last if last is not None else farm.created_at) + timedelta(days=days)
        found.append(FarmDue(farm, days, last, due_at, due_at <= now))
    return sorted(found, key=lambda due: (not due.overdue, due.due_at, due.farm.id))
