"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's bodies and answers, written
beside `views.py`, `access_views.py` and the route modules whose shapes they describe.

Answers list the fields the views always write (`required`) and allow more, so that a field
added to a view does not make the description wrong; request bodies say what the handlers
read. Times are ISO texts (`format` is not asserted: local times carry no offset).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null (an `enum` gets null too: a value outside it is refused)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        nulled = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            nulled["enum"] = [*schema["enum"], None]
        return nulled
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Schema], *, required: tuple[str, ...] | None = None) -> Schema:
    """An object with these properties; all of them required unless `required` says which."""
    names = tuple(properties) if required is None else required
    return {"type": "object", "properties": properties, "required": list(names)}


def body(properties: dict[str, Schema], *, required: tuple[str, ...] = ()) -> Schema:
    """A request body: these fields (`required` ones needed), nothing else documented."""
    return {"type": "object", "properties": properties, "required": list(required)}


TIME = nullable(STRING)
ID_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 20}
ROLE: Schema = {"type": "string", "enum": ["administrator", "monitor"]}
GRANT_KIND: Schema = {"type": "string", "enum": ["channel", "device", "farm"]}
ANOMALY_STATE: Schema = {"type": "string", "enum": [
    "open", "rectification_ordered", "rectified", "case_opened", "closed"]}  # fmt: skip
SOURCE: Schema = {"type": "string", "enum": ["device", "platform"]}
TRANSPORT: Schema = {"type": "string", "enum": ["udp", "tcp-passive", "tcp-active"]}
STREAM_DIALECT: Schema = {"type": "string", "enum": [
    "auto", "streamnumber", "streamprofile", "streamMode", "stream", "none"]}  # fmt: skip

ORGANISATION = obj({
    "id": INTEGER, "name": STRING,
    "tier": {"type": "string", "enum": ["national", "bureau", "branch"]},
    "parent_id": nullable(INTEGER), "created_at": TIME,
})  # fmt: skip
FARM_STATE: Schema = {
    "type": "string", "enum": ["applied", "surveyed", "approved", "suspended", "revoked"],
}  # fmt: skip
SPECIES: Schema = {"type": "string", "enum": ["pig", "poultry", "cattle", "sheep", "other"]}
ACCESS_METHOD: Schema = {
    "type": "string", "enum": ["gb28181_direct", "via_nvr", "via_lower_platform"],
}  # fmt: skip
FARM = obj({
    "id": INTEGER, "name": STRING, "filing_number": STRING, "organisation_id": INTEGER,
    "created_at": TIME, "operator": nullable(STRING), "phone": nullable(STRING),
    "address": nullable(STRING), "species": nullable(SPECIES),
    "species_label": nullable(STRING), "species_other": nullable(STRING), "state": FARM_STATE,
    "state_label": STRING,
}, required=("id", "name", "filing_number", "organisation_id", "created_at"))  # fmt: skip
STATE_CHANGE = obj({
    "id": INTEGER, "from": nullable(FARM_STATE), "from_label": nullable(STRING),
    "to": FARM_STATE, "to_label": STRING, "date": STRING,
    "officer": obj({"id": nullable(INTEGER), "name": STRING}), "remark": nullable(STRING),
    "recorded_at": STRING,
})  # fmt: skip
FARM_DOCUMENT = obj({
    "id": INTEGER, "farm_id": INTEGER, "file_name": STRING, "content_type": STRING,
    "size": INTEGER, "sha256": STRING, "remark": nullable(STRING),
    "supersedes_id": nullable(INTEGER),
    "uploaded_by": obj({"id": nullable(INTEGER), "name": STRING}), "uploaded_at": STRING,
    "file": STRING, "superseded": BOOLEAN,
}, required=("id", "farm_id", "file_name", "content_type", "size", "sha256"))  # fmt: skip
FARM_DETAILS: Schema = {
    "allOf": [ref("Farm"), obj({
        "history": array(ref("StateChange")), "documents": array(ref("FarmDocument")),
        "flags": array(obj({"kind": {"type": "string", "enum": ["fault", "anomaly"]},
                            "since": TIME, "reason": STRING, "reference": nullable(STRING)})),
        "next_states": array(ANY_OBJECT),
    })],
}  # fmt: skip
GRANT = obj({"kind": GRANT_KIND, "target": STRING, "created_at": TIME,
             "created_by": nullable(INTEGER)})  # fmt: skip
