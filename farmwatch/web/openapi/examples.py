"""An example of each request body and of the query parameters that need one: shown on the
docs page, and the first call schemathesis makes to each operation (its explicit phase), so
that the generated run also walks the happy paths (a playback, a download, a record search,
a user created...) and not only the refusals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from farmwatch.web.route_rules import RouteKey

__all__ = ["BODY_EXAMPLES", "QUERY_EXAMPLES"]

_START, _END = "2024-01-01T08:00:00", "2024-01-01T08:00:10"

BODY_EXAMPLES: Mapping[RouteKey, Any] = {
    RouteKey("POST", "/api/devices"): {
        "device_id": "34020000001320000099", "password": "camera-secret-9", "name": "barn 2",
    },
    RouteKey("PUT", "/api/devices/{device_id}/farm"): {"farm_id": None},
    RouteKey("POST", "/api/devices/{device_id}/commands"): {"command": "iframe"},
    RouteKey("PUT", "/api/devices/{device_id}/config"): {"BasicParam": {"Name": "barn camera"}},
    RouteKey("PUT", "/api/uppers/{name}/share"): {"share": "all"},
    RouteKey("POST", "/api/channels/{channel_id}/playback"): {"start": _START, "end": _END},
    RouteKey("POST", "/api/channels/{channel_id}/downloads"): {
        "start": _START, "end": _END, "speed": 4,
    },
    RouteKey("POST", "/api/channels/{channel_id}/clips"): {
        "start": _START, "end": _END, "reason": "a sick animal at the feeder",
    },
    RouteKey("PUT", "/api/channels/{channel_id}/record-plan"): {
        "mode": "weekly", "windows": [{"weekday": 0, "start": "08:00", "end": "18:00"}],
    },
    RouteKey("POST", "/api/channels/{channel_id}/ptz"): {
        "action": "move", "pan": "left", "speed": 100,
    },
    RouteKey("POST", "/api/playback/{session}/control"): {"action": "pause"},
    RouteKey("POST", "/api/users"): {
        "username": "monitor1", "display_name": "Monitor One", "organisation_id": 1,
        "role": "monitor", "password": "Correct-horse-battery-9",
    },
    RouteKey("PUT", "/api/users/{user_id}/role"): {"role": "monitor"},
    RouteKey("PUT", "/api/users/{user_id}/enabled"): {"enabled": True},
    RouteKey("PUT", "/api/users/{user_id}/password"): {"password": "Correct-horse-battery-10"},
    RouteKey("POST", "/api/users/{user_id}/grants"): {
        "kind": "channel", "target": "34020000001310000001",
    },
    RouteKey("POST", "/api/organisations"): {
        "name": "east bureau", "tier": "bureau", "parent_id": 1,
    },
    RouteKey("POST", "/api/channels/{channel_id}/anomalies"): {
        "description": "饲料库门未关，有人员未消毒进入", "mode": "playback", "time": _START,
        "category": "feed_store",
    },
    RouteKey("POST", "/api/anomalies/{anomaly_id}/rectification"): {
        "order": "立即关闭饲料库门并登记进出人员", "deadline": "2099-01-01T18:00:00",
    },
    RouteKey("POST", "/api/anomalies/{anomaly_id}/state"): {
        "state": "case_opened", "remark": "逾期未整改", "case_number": "GZ-2026-001",
    },
    RouteKey("POST", "/api/anomalies/{anomaly_id}/evidence"): {"start": _START, "end": _END},
    RouteKey("POST", "/api/anomalies/{anomaly_id}/follow-ups"): {"monitoring_record_id": 1},
    RouteKey("POST", "/api/farms"): {
        "name": "Farm One", "filing_number": "320100-0001", "organisation_id": 1,
        "operator": "Zhang San", "phone": "020-1234 5678", "address": "1 Farm Road",
        "species": "pig",
    },
    RouteKey("PUT", "/api/farms/{farm_id}"): {"phone": "+86 20 8765 4321"},
    RouteKey("POST", "/api/farms/{farm_id}/state"): {
        "state": "surveyed", "remark": "site survey done",
    },
    RouteKey("PUT", "/api/channels/{channel_id}/placement"): {
        "key_area": "animal_house", "location": "A-03", "model": "DS-2CD3T46",
        "access_method": "via_nvr",
    },
    RouteKey("POST", "/api/channels/{channel_id}/monitoring-records"): {
        "mode": "live", "answers": {
            "drug_store.permitted_list": {"answer": "compliant"},
            "drug_store.labelled": {"answer": "not_compliant", "remark": "两瓶无批次"},
        }, "remark": "复查",
    },
    RouteKey("PUT", "/api/organisations/{organisation_id}/schedule"): {"days": 7},
    RouteKey("POST", "/api/faults"): {
        "channel_id": "34020000001310000001", "kind": "other", "detail": "lens turned away",
    },
    RouteKey("POST", "/api/faults/{fault_id}/state"): {
        "state": "farm_notified", "remark": "phoned the farm",
    },
    RouteKey("POST", "/api/spot-checks"): {"count": 5, "period": "2026-12"},
    RouteKey("POST", "/api/spot-checks/{spot_check_id}/items/{position}/result"): {
        "state": "recorded", "mode": "live", "key_area": "drug_store", "answers": {
            "drug_store.permitted_list": {"answer": "compliant"},
            "drug_store.labelled": {"answer": "compliant"},
        },
    },
    RouteKey("POST", "/api/tokens"): {
        "name": "prometheus", "role": "monitor", "organisation_id": 1,
    },
}  # fmt: skip

QUERY_EXAMPLES: Mapping[RouteKey, Mapping[str, str]] = {
    RouteKey("GET", "/api/channels/{channel_id}/records"): {
        "start": _START, "end": "2024-01-01T09:00:00", "source": "device",
    },
    RouteKey("GET", "/api/alarms"): {"state": "new"},
    RouteKey("GET", "/api/faults"): {"open": "true"},
    RouteKey("GET", "/api/devices/{device_id}/config"): {"types": "BasicParam"},
}  # fmt: skip
