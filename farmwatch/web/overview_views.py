"""The JSON of the supervision overview (`/api/overview`); times in the platform's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.platform.supervision.farms import ApprovalState
from farmwatch.platform.supervision.faults.states import FaultKind
from farmwatch.platform.supervision.overview import (
    AttentionFarm,
    Figures,
    OrganisationOverview,
    Period,
)

__all__ = ["overview_view"]


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def figures_view(figures: Figures) -> dict[str, Any]:
    return {
        "cameras": figures.cameras,
        "cameras_online": figures.cameras_online,
        "farms": figures.farms,
        "farms_by_state": {state.value: figures.farms_by_state[state] for state in ApprovalState},
        "farms_supervised": figures.farms_supervised,
        "farms_due": figures.farms_due,
        "farms_overdue": figures.farms_overdue,
        "faults_open": figures.faults_open,
        "faults_by_kind": {
            kind.value: figures.faults_by_kind[kind]
            for kind in FaultKind
            if figures.faults_by_kind[kind]
        },
        "farms_flagged": figures.farms_flagged,
        "anomalies_open": figures.anomalies_open,
        "rectifications_overdue": figures.rectifications_overdue,
        "cases_opened": figures.cases_opened,
        "spot_checks": figures.spot_checks,
        "spot_check_cameras": figures.spot_check_cameras,
        "spot_check_recorded": figures.spot_check_recorded,
        "spot_check_unplayable": figures.spot_check_unplayable,
        "spot_check_non_compliant": figures.spot_check_non_compliant,
        "pictures_failing": figures.pictures_failing,
    }


def _attention_view(entry: AttentionFarm, zone: ZoneInfo) -> dict[str, Any]:
    farm = entry.farm
    return {
        "farm_id": farm.id,
        "name": farm.name,
        "state": farm.state.value,
        "overdue": farm.overdue,
        "due_at": _local(farm.due_at, zone),
        "last_record_at": _local(farm.last_record_at, zone),
        "records_in_period": farm.records_in_period,
        "open_faults": entry.open_faults,
        "open_anomalies": entry.open_anomalies,
    }


def organisation_view(node: OrganisationOverview, zone: ZoneInfo) -> dict[str, Any]:
    org = node.organisation
    return {
        "id": org.id,
        "name": org.name,
        "tier": org.tier.value,
        "figures": figures_view(node.figures),
        "own": figures_view(node.own),
        "attention": [_attention_view(entry, zone) for entry in node.attention],
        "children": [organisation_view(child, zone) for child in node.children],
    }


def overview_view(
    period: Period, root: OrganisationOverview | None, zone: ZoneInfo
) -> dict[str, Any]:
    return {
        "from": _local(period.since, zone),
        "to": _local(period.until, zone),
        "organisations": [] if root is None else [organisation_view(root, zone)],
    }