USER = obj({
    "id": INTEGER, "username": STRING, "display_name": STRING, "organisation_id": INTEGER,
    "role": ROLE, "enabled": BOOLEAN, "failed_logins": INTEGER, "locked_until": TIME,
    "created_at": TIME, "updated_at": TIME, "grants": array(ref("Grant")),
}, required=("id", "username", "organisation_id", "role", "enabled"))  # fmt: skip
TOKEN = obj({
    "id": INTEGER, "name": STRING, "role": ROLE, "organisation_id": INTEGER,
    "created_by": nullable(INTEGER), "created_at": TIME, "expires_at": TIME,
    "last_used_at": TIME, "revoked_at": TIME, "grants": array(ref("Grant")),
}, required=("id", "name", "role", "organisation_id"))  # fmt: skip
ME = obj({
    "kind": {"type": "string", "enum": ["session", "token"]}, "username": nullable(STRING),
    "display_name": nullable(STRING), "role": ROLE, "user_id": nullable(INTEGER),
    "token_id": nullable(INTEGER), "organisation": nullable(ref("Organisation")),
}, required=("kind", "role", "organisation"))  # fmt: skip
AUDIT_ROW = obj({
    "id": INTEGER, "at": STRING,
    "actor": obj({"kind": STRING, "id": nullable(INTEGER), "name": nullable(STRING)},
                 required=("kind",)),
    "action": STRING, "result": STRING, "organisation_id": nullable(INTEGER),
    "channel_id": nullable(STRING), "recorded_start": TIME, "recorded_end": TIME,
    "source": nullable(STRING), "detail": ANY_OBJECT, "prev_hash": STRING, "row_hash": STRING,
})  # fmt: skip
AUDIT_VERIFY = obj({
    "intact": BOOLEAN, "rows": INTEGER, "head_hash": nullable(STRING),
    "problem": nullable(STRING), "row_id": nullable(INTEGER), "reason": nullable(STRING),
})  # fmt: skip
DEVICE = obj({
    "device_id": STRING, "name": nullable(STRING), "manufacturer": nullable(STRING),
    "model": nullable(STRING), "firmware": nullable(STRING), "online": BOOLEAN,
    "offline_reason": nullable(STRING), "transport": nullable(STRING),
    "address": nullable(STRING), "registered_at": TIME, "last_register_at": TIME,
    "last_keepalive_at": TIME, "expires": nullable(INTEGER), "gb_version": nullable(STRING),
    "charset": nullable(STRING), "enrolled": BOOLEAN, "channel_count": nullable(INTEGER),
    "catalog_sum_num": nullable(INTEGER), "catalog_received": nullable(INTEGER),
    "catalog_complete": BOOLEAN, "catalog_updated_at": TIME,
    "gb_edition": {"type": "integer", "enum": [2016, 2022]},
    "stream_dialect": {
        **obj({"dialect": STREAM_DIALECT,
               "source": {"type": "string", "enum": ["device", "configuration", "default"]},
               "setting": nullable(STREAM_DIALECT)}),
        "description": "How live offers ask for a sub stream, and where that comes from.",
    },
}, required=("device_id", "online", "enrolled", "gb_edition", "stream_dialect"))  # fmt: skip
CHANNEL_NODE: Schema = {
    **obj({"channel_id": STRING, "device_id": STRING, "kind": STRING, "online": BOOLEAN,
           "children": array(ref("ChannelNode"))},
          required=("channel_id", "device_id", "kind", "children")),
    "description": "A catalog item (its GB/T 28181 fields), its kind and its children.",
}  # fmt: skip
CATALOG_PROGRESS = obj({"device_id": STRING, "state": STRING, "received": INTEGER,
                        "expected": nullable(INTEGER)})  # fmt: skip
DEVICE_STATUS: Schema = {
    **obj({
        "device_id": STRING, "result": nullable(STRING), "online": nullable(BOOLEAN),
        "status": nullable(STRING), "reason": nullable(STRING), "encode": nullable(BOOLEAN),
        "record": nullable(BOOLEAN), "device_time": nullable(STRING),
        "alarms": array(obj({"device_id": STRING, "duty_status": nullable(STRING)})),
    }),
    "description": "The device's DeviceStatus answer.",
}  # fmt: skip
SHARE = obj({
    "share": {"type": "string", "enum": ["all", "selected"]}, "farms": array(INTEGER),
    "devices": array(STRING), "channels": array(STRING),
    "source": {"type": "string", "enum": ["config", "database"]},
    "updated_at": TIME, "updated_by": nullable(STRING),
}, required=("share", "farms", "devices", "channels", "source"))  # fmt: skip
UPPER = obj({"name": STRING, "upper_id": STRING, "state": STRING,
             "registered": BOOLEAN, "share": nullable(ref("Share"))},
            required=("name", "upper_id", "state", "registered"))  # fmt: skip
