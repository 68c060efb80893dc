"""How spot checks, their results, verifications and the period report are written for the
API. Times are local times of the platform's zone without an offset, as everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.platform.supervision.checklists import checklist_of
from farmwatch.platform.supervision.spot_checks.records import (
    FarmTally,
    SpotCheck,
    SpotCheckItem,
    SpotCheckReport,
    Verification,
)

__all__ = ["check_view", "item_view", "report_view", "verification_view"]


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def item_view(item: SpotCheckItem, zone: ZoneInfo) -> dict[str, Any]:
    checklist = None if item.key_area is None else checklist_of(item.key_area)
    return {
        "position": item.position,
        "channel_id": item.channel_id,
        "device_id": item.device_id,
        "farm_key": item.farm_key,
        "farm_name": item.farm_name,
        "weight": round(item.weight, 6),
        "state": item.state.value,
        "state_zh": item.state.label_zh,
        "key_area": None if item.key_area is None else item.key_area.value,
        "key_area_zh": None if item.key_area is None else item.key_area.label_zh,
        "answers": [
            {
                "point": answer.point_id,
                "text_zh": point.text_zh
                if checklist and (point := checklist.point(answer.point_id))
                else "",
                "answer": answer.answer.value,
                "remark": answer.remark,
            }
            for answer in item.answers
        ],
        "remark": item.remark,
        "outcome": None if item.outcome is None else item.outcome.value,
        "mode": None if item.mode is None else item.mode.value,
        "recorded_by": item.recorded_by,
        "recorded_at": _local(item.recorded_at, zone),
    }


def check_view(check: SpotCheck, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": check.id,
        "organisation_id": check.organisation_id,
        "drawn_by": check.drawn_by,
        "drawn_at": _local(check.drawn_at, zone),
        "requested": check.requested,
        "seed": check.seed,
        "population_digest": check.population_digest,
        "period": check.period,
        "items": [item_view(item, zone) for item in check.items],
    }


def verification_view(check_id: int, verification: Verification) -> dict[str, Any]:
    return {
        "spot_check_id": check_id,
        "ok": verification.ok,
        "digest_matches": verification.digest_matches,
        "draw_matches": verification.draw_matches,
        "population": verification.population,
        "expected": list(verification.expected),
    }


def _tally(tally: FarmTally) -> dict[str, Any]:
    return {
        "drawn": tally.drawn,
        "recorded": tally.recorded,
        "unplayable": tally.unplayable,
        "pending": tally.pending,
        "not_compliant": tally.not_compliant,
        "not_compliant_points": tally.not_compliant_points,
    }


def report_view(report: SpotCheckReport, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "from": _local(report.since, zone),
        "to": _local(report.until, zone),
        "checks": report.checks,
        **_tally(report.total),
        "farms": [
            {"farm_key": farm.farm_key, "farm_name": farm.farm_name, **_tally(farm)}
            for farm in report.farms
        ],
    }
