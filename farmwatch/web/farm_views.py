"""The farm register → JSON-ready dicts for the API: farms with their particulars and
approval state, the history of decisions, documents, cameras, flags; each value with its
Chinese label where the console shows one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from farmwatch.platform.supervision.farms import (
    TRANSITIONS,
    ApprovalState,
    FarmCamera,
    FarmDetails,
    FarmDocument,
    FarmFlag,
    FarmRecord,
    Species,
    StateChange,
)
from farmwatch.web.camera_views import ACCESS_METHODS, KEY_AREAS, place_view

STATES = [{"value": s.value, "zh": s.label_zh, "en": s.label_en} for s in ApprovalState]
SPECIES = [{"value": s.value, "zh": s.label_zh, "en": s.label_en} for s in Species]
CHOICES = {
    "states": STATES, "species": SPECIES, "key_areas": KEY_AREAS,
    "access_methods": ACCESS_METHODS,
}  # fmt: skip
"""The closed sets the console offers, with their labels."""


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def register_farm_view(farm: FarmRecord) -> dict[str, Any]:
    particulars, species = farm.particulars, farm.particulars.species
    return {
        "id": farm.id,
        "name": farm.name,
        "filing_number": farm.filing_number,
        "organisation_id": farm.organisation_id,
        "created_at": _time(farm.created_at),
        "operator": particulars.operator,
        "phone": particulars.phone,
        "address": particulars.address,
        "species": None if species is None else species.value,
        "species_label": None if species is None else species.label_zh,
        "species_other": particulars.species_other,
        "state": farm.state.value,
        "state_label": farm.state.label_zh,
    }


def state_change_view(change: StateChange) -> dict[str, Any]:
    before = change.from_state
    return {
        "id": change.id,
        "from": None if before is None else before.value,
        "from_label": None if before is None else before.label_zh,
        "to": change.to_state.value,
        "to_label": change.to_state.label_zh,
        "date": change.decided_on.isoformat(),
        "officer": {"id": change.officer_id, "name": change.officer_name},
        "remark": change.remark,
        "recorded_at": _time(change.recorded_at),
    }


def document_view(document: FarmDocument) -> dict[str, Any]:
    return {
        "id": document.id,
        "farm_id": document.farm_id,
        "file_name": document.file_name,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "remark": document.remark,
        "supersedes_id": document.supersedes_id,
        "uploaded_by": {"id": document.uploaded_by, "name": document.uploaded_by_name},
        "uploaded_at": _time(document.uploaded_at),
        "file": f"/api/farms/{document.farm_id}/documents/{document.id}/file",
    }


def flag_view(flag: FarmFlag) -> dict[str, Any]:
    return {
        "kind": flag.kind.value, "since": _time(flag.since), "reason": flag.reason,
        "reference": flag.reference,
    }  # fmt: skip


def farm_details_view(details: FarmDetails) -> dict[str, Any]:
    superseded = {d.supersedes_id for d in details.documents if d.supersedes_id is not None}
    return {
        **register_farm_view(details.farm),
        "history": [state_change_view(change) for change in details.history],
        "documents": [
            {**document_view(document), "superseded": document.id in superseded}
            for document in details.documents
        ],
        "flags": [flag_view(flag) for flag in details.flags],
        # The decisions the farm's state allows now, from the state machine's own table.
        "next_states": [
            {"value": s.value, "zh": s.label_zh, "en": s.label_en}
            for s in ApprovalState
            if s in TRANSITIONS[details.farm.state]
        ],
    }


def farm_camera_view(camera: FarmCamera) -> dict[str, Any]:
    return {
        "channel_id": camera.channel_id,
        "device_id": camera.device_id,
        "name": camera.name,
        "online": camera.is_online,
        **place_view(camera.place),
    }