LIVE_LINKS = obj({
    "session": STRING, "channel_id": STRING, "device_id": STRING, "codec": STRING,
    "width": nullable(INTEGER), "height": nullable(INTEGER), "webrtc": STRING,
    "fmp4": STRING, "hls": STRING, "snapshot": STRING, "stream": INTEGER,
    "stream_answered": nullable(INTEGER),
}, required=("session", "channel_id", "webrtc", "fmp4", "hls", "stream"))  # fmt: skip
PLAYBACK_LINKS = obj({
    "session": STRING, "channel_id": STRING, "source": SOURCE, "start": STRING,
    "end": STRING, "webrtc": STRING, "fmp4": STRING, "hls": STRING, "control": STRING,
    "status": STRING,
})  # fmt: skip
PLAYBACK_STATUS = obj({
    "session": STRING, "channel_id": STRING, "state": STRING, "scale": NUMBER,
    "start": STRING, "end": STRING, "position": STRING, "position_seconds": NUMBER,
    "source": SOURCE, "call_id": nullable(STRING), "end_reason": nullable(STRING),
    "seek_by_reinvite": BOOLEAN,
}, required=("session", "state", "scale", "position"))  # fmt: skip
SDP = obj({"sdp": STRING, "type": STRING})
BROADCAST = obj({
    "session": STRING, "channel_id": STRING, "device_id": STRING,
    "state": {"type": "string", "enum": ["waiting", "active", "ended"]},
    "format": nullable({"type": "string", "enum": ["pcma", "pcmu", "ps"]}),
    "transport": nullable({"type": "string", "enum": ["udp", "tcp-connect", "tcp-listen"]}),
    "frames_sent": INTEGER, "seconds_sent": NUMBER, "microphone": BOOLEAN, "webrtc": STRING,
    "audio": STRING, "queued_seconds": NUMBER,
    "mode": {"type": "string", "enum": ["broadcast", "talk"]}, "frames_received": INTEGER,
    "seconds_received": NUMBER, "frames_played": INTEGER,
}, required=("session", "channel_id", "device_id", "state", "webrtc", "audio"))  # fmt: skip
DOWNLOAD = obj({
    "id": STRING, "channel_id": STRING, "source": STRING, "start": STRING, "end": STRING,
    "speed": INTEGER,
    "state": {"type": "string",
              "enum": ["pending", "downloading", "completed", "failed", "cancelled"]},
    "progress": NUMBER, "error": nullable(STRING), "file": nullable(STRING),
}, required=("id", "channel_id", "state", "progress"))  # fmt: skip
CLIP = obj({
    "id": STRING, "channel_id": STRING, "start": STRING, "end": STRING, "reason": STRING,
    "state": STRING, "sha256": nullable(STRING), "file": nullable(STRING),
}, required=("id", "channel_id", "state"))  # fmt: skip
RECORD_SEARCH = obj({
    "search": STRING, "channel_id": STRING, "start": STRING, "end": STRING,
    "finished": BOOLEAN, "complete": BOOLEAN, "slices": array(ANY_OBJECT),
    "records": array(ANY_OBJECT),
})  # fmt: skip
WINDOW = body({"weekday": {"type": "integer", "minimum": 0, "maximum": 6}, "start": STRING,
               "end": STRING}, required=("weekday", "start", "end"))  # fmt: skip
RECORD_PLAN = obj({
    "channel_id": STRING, "mode": {"type": "string", "enum": ["off", "continuous", "weekly"]},
    "windows": array(obj({"weekday": {"type": "integer", "minimum": 0, "maximum": 6},
                          "start": STRING, "end": STRING})),
    "record_until": TIME, "timezone": STRING, "recording_due": BOOLEAN,
})  # fmt: skip
PLACEMENT = obj({"channel_id": STRING, "key_area": nullable(STRING),
                 "key_area_label": nullable(STRING), "location": nullable(STRING),
                 "model": nullable(STRING), "access_method": nullable(ACCESS_METHOD),
                 "access_method_label": nullable(STRING)},
                required=("channel_id", "key_area", "location"))  # fmt: skip
