"""The spot-check report of a period: cameras drawn, recorded, unplayable and not compliant,
in total and per farm. Pure: checks in, tallies out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from farmwatch.platform.supervision.monitoring_records import Answer, Outcome
from farmwatch.platform.supervision.spot_checks.records import (
    FarmTally,
    ItemState,
    SpotCheck,
    SpotCheckItem,
    SpotCheckReport,
)

__all__ = ["report_of"]


def _add(tally: FarmTally, item: SpotCheckItem) -> FarmTally:
    points = sum(1 for answer in item.answers if answer.answer is Answer.NOT_COMPLIANT)
    return replace(
        tally,
        drawn=tally.drawn + 1,
        recorded=tally.recorded + (item.state is ItemState.RECORDED),
        unplayable=tally.unplayable + (item.state is ItemState.UNPLAYABLE),
        pending=tally.pending + (item.state is ItemState.PENDING),
        not_compliant=tally.not_compliant + (item.outcome is Outcome.NOT_COMPLIANT),
        not_compliant_points=tally.not_compliant_points + points,
    )


def report_of(
    checks: Iterable[SpotCheck], since: datetime | None, until: datetime | None
) -> SpotCheckReport:
    checks = list(checks)
    total = FarmTally("", "")
    farms: dict[str, FarmTally] = {}
    for check in checks:
        for item in check.items:
            total = _add(total, item)
            farm = farms.get(item.farm_key) or FarmTally(item.farm_key, item.farm_name)
            farms[item.farm_key] = _add(farm, item)
    ordered = sorted(farms.values(), key=lambda farm: (farm.farm_name, farm.farm_key))
    return SpotCheckReport(since, until, len(checks), total, tuple(ordered))