FARM_CAMERA = obj({
    "channel_id": STRING, "device_id": STRING, "name": nullable(STRING), "online": BOOLEAN,
    "key_area": nullable(STRING), "key_area_label": nullable(STRING),
    "location": nullable(STRING), "model": nullable(STRING),
    "access_method": nullable(ACCESS_METHOD), "access_method_label": nullable(STRING),
}, required=("channel_id", "device_id", "online"))  # fmt: skip
TREE = obj({"organisations": array(ref("Organisation")), "farms": array(ref("Farm")),
            "devices": array(ANY_OBJECT), "key_areas": array(ANY_OBJECT)},
           required=("organisations", "farms", "devices"))  # fmt: skip
ALARM = obj({
    "id": INTEGER, "device_id": STRING, "channel_id": nullable(STRING),
    "priority": nullable(INTEGER), "method": nullable(INTEGER), "type": nullable(INTEGER),
    "time": TIME, "description": nullable(STRING), "received_at": TIME,
    "state": {"type": "string", "enum": ["new", "acknowledged", "reset"]},
    "acknowledged": nullable(ANY_OBJECT), "reset": nullable(ANY_OBJECT),
    "clip_id": nullable(STRING),
    "clip_state": {"type": ["string", "null"], "enum": ["pending", "ready", "failed", None]},
}, required=("id", "device_id", "state"))  # fmt: skip
ANSWER: Schema = {"type": "string", "enum": ["compliant", "not_compliant", "not_visible"]}
CHECKLIST = obj({
    "key_area": STRING, "key_area_zh": STRING, "key_area_en": STRING, "article": INTEGER,
    "points": array(obj({"id": STRING, "text_zh": STRING, "text_en": STRING})),
})  # fmt: skip
MONITORING_RECORD = obj({
    "id": INTEGER, "channel_id": STRING, "device_id": STRING, "farm_id": INTEGER,
    "organisation_id": INTEGER, "key_area": STRING, "key_area_zh": STRING,
    "mode": {"type": "string", "enum": ["live", "playback"]}, "recorded_at": STRING,
    "answers": array(obj({"point": STRING, "text_zh": STRING, "answer": ANSWER,
                          "remark": STRING})),
    "remark": STRING, "outcome": ANSWER,
    "snapshot": nullable(obj({"sha256": STRING, "url": STRING})),
    "snapshot_missing": nullable(STRING),
    "signed_by": obj({"user_id": nullable(INTEGER), "username": STRING,
                      "display_name": STRING}),
    "signed_at": STRING, "corrects_id": nullable(INTEGER),
})  # fmt: skip
FARM_DUE = obj({
    "farm_id": INTEGER, "farm_name": STRING, "filing_number": STRING,
    "organisation_id": INTEGER, "days": INTEGER, "last_record_at": TIME, "due_at": STRING,
    "overdue": BOOLEAN,
})  # fmt: skip
FAULT_KINDS = ["offline", "start_failure", "media_timeout", "black", "overexposed", "frozen",
               "blurred", "low_contrast", "colour_cast", "other"]  # fmt: skip
FAULT_STATES = ["open", "farm_notified", "fixed", "verified", "closed"]
FAULT = obj({
    "id": INTEGER, "farm_id": nullable(INTEGER), "farm_name": nullable(STRING),
    "device_id": STRING, "channel_id": STRING, "kind": {"type": "string", "enum": FAULT_KINDS},
    "state": {"type": "string", "enum": FAULT_STATES},
    "since": STRING, "opened_at": STRING, "opened_by": STRING, "detail": nullable(STRING),
    "updated_at": STRING, "fixed_at": TIME, "ended_at": TIME,
    "reminders": obj({"sent": INTEGER, "last": TIME}), "escalated": BOOLEAN,
    "escalated_at": TIME, "occurrences": INTEGER,
    "history": array(obj({
        "from": nullable({"type": "string", "enum": FAULT_STATES}),
        "to": {"type": "string", "enum": FAULT_STATES}, "by": STRING, "at": STRING,
        "remark": nullable(STRING),
    })),
}, required=("id", "channel_id", "kind", "state"))  # fmt: skip
FAULT_STATISTICS = obj({
    "since": STRING, "until": STRING,
    "organisations": array(obj({
        "organisation_id": INTEGER, "name": STRING, "open": ANY_OBJECT,
        "open_total": INTEGER, "repaired": INTEGER,
        "mean_repair_seconds": nullable(NUMBER), "median_repair_seconds": nullable(NUMBER),
    })),
})  # fmt: skip
ANOMALY = obj({
    "id": INTEGER, "farm_id": INTEGER, "farm": nullable(STRING),
    "filing_number": nullable(STRING), "channel_id": STRING, "reporter": STRING,
    "reported_at": STRING, "time": STRING, "mode": {"type": "string", "enum": ["live", "playback"]},
    "category": nullable(STRING), "description": STRING, "state": ANOMALY_STATE,
    "state_label": STRING,
    "evidence_state": {"type": "string", "enum": ["pending", "saved", "failed"]},
    "evidence_error": nullable(STRING),
    "rectification": nullable(obj({"order": STRING, "deadline": TIME, "ordered_by": TIME,
                                   "ordered_at": TIME})),
    "overdue": BOOLEAN, "case_number": nullable(STRING), "closed_at": TIME,
}, required=("id", "farm_id", "channel_id", "state", "evidence_state", "overdue"))  # fmt: skip
ANOMALY_CLIP = obj({
    "id": STRING, "state": STRING, "sha256": nullable(STRING), "file": nullable(STRING),
    "verify": nullable(STRING), "start": TIME, "end": TIME,
}, required=("id", "state", "sha256", "file", "verify"))  # fmt: skip
FOLLOW_UP = obj({"monitoring_record_id": INTEGER, "linked_at": TIME, "linked_by": STRING})
ANOMALY_DETAIL: Schema = {"allOf": [ref("Anomaly"), obj({
    "evidence": array(ref("AnomalyClip")),
    "history": array(obj({"at": TIME, "by": STRING, "from": nullable(ANOMALY_STATE),
                          "to": ANOMALY_STATE, "remark": STRING})),
    "follow_ups": array(ref("FollowUp")),
})]}  # fmt: skip

SPOT_CHECK_ITEM = obj({
    "position": INTEGER, "channel_id": STRING, "device_id": STRING, "farm_key": STRING,
    "farm_name": STRING, "weight": NUMBER,
    "state": {"type": "string", "enum": ["pending", "recorded", "unplayable"]},
    "state_zh": STRING, "key_area": nullable(STRING), "key_area_zh": nullable(STRING),
    "answers": array(obj({"point": STRING, "text_zh": STRING, "answer": ANSWER,
                          "remark": STRING})),
    "remark": STRING, "outcome": nullable(ANSWER),
    "mode": nullable({"type": "string", "enum": ["live", "playback"]}),
    "recorded_by": nullable(STRING), "recorded_at": TIME,
}, required=("position", "channel_id", "device_id", "farm_key", "farm_name", "state"))  # fmt: skip
SPOT_CHECK = obj({
    "id": INTEGER, "organisation_id": INTEGER, "drawn_by": STRING, "drawn_at": STRING,
    "requested": INTEGER, "seed": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "population_digest": STRING, "period": nullable(STRING),
    "items": array(ref("SpotCheckItem")),
})  # fmt: skip
_TALLY: Schema = {
    "drawn": INTEGER, "recorded": INTEGER, "unplayable": INTEGER, "pending": INTEGER,
    "not_compliant": INTEGER, "not_compliant_points": INTEGER,
}  # fmt: skip
SPOT_CHECK_REPORT = obj({
    "from": TIME, "to": TIME, "checks": INTEGER, **_TALLY,
    "farms": array(obj({"farm_key": STRING, "farm_name": STRING, **_TALLY})),
})  # fmt: skip
_COUNTS: Schema = {"type": "object", "additionalProperties": INTEGER}
OVERVIEW_FIGURES = obj({
    "cameras": INTEGER, "cameras_online": INTEGER, "farms": INTEGER,
    "farms_by_state": _COUNTS, "farms_supervised": INTEGER, "farms_due": INTEGER,
    "farms_overdue": INTEGER, "faults_open": INTEGER, "faults_by_kind": _COUNTS,
    "farms_flagged": INTEGER, "anomalies_open": INTEGER, "rectifications_overdue": INTEGER,
    "cases_opened": INTEGER, "spot_checks": INTEGER, "spot_check_cameras": INTEGER,
    "spot_check_recorded": INTEGER, "spot_check_unplayable": INTEGER,
    "spot_check_non_compliant": INTEGER, "pictures_failing": INTEGER,
})  # fmt: skip
OVERVIEW_ORGANISATION = obj({
    "id": INTEGER, "name": STRING, "tier": STRING,
    "figures": ref("OverviewFigures"), "own": ref("OverviewFigures"),
    "attention": array(obj({
        "farm_id": INTEGER, "name": STRING, "state": STRING, "overdue": BOOLEAN,
        "due_at": STRING, "last_record_at": nullable(STRING), "records_in_period": INTEGER,
        "open_faults": INTEGER, "open_anomalies": INTEGER,
    })),
    "children": array(ref("OverviewOrganisation")),
})  # fmt: skip
OVERVIEW = obj({
    "from": STRING, "to": STRING, "organisations": array(ref("OverviewOrganisation")),
})  # fmt: skip
PICTURE_FAULT: Schema = {
    "type": "string",
    "enum": ["black", "overexposed", "low_contrast", "blurred", "colour_cast", "frozen"],
}
PICTURE_SAMPLE = obj({
    "sampled_at": STRING,
    "outcome": {"type": "string", "enum": ["passed", "failed", "unavailable"]},
    "failures": array(PICTURE_FAULT), "detail": nullable(STRING),
    "measurements": nullable(obj({
        "mean_luma": NUMBER, "luma_std": NUMBER, "sharpness": NUMBER, "chroma_offset": NUMBER,
        "difference": nullable(NUMBER)})),
}, required=("sampled_at", "outcome", "failures"))  # fmt: skip
PICTURE_STATE = obj({
    "channel_id": STRING, "failed": BOOLEAN, "failures": array(PICTURE_FAULT),
    "last_sampled_at": STRING,
    "last_outcome": {"type": "string", "enum": ["passed", "failed", "unavailable"]},
    "detail": nullable(STRING),
}, required=("channel_id", "failed", "failures", "last_outcome"))  # fmt: skip
ERROR: Schema = {**obj({"error": STRING}), "description": "What went wrong."}

COMPONENTS: dict[str, Schema] = {
    "Error": ERROR, "Organisation": ORGANISATION, "Farm": FARM, "Grant": GRANT,
    "User": USER, "Token": TOKEN, "Me": ME, "AuditRow": AUDIT_ROW,
    "AuditVerify": AUDIT_VERIFY, "Device": DEVICE, "ChannelNode": CHANNEL_NODE,
    "CatalogProgress": CATALOG_PROGRESS, "DeviceStatus": DEVICE_STATUS, "Share": SHARE,
    "Upper": UPPER, "LiveLinks": LIVE_LINKS, "PlaybackLinks": PLAYBACK_LINKS,
    "PlaybackStatus": PLAYBACK_STATUS, "Sdp": SDP, "Download": DOWNLOAD, "Clip": CLIP,
    "RecordSearch": RECORD_SEARCH, "RecordPlan": RECORD_PLAN, "Placement": PLACEMENT,
    "Tree": TREE, "Alarm": ALARM, "Checklist": CHECKLIST, "MonitoringRecord": MONITORING_RECORD,
    "FarmDue": FARM_DUE,
    "StateChange": STATE_CHANGE, "FarmDocument": FARM_DOCUMENT,
    "FarmDetails": FARM_DETAILS, "FarmCamera": FARM_CAMERA,
    "Fault": FAULT, "FaultStatistics": FAULT_STATISTICS,
    "Anomaly": ANOMALY, "AnomalyClip": ANOMALY_CLIP,
    "AnomalyDetail": ANOMALY_DETAIL, "FollowUp": FOLLOW_UP,
    "SpotCheck": SPOT_CHECK, "SpotCheckItem": SPOT_CHECK_ITEM,
    "SpotCheckReport": SPOT_CHECK_REPORT,
    "OverviewFigures": OVERVIEW_FIGURES,
    "OverviewOrganisation": OVERVIEW_ORGANISATION,
    "Overview": OVERVIEW,
    "PictureSample": PICTURE_SAMPLE,
    "PictureState": PICTURE_STATE,
    "Broadcast": BROADCAST,
}  # fmt: skip
