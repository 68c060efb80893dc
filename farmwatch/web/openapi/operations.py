"""What each API route takes and answers: one `Operation` per `RouteKey`, read when the
application is built to write the OpenAPI document (`document.py`). As with the route rules,
the application is not built while a route has no entry here (`check_operations`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from farmwatch.web.openapi import schemas as s
from farmwatch.web.openapi.schemas import Schema, body, nullable, obj, ref
from farmwatch.web.route_rules import RouteKey

__all__ = ["NOT_DESCRIBED", "OPERATIONS", "Operation", "Query"]


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    schema: Schema
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    """One route: `ok` maps its success statuses to their JSON schema (None: no body, or the
    `content` type for a file); `errors` the statuses it may answer with `{"error"}` beyond the
    401/403/404/400 every API route may give."""

    tag: str
    summary: str
    ok: Mapping[int, Schema | None]
    request: Schema | None = None
    query: tuple[Query, ...] = ()
    errors: tuple[int, ...] = ()
    request_required: bool = True
    """False: the body may be left out."""
    content: str = "application/json"
    """The success body's media type."""
    request_content: str = "application/json"
    """The request body's media type."""
    description: str = ""
    path_types: Mapping[str, Schema] = field(default_factory=dict)
    """Path parameters that are not free text (user and token IDs are integers)."""


NOT_DESCRIBED: frozenset[RouteKey] = frozenset({
    RouteKey("GET", "/login"), RouteKey("GET", "/live"), RouteKey("GET", "/"),
    RouteKey("GET", "/console/{name}"),  # the console's pages and assets: HTML, not the API
    RouteKey("GET", "/api/docs"),  # the page that shows this document
    RouteKey("GET", "/monitoring-records/print"),  # monitoring records as a page to print
    RouteKey("*", "/api/{tail}"),  # the JSON 404 of every other /api path
    # Where cameras upload the pictures asked of them (a one-time URL they are given, a
    # JPEG body): for devices, not API clients.
    RouteKey("POST", "/api/device-snapshots/uploads/{token}"),
    RouteKey("PUT", "/api/device-snapshots/uploads/{token}"),
})  # fmt: skip
"""Routes of the web server that are not part of the API's description."""

DEVICE_ERRORS = (502, 503, 504)
"""A device that refuses, is offline or does not answer in time."""
CONTROL_ERRORS = (409, 429, 501, 502, 503, 504)
FILE = "application/octet-stream"

_USER_ID = {"user_id": s.INTEGER}
_TOKEN_ID = {"token_id": s.INTEGER}
_RANGE = {"start": s.STRING, "end": s.STRING}
_FARM_ID = {"farm_id": s.INTEGER}
_DOCUMENT_ID = {"farm_id": s.INTEGER, "document_id": s.INTEGER}
_PARTICULARS = {
    "operator": nullable(s.STRING), "phone": nullable(s.STRING),
    "address": nullable(s.STRING), "species": nullable(s.SPECIES),
    "species_other": nullable(s.STRING),
}  # fmt: skip
FARM_BODY = body({
    "name": s.STRING, "filing_number": s.STRING, "organisation_id": s.INTEGER, **_PARTICULARS,
    "applied_on": nullable(s.STRING), "remark": nullable(s.STRING),
}, required=("name", "filing_number", "organisation_id"))  # fmt: skip
FARM_EDIT_BODY = body({
    "name": s.STRING, "filing_number": s.STRING, "organisation_id": s.INTEGER, **_PARTICULARS,
})  # fmt: skip
DOCUMENT_BODY = body({
    "remark": s.STRING, "supersedes": s.STRING,
    "file": {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"},
}, required=("file",))  # fmt: skip
_ANOMALY_ID = {"anomaly_id": s.INTEGER}

PTZ_BODY: Schema = {
    **body({
        "action": {"type": "string", "enum": [
            "move", "stop", "focus_iris", "focus_iris_stop", "preset", "cruise", "scan", "aux",
            "home", "position"]},
        "take_over": s.BOOLEAN,
    }, required=("action",)),
    "description": "One PTZ command; the README's Device control lists each action's fields.",
}  # fmt: skip
COMMAND_BODY: Schema = body({
    "command": {"type": "string", "enum": [
        "teleboot", "iframe", "record", "stop_record", "set_guard", "reset_guard",
        "reset_alarm", "drag_zoom_in", "drag_zoom_out"]},
    "channel_id": {"type": "string", "pattern": "^[0-9]{20}$"},
    "method": s.INTEGER, "alarm_type": s.INTEGER, "length": s.INTEGER, "width": s.INTEGER,
    "mid_x": s.INTEGER, "mid_y": s.INTEGER, "length_x": s.INTEGER, "length_y": s.INTEGER,
}, required=("command",))  # fmt: skip
COMMAND_RESULT = obj({"device_id": s.STRING, "command": s.STRING, "result": s.STRING},
                     required=("result",))  # fmt: skip
GRANT_BODY = body({"kind": s.GRANT_KIND, "target": s.ID_TEXT}, required=("kind", "target"))
PLAN_BODY = body({
    "mode": {"type": "string", "enum": ["off", "continuous", "weekly"]},
    "windows": s.array(s.WINDOW), "record_minutes": s.INTEGER,
}, required=("mode",))  # fmt: skip

MONITORING_QUERY = (
    Query("farm", {"type": "integer", "minimum": 0}),
    Query("channel", s.STRING, "a 20-digit channel ID"),
    Query("user", {"type": "integer", "minimum": 0}, "the signing user's ID"),
    Query("from", s.STRING, "an ISO local time (recorded time, inclusive)"),
    Query("to", s.STRING, "an ISO local time (recorded time, exclusive)"),
    Query("result", {"type": "string", "enum": ["compliant", "not_compliant", "not_visible"]}),
)

_TABLE: list[tuple[str, str, Operation]] = [
    # -- session -----------------------------------------------------------------------------
    ("POST", "/api/login", Operation(
        "session", "Log in: sets the session cookie, answers the CSRF token", {200: obj(
            {"csrf_token": s.STRING, "user": ref("Me")}, required=("csrf_token",))},
        body({"username": s.STRING, "password": s.STRING}, required=("username", "password")),
        errors=(401, 429))),
    ("POST", "/api/logout", Operation("session", "End the session", {204: None})),
    ("GET", "/api/me", Operation("session", "Who is calling", {200: ref("Me")})),
    ("GET", "/api/openapi.json", Operation("session", "This document", {200: s.ANY_OBJECT})),
    ("GET", "/api/tree", Operation(
        "cameras", "Organisation → farm → device → camera, filtered to what the caller sees",
        {200: ref("Tree")})),
    # -- devices -----------------------------------------------------------------------------
    ("GET", "/api/devices", Operation(
        "devices", "The devices the caller may see", {200: obj(
            {"devices": s.array(ref("Device")), "total": s.INTEGER}, required=("devices",))},
        query=(Query("online", {"type": "string", "enum": ["true", "false"]}),
               Query("offset", {"type": "integer", "minimum": 0}),
               Query("limit", {"type": "integer", "minimum": 0})))),
    ("POST", "/api/devices", Operation(
        "devices", "Enrol a device with its own SIP password", {201: ref("Device")},
        body({"device_id": {"type": "string", "pattern": "^[0-9]{20}$"}, "password": s.STRING,
              "name": s.STRING, "farm_id": nullable(s.INTEGER)},
             required=("device_id", "password")), errors=(409,))),
    ("GET", "/api/devices/{device_id}", Operation("devices", "One device", {200: ref("Device")})),
    ("GET", "/api/devices/{device_id}/channels", Operation(
        "devices", "The device's catalog as a tree", {200: obj(
            {"device_id": s.STRING, "channels": s.array(ref("ChannelNode"))})})),
    ("GET", "/api/devices/{device_id}/catalog", Operation(
        "devices", "Progress of the latest catalog query", {200: ref("CatalogProgress")})),
    ("POST", "/api/devices/{device_id}/catalog", Operation(
        "devices", "Query the catalog again", {202: ref("CatalogProgress")},
        errors=DEVICE_ERRORS)),
    ("GET", "/api/devices/{device_id}/status", Operation(
        "devices", "Ask the device for its DeviceStatus", {200: ref("DeviceStatus")},
        errors=DEVICE_ERRORS)),
    ("GET", "/api/devices/{device_id}/sd-cards", Operation(
        "devices", "[2022] The device's storage cards (SDCardStatus)",
        {200: obj({"device_id": s.STRING, "sum_num": nullable(s.INTEGER),
                   "cards": s.array(obj(
                       {"id": s.INTEGER, "name": nullable(s.STRING),
                        "status": nullable(s.STRING),
                        "format_progress": nullable(s.INTEGER),
                        "capacity_mb": nullable(s.INTEGER), "free_mb": nullable(s.INTEGER)},
                       required=("id", "status")))},
                  required=("device_id", "cards"))},
        errors=(*DEVICE_ERRORS, 501),
        description="`status`: ok, formatting, unformatted, idle or error (the standard's "
        "words), else the device's own text")),
    ("GET", "/api/devices/{device_id}/track", Operation(
        "devices", "A mobile device's positions in time order (MobilePosition)", {200: obj(
            {"device_id": s.STRING, "points": s.array(s.ANY_OBJECT)})},
        query=(Query("since", s.STRING), Query("until", s.STRING)))),
    ("PUT", "/api/devices/{device_id}/farm", Operation(
        "devices", "Put the device on a farm (null takes it off)", {200: obj(
            {"device_id": s.STRING, "farm_id": nullable(s.INTEGER)})},
        body({"farm_id": nullable(s.INTEGER)}, required=("farm_id",)))),
    ("PUT", "/api/devices/{device_id}/stream-dialect", Operation(
        "devices", "How live offers ask the device for its sub stream (null: as configured)",
        {200: ref("Device")}, body({"dialect": nullable(s.STREAM_DIALECT)}, required=("dialect",)),
        description="Stored with the device and used from its next live INVITE on; it wins "
        "over the configuration's `[live] stream_dialects` entry and `stream_dialect`")),
    ("POST", "/api/devices/{device_id}/commands", Operation(
        "device control", "A device command, answered with the device's Result",
        {200: COMMAND_RESULT}, COMMAND_BODY, errors=DEVICE_ERRORS)),
    ("GET", "/api/devices/{device_id}/config", Operation(
        "device control", "The device's configuration (ConfigDownload)", {200: obj(
            {"device_id": s.STRING, "config": s.ANY_OBJECT})},
        query=(Query("types", s.STRING, "families, comma-separated (BasicParam)"),),
        errors=(*DEVICE_ERRORS, 501))),
    ("PUT", "/api/devices/{device_id}/config", Operation(
        "device control", "Write the device's configuration (DeviceConfig)",
        {200: COMMAND_RESULT}, {**s.ANY_OBJECT, "description": "Families by XML name."},
        errors=DEVICE_ERRORS)),
    ("GET", "/api/uppers", Operation(
        "three tiers", "The links to upper platforms and their shares",
        {200: obj({"uppers": s.array(ref("Upper"))})})),
    ("GET", "/api/uppers/{name}/share", Operation(
        "three tiers", "What the upper may see", {200: ref("Share")})),
    ("PUT", "/api/uppers/{name}/share", Operation(
        "three tiers", "Change what the upper may see", {200: ref("Share")},
        body({"share": {"type": "string", "enum": ["all", "selected"]},
              "farms": s.array(s.INTEGER), "devices": s.array(s.STRING),
              "channels": s.array(s.STRING)}, required=("share",)))),
    ("DELETE", "/api/uppers/{name}/share", Operation(
        "three tiers", "Return to the configured share", {200: ref("Share")})),
    # -- cameras -----------------------------------------------------------------------------
    ("POST", "/api/channels/{channel_id}/live", Operation(
        "live", "Start (or join) the camera's main or sub stream", {201: ref("LiveLinks")},
        body({"stream": {"anyOf": [{"type": "string", "enum": ["main", "sub"]},
                                   {"type": "integer", "minimum": 0, "maximum": 9}]}}),
        request_required=False, errors=(*DEVICE_ERRORS, 501),
        description="`stream`: main (default), sub, or a stream number (0 main, 1 sub...); "
        "a 501 when the device cannot be asked for it (a GB/T 28181-2016 device without a "
        "vendor dialect)")),
    ("GET", "/api/channels/{channel_id}/snapshot.jpg", Operation(
        "live", "JPEG of the latest keyframe", {200: None}, content="image/jpeg",
        errors=DEVICE_ERRORS)),
    ("POST", "/api/channels/{channel_id}/device-snapshots", Operation(
        "device control", "Ask the camera to take pictures and upload them (SnapShotConfig)",
        {202: obj({"session_id": s.STRING, "channel_id": s.STRING, "device_id": s.STRING,
                   "count": s.INTEGER, "interval": s.INTEGER, "expires_at": s.STRING})},
        body({"count": {"type": "integer", "minimum": 1, "maximum": 10},
              "interval": {"type": "integer", "minimum": 1, "maximum": 60}}),
        errors=(429, 501, *DEVICE_ERRORS))),
    ("GET", "/api/channels/{channel_id}/device-snapshots", Operation(
        "device control", "The pictures the camera uploaded, newest first", {200: obj(
            {"channel_id": s.STRING, "snapshots": s.array(s.ANY_OBJECT)})},
        query=(Query("limit", s.STRING, "at most 500, default 100"),))),
    ("GET", "/api/device-snapshots/{snapshot_id}.jpg", Operation(
        "device control", "One picture a camera uploaded", {200: None}, content="image/jpeg",
        path_types={"snapshot_id": s.INTEGER})),
    ("GET", "/api/channels/{channel_id}/records", Operation(
        "recordings", "Record search", {200: ref("RecordSearch"), 202: ref("RecordSearch")},
        query=(Query("start", s.STRING, required=True), Query("end", s.STRING, required=True),
               Query("source", {"type": "string", "enum": ["device", "platform", "all"]}),
               Query("wait", {"type": "string", "enum": ["true", "false"]})),
        errors=DEVICE_ERRORS)),
    ("POST", "/api/channels/{channel_id}/playback", Operation(
        "recordings", "Play a recording", {201: ref("PlaybackLinks")},
        body({**_RANGE, "source": s.SOURCE, "transport": s.TRANSPORT},
             required=("start", "end")), errors=DEVICE_ERRORS)),
    ("POST", "/api/channels/{channel_id}/downloads", Operation(
        "recordings", "Download a recording to one MP4 file", {201: ref("Download")},
        body({**_RANGE, "speed": {"type": "integer", "enum": [1, 2, 4, 8]}, "source": s.SOURCE,
              "transport": s.TRANSPORT}, required=("start", "end")),
        errors=DEVICE_ERRORS)),
    ("POST", "/api/channels/{channel_id}/clips", Operation(
        "recordings", "Export an evidence clip", {201: ref("Clip")},
        body({**_RANGE, "reason": s.STRING}, required=("start", "end", "reason")),
        errors=DEVICE_ERRORS)),
    ("GET", "/api/channels/{channel_id}/record-plan", Operation(
        "recordings", "The camera's record plan", {200: ref("RecordPlan")})),
    ("PUT", "/api/channels/{channel_id}/record-plan", Operation(
        "recordings", "Change the camera's record plan", {200: ref("RecordPlan")}, PLAN_BODY)),
    ("POST", "/api/channels/{channel_id}/ptz", Operation(
        "device control", "One PTZ command", {
            200: s.ANY_OBJECT, 202: obj({"channel_id": s.STRING, "device_id": s.STRING},
                                        required=("channel_id",))},
        PTZ_BODY, errors=CONTROL_ERRORS)),
    ("GET", "/api/channels/{channel_id}/ptz", Operation(
        "device control", "Who steers the camera now", {200: obj(
            {"holder": nullable(s.STRING), "seconds_left": nullable(s.NUMBER),
             "is_mine": s.BOOLEAN},
            required=("holder", "is_mine"))})),
    ("DELETE", "/api/channels/{channel_id}/ptz", Operation(
        "device control", "Give the camera back", {204: None}, errors=(409,))),
    ("GET", "/api/channels/{channel_id}/presets", Operation(
        "device control", "The camera's presets (PresetQuery)", {200: obj(
            {"presets": s.array(obj({"index": s.INTEGER, "name": nullable(s.STRING)},
                                    required=("index",)))}, required=("presets",))},
        errors=(*DEVICE_ERRORS, 501))),
    ("GET", "/api/channels/{channel_id}/ptz/position", Operation(
        "device control", "[2022] Where the camera points (PTZPosition)", {200: obj(
            {"pan": s.NUMBER, "tilt": s.NUMBER, "zoom": s.NUMBER}, required=())},
        errors=(*DEVICE_ERRORS, 501))),
    ("GET", "/api/channels/{channel_id}/home-position", Operation(
        "device control", "[2022] The camera's guard position (HomePositionQuery)",
        {200: obj({"channel_id": s.STRING, "enabled": nullable(s.BOOLEAN),
                   "reset_time": nullable(s.INTEGER), "preset_index": nullable(s.INTEGER)},
                  required=("channel_id", "enabled", "reset_time", "preset_index"))},
        errors=(*DEVICE_ERRORS, 501),
        description="All null: the device reported no guard position. 501 for a 2016 "
        "device, or one that took the query and never answered it")),
    ("GET", "/api/channels/{channel_id}/cruise-tracks", Operation(
        "device control", "[2022] The camera's cruise tracks (CruiseTrackListQuery)",
        {200: obj({"channel_id": s.STRING, "sum_num": nullable(s.INTEGER),
                   "tracks": s.array(obj({"number": s.INTEGER, "name": nullable(s.STRING)},
                                         required=("number", "name")))},
                  required=("channel_id", "tracks"))},
        errors=(*DEVICE_ERRORS, 501))),
    ("GET", "/api/channels/{channel_id}/cruise-tracks/{number}", Operation(
        "device control", "[2022] One cruise track's points (CruiseTrackQuery)",
        {200: obj({"channel_id": s.STRING, "number": s.INTEGER, "name": nullable(s.STRING),
                   "points": s.array(obj({"preset_index": s.INTEGER,
                                          "stay_time": nullable(s.INTEGER),
                                          "speed": nullable(s.INTEGER)},
                                         required=("preset_index",)))},
                  required=("channel_id", "number", "points"))},
        errors=(*DEVICE_ERRORS, 501),
        path_types={"number": {"type": "integer", "minimum": 0, "maximum": 255}},
        description="`number` as the track list gives it; `stay_time` in seconds")),
    ("POST", "/api/channels/{channel_id}/broadcast", Operation(
        "device control", "Start a voice broadcast (喊话) or two-way talk (对讲) to the camera",
        {201: ref("Broadcast")},
        body({"mode": {"type": "string", "enum": ["broadcast", "talk"]},
              "transport": {"type": "string", "enum": ["udp", "tcp-passive", "tcp-active"]}}),
        request_required=False, errors=(*DEVICE_ERRORS, 409, 501),
        description="broadcast (no body, the default): Notify/Broadcast, then the device's "
        "audio INVITE: 504 when it never comes within `[live] invite_timeout`, 409 while "
        "another broadcast or talk runs to the device. talk: the platform's `s=Talk` INVITE "
        "(`transport` as for live, default `[live] transport`); the camera's voice comes back "
        "on the session's WebRTC connection; 501 naming mode broadcast when the camera does "
        "not take s=Talk (488/415/501), 502 for other refusals, 504 without an answer")),
    ("PUT", "/api/channels/{channel_id}/placement", Operation(
        "cameras", "Set the camera's key area, location number, model and access method",
        {200: ref("Placement")},
        body({"key_area": nullable(s.STRING), "location": nullable(s.STRING),
              "model": nullable(s.STRING), "access_method": nullable(s.ACCESS_METHOD)}),
        description="A field left out keeps its value; null unsets it.")),
    # -- what the caller opened --------------------------------------------------------------
    ("DELETE", "/api/live/{session}", Operation("live", "Leave the live view", {204: None})),
    ("POST", "/api/live/{session}/webrtc", Operation(
        "live", "WebRTC: an SDP offer answered", {200: ref("Sdp")},
        body({"sdp": s.STRING, "type": {"type": "string", "enum": ["offer"]}},
             required=("sdp",)), errors=DEVICE_ERRORS)),
    ("GET", "/api/live/{session}/stream.mp4", Operation(
        "live", "Fragmented MP4 (streamed)", {200: None}, content="video/mp4")),
    ("GET", "/api/live/{session}/hls/{name}", Operation(
        "live", "HLS playlist and segments", {200: None}, content=FILE)),
    ("GET", "/api/broadcast/{session}", Operation(
        "device control", "A voice broadcast's state", {200: ref("Broadcast")})),
    ("DELETE", "/api/broadcast/{session}", Operation(
        "device control", "End a voice broadcast (BYE)", {204: None})),
    ("POST", "/api/broadcast/{session}/webrtc", Operation(
        "device control", "WebRTC: the operator's microphone (an offer with audio)",
        {200: ref("Sdp")},
        body({"sdp": s.STRING, "type": {"type": "string", "enum": ["offer"]}},
             required=("sdp",)), errors=(409, 500))),
    ("POST", "/api/broadcast/{session}/audio", Operation(
        "device control", "Send a tone, or an audio file, once", {202: ref("Broadcast")},
        body({"frequency": {"type": "number", "minimum": 50, "maximum": 3900},
              "seconds": {"type": "number", "minimum": 0.02, "maximum": 60}},
             required=("frequency", "seconds")), errors=(409, 413),
        description="A JSON tone; or the bytes of an audio file (WAV, MP3...) as the body "
        "with `Content-Type: audio/*` or `application/octet-stream`, up to 8 MiB")),
    ("GET", "/api/playback/{session}", Operation(
        "recordings", "A playback's state", {200: ref("PlaybackStatus")})),
    ("DELETE", "/api/playback/{session}", Operation(
        "recordings", "End a playback", {204: None})),
    ("POST", "/api/playback/{session}/control", Operation(
        "recordings", "Pause, resume, seek or change speed", {200: ref("PlaybackStatus")},
        body({"action": {"type": "string", "enum": ["pause", "resume", "seek", "speed"]},
              "position": {"type": ["string", "number"]}, "scale": s.NUMBER},
             required=("action",)), errors=(*DEVICE_ERRORS, 409))),
    ("POST", "/api/playback/{session}/webrtc", Operation(
        "recordings", "WebRTC for a playback (409 once it has ended)", {200: ref("Sdp")},
        body({"sdp": s.STRING, "type": {"type": "string", "enum": ["offer"]}},
             required=("sdp",)), errors=(*DEVICE_ERRORS, 409))),
    ("GET", "/api/playback/{session}/stream.mp4", Operation(
        "recordings", "Fragmented MP4 of a playback (streamed)", {200: None},
        content="video/mp4", errors=(409,))),
    ("GET", "/api/playback/{session}/hls/{name}", Operation(
        "recordings", "HLS of a playback", {200: None}, content=FILE, errors=(409,))),
    ("GET", "/api/record-searches/{search_id}", Operation(
        "recordings", "A record search while it runs and for 10 minutes after",
        {200: ref("RecordSearch")})),
    ("GET", "/api/downloads/{task_id}", Operation(
        "recordings", "A download task", {200: ref("Download")})),
    ("DELETE", "/api/downloads/{task_id}", Operation(
        "recordings", "Cancel a download (409 once it has finished)", {200: ref("Download")},
        errors=(409,))),
    ("GET", "/api/downloads/{task_id}/file", Operation(
        "recordings", "The downloaded MP4", {200: None}, content="video/mp4", errors=(409,))),
    ("GET", "/api/clips/{clip_id}", Operation(
        "recordings", "An evidence clip with its SHA-256", {200: ref("Clip")})),
    ("GET", "/api/clips/{clip_id}/verify", Operation(
        "recordings", "Hash the clip's file again (409 while it is being made)", {200: obj(
            {"id": s.STRING, "valid": s.BOOLEAN}, required=("valid",))}, errors=(409,))),
    ("GET", "/api/clips/{clip_id}/file", Operation(
        "recordings", "The clip's file", {200: None}, content="video/mp4", errors=(409,))),
    # -- administration ----------------------------------------------------------------------
    ("GET", "/api/users", Operation(
        "users", "Users of the caller's organisation and those below",
        {200: obj({"users": s.array(ref("User"))})})),
    ("POST", "/api/users", Operation(
        "users", "Create a user", {201: ref("User")},
        body({"username": s.STRING, "display_name": s.STRING, "organisation_id": s.INTEGER,
              "role": s.ROLE, "password": s.STRING},
             required=("username", "organisation_id", "role", "password")), errors=(409,))),
    ("GET", "/api/users/{user_id}", Operation(
        "users", "One user with their grants", {200: ref("User")}, path_types=_USER_ID)),
    ("PUT", "/api/users/{user_id}/role", Operation(
        "users", "Change a user's role", {200: ref("User")},
        body({"role": s.ROLE}, required=("role",)), path_types=_USER_ID)),
    ("PUT", "/api/users/{user_id}/enabled", Operation(
        "users", "Enable or disable a user", {200: ref("User")},
        body({"enabled": s.BOOLEAN}, required=("enabled",)), path_types=_USER_ID)),
    ("POST", "/api/users/{user_id}/unlock", Operation(
        "users", "Unlock a locked account", {200: ref("User")}, path_types=_USER_ID)),
    ("PUT", "/api/users/{user_id}/password", Operation(
        "users", "Set a user's password", {200: ref("User")},
        body({"password": s.STRING}, required=("password",)), path_types=_USER_ID)),
    ("GET", "/api/users/{user_id}/grants", Operation(
        "users", "A user's grants", {200: obj({"grants": s.array(ref("Grant"))})},
        path_types=_USER_ID)),
    ("POST", "/api/users/{user_id}/grants", Operation(
        "users", "Grant a camera, a device or a farm", {
            200: obj({"granted": s.BOOLEAN, "added": s.BOOLEAN}),
            201: obj({"granted": s.BOOLEAN, "added": s.BOOLEAN})},
        GRANT_BODY, path_types=_USER_ID)),
    ("DELETE", "/api/users/{user_id}/grants/{kind}/{target}", Operation(
        "users", "Withdraw a grant", {204: None},
        path_types={**_USER_ID, "kind": s.GRANT_KIND})),
    ("GET", "/api/organisations", Operation(
        "organisations", "Organisations within reach",
        {200: obj({"organisations": s.array(ref("Organisation"))})})),
    ("POST", "/api/organisations", Operation(
        "organisations", "Create an organisation", {201: ref("Organisation")},
        body({"name": s.STRING, "tier": {"type": "string",
                                         "enum": ["national", "bureau", "branch"]},
              "parent_id": nullable(s.INTEGER)}, required=("name", "tier", "parent_id")),
        errors=(409,))),
    # -- the farm register --------------------------------------------------------------------
    ("GET", "/api/farms", Operation(
        "farm register", "The farms the caller may see", {200: obj(
            {"farms": s.array(ref("Farm")), "choices": s.ANY_OBJECT}, required=("farms",))},
        query=(Query("state", s.FARM_STATE),
               Query("organisation_id", {"type": "integer", "minimum": 0}),
               Query("q", s.STRING, "text in the name or the filing number")))),
    ("POST", "/api/farms", Operation(
        "farm register", "Enrol a farm on its application (state applied)",
        {201: ref("FarmDetails")}, FARM_BODY, errors=(409,))),
    ("GET", "/api/farms/{farm_id}", Operation(
        "farm register", "A farm with its state history, documents and flags",
        {200: ref("FarmDetails")}, path_types=_FARM_ID)),
    ("PUT", "/api/farms/{farm_id}", Operation(
        "farm register", "Edit a farm's particulars", {200: ref("FarmDetails")},
        FARM_EDIT_BODY, errors=(409,), path_types=_FARM_ID,
        description="A field left out keeps its value; null unsets it.")),
    ("POST", "/api/farms/{farm_id}/state", Operation(
        "farm register", "Record a decision on the farm's approval state",
        {200: {"allOf": [ref("FarmDetails"), obj({"change": ref("StateChange")})]}},
        body({"state": s.FARM_STATE, "date": nullable(s.STRING), "remark": nullable(s.STRING)},
             required=("state",)), errors=(409,), path_types=_FARM_ID,
        description="applied → surveyed → approved; approved ⇄ suspended; any → revoked "
        "(final). 409 for any other move.")),
    ("GET", "/api/farms/{farm_id}/cameras", Operation(
        "farm register", "The farm's cameras the caller may see", {200: obj(
            {"farm_id": s.INTEGER, "cameras": s.array(ref("FarmCamera"))})},
        path_types=_FARM_ID)),
    ("GET", "/api/farms/{farm_id}/documents", Operation(
        "farm register", "The farm's application documents (superseded ones too)",
        {200: obj({"documents": s.array(ref("FarmDocument"))})}, path_types=_FARM_ID)),
    ("POST", "/api/farms/{farm_id}/documents", Operation(
        "farm register", "Add an application document", {201: ref("FarmDocument")},
        DOCUMENT_BODY, errors=(409,), path_types=_FARM_ID,
        request_content="multipart/form-data",
        description="`remark` and `supersedes` (a document ID) first, the `file` part last; "
        "bounded by [supervision] farm_document_max_megabytes (413 beyond).")),
    ("GET", "/api/farms/{farm_id}/documents/{document_id}/file", Operation(
        "farm register", "A document's file, as uploaded", {200: None}, content=FILE,
        errors=(409,), path_types=_DOCUMENT_ID)),
    ("GET", "/api/farms/{farm_id}/documents/{document_id}/verify", Operation(
        "farm register", "Hash the document's file again", {200: obj(
            {"id": s.INTEGER, "sha256": s.STRING, "actual": nullable(s.STRING),
             "valid": s.BOOLEAN, "missing": s.BOOLEAN})},
        path_types=_DOCUMENT_ID)),
    ("GET", "/api/tokens", Operation(
        "tokens", "API tokens within reach", {200: obj({"tokens": s.array(ref("Token"))})})),
    ("POST", "/api/tokens", Operation(
        "tokens", "Issue an API token (its secret is shown once)", {201: {
            "allOf": [ref("Token"), obj({"token": s.STRING})]}},
        body({"name": s.STRING, "role": s.ROLE, "organisation_id": s.INTEGER,
              "grants": s.array(GRANT_BODY), "expires_at": nullable(s.STRING)},
             required=("name", "role", "organisation_id")))),
    ("DELETE", "/api/tokens/{token_id}", Operation(
        "tokens", "Revoke an API token", {200: ref("Token")}, path_types=_TOKEN_ID)),
    ("GET", "/api/audit", Operation(
        "audit", "The audit trail, newest first", {200: obj(
            {"rows": s.array(ref("AuditRow")), "next_before_id": nullable(s.INTEGER)})},
        query=(Query("limit", {"type": "integer", "minimum": 0}),
               Query("before_id", {"type": "integer", "minimum": 0})))),
    ("GET", "/api/audit/verify", Operation(
        "audit", "Check the audit trail's hash chain", {200: ref("AuditVerify")})),
    # -- alarms ------------------------------------------------------------------------------
    ("GET", "/api/alarms", Operation(
        "alarms", "Alarms of the cameras the caller may view, newest first", {200: obj(
            {"alarms": s.array(ref("Alarm")), "next_offset": nullable(s.INTEGER)})},
        query=(Query("device", s.STRING, "a 20-digit device ID"),
               Query("channel", s.STRING, "a 20-digit channel ID"),
               Query("since", s.STRING, "an ISO local time"),
               Query("state", {"type": "string", "enum": ["new", "acknowledged", "reset"]}),
               Query("limit", {"type": "integer", "minimum": 0}),
               Query("offset", {"type": "integer", "minimum": 0})))),
    ("GET", "/api/alarms/events", Operation(
        "alarms", "Alarms after since_id, waiting up to `wait` seconds for one (long poll)",
        {200: obj({"alarms": s.array(ref("Alarm")), "next_id": nullable(s.INTEGER)})},
        query=(Query("since_id", {"type": "integer", "minimum": 0}),
               Query("wait", {"type": "integer", "minimum": 0, "maximum": 30})))),
    ("POST", "/api/alarms/{alarm_id}/ack", Operation(
        "alarms", "Acknowledge an alarm (who, when, optionally a note)", {200: ref("Alarm")},
        body({"note": nullable(s.STRING)}), request_required=False,
        path_types={"alarm_id": s.INTEGER})),
    ("POST", "/api/alarms/{alarm_id}/reset", Operation(
        "alarms", "Reset the alarm at the device (AlarmCmd)", {200: ref("Alarm")},
        errors=DEVICE_ERRORS, path_types={"alarm_id": s.INTEGER})),
    ("GET", "/api/alarms/{alarm_id}/clip/verify", Operation(
        "alarms", "Hash the alarm's evidence clip again (409 while it is being made)",
        {200: obj({"id": s.STRING, "valid": s.BOOLEAN, "sha256": nullable(s.STRING),
                   "computed_sha256": nullable(s.STRING), "detail": s.STRING},
                  required=("valid",))}, errors=(409,), path_types={"alarm_id": s.INTEGER})),
    ("GET", "/api/alarms/{alarm_id}/clip/file", Operation(
        "alarms", "The file of the alarm's evidence clip", {200: None}, content="video/mp4",
        errors=(409,), path_types={"alarm_id": s.INTEGER})),
    # -- monitoring records and the schedule ---------------------------------------------------
    ("GET", "/api/checklists", Operation(
        "supervision", "The six key areas' checklists (regulation art. 12–17)",
        {200: obj({"checklists": s.array(ref("Checklist"))})})),
    ("POST", "/api/channels/{channel_id}/monitoring-records", Operation(
        "supervision", "Make a signed monitoring record of the camera (snapshot taken at once)",
        {201: ref("MonitoringRecord")}, body({
            "mode": {"type": "string", "enum": ["live", "playback"]},
            "recorded_at": s.STRING, "playback_session": s.STRING,
            "answers": {"type": "object", "additionalProperties": body(
                {"answer": s.ANSWER, "remark": s.STRING}, required=("answer",))},
            "remark": s.STRING, "corrects": s.INTEGER,
        }, required=("mode", "answers")), errors=(409,),
        description="Every point of the camera's key area's checklist must be answered; a "
                    "camera without a farm or a key area is a 409.")),
    ("GET", "/api/monitoring-records", Operation(
        "supervision", "Monitoring records of the farms within reach, latest recorded first",
        {200: obj({"records": s.array(ref("MonitoringRecord")),
                   "next_offset": nullable(s.INTEGER)})},
        query=MONITORING_QUERY + (Query("limit", {"type": "integer", "minimum": 0}),
                                  Query("offset", {"type": "integer", "minimum": 0})))),
    ("GET", "/api/monitoring-records.csv", Operation(
        "supervision", "Monitoring records as CSV (UTF-8 with BOM), one row per point",
        {200: None}, query=MONITORING_QUERY, content="text/csv")),
    ("GET", "/api/monitoring-records/{record_id}", Operation(
        "supervision", "One monitoring record", {200: ref("MonitoringRecord")},
        path_types={"record_id": s.INTEGER})),
    ("GET", "/api/monitoring-records/{record_id}/snapshot.jpg", Operation(
        "supervision", "The record's snapshot", {200: None}, content="image/jpeg",
        path_types={"record_id": s.INTEGER})),
    ("GET", "/api/supervision/schedule", Operation(
        "supervision", "The caller's farms with their last record and due date, overdue first",
        {200: obj({"farms": s.array(ref("FarmDue")), "overdue": s.INTEGER})})),
    ("PUT", "/api/organisations/{organisation_id}/schedule", Operation(
        "supervision", "Set an organisation's supervision schedule (null: inherit)",
        {200: obj({"organisation_id": s.INTEGER, "days": s.INTEGER, "own": s.BOOLEAN})},
        body({"days": nullable({"type": "integer", "minimum": 1, "maximum": 366})},
             required=("days",)), path_types={"organisation_id": s.INTEGER})),
    # -- fault tickets (art. 19) ---------------------------------------------------------------
    ("GET", "/api/faults", Operation(
        "faults", "Fault tickets of the farms the caller may supervise, newest first", {200: obj(
            {"faults": s.array(ref("Fault")), "next_offset": nullable(s.INTEGER)})},
        query=(Query("state", {"type": "string", "enum": s.FAULT_STATES}),
               Query("kind", {"type": "string", "enum": s.FAULT_KINDS}),
               Query("farm", {"type": "integer", "minimum": 0}),
               Query("organisation", {"type": "integer", "minimum": 0},
                     "farms within this organisation's subtree"),
               Query("open", {"type": "string", "enum": ["true", "false"]}),
               Query("limit", {"type": "integer", "minimum": 0}),
               Query("offset", {"type": "integer", "minimum": 0})))),
    ("POST", "/api/faults", Operation(
        "faults", "Open a fault ticket by hand on a camera the caller may view",
        {201: ref("Fault")},
        body({"channel_id": s.STRING, "kind": {"type": "string", "enum": s.FAULT_KINDS},
              "detail": nullable(s.STRING)}, required=("channel_id",)))),
    ("GET", "/api/faults/events", Operation(
        "faults", "Fault events after since_id, waiting up to `wait` seconds for one (long poll)",
        {200: obj({"events": s.array(obj({
            "id": s.INTEGER, "event": {"type": "string", "enum": [
                "opened", "state", "closed", "reminded", "escalated"]},
            "at": s.STRING, "fault": ref("Fault")})), "next_id": s.INTEGER})},
        query=(Query("since_id", {"type": "integer", "minimum": 0}),
               Query("wait", {"type": "integer", "minimum": 0, "maximum": 30})))),
    ("GET", "/api/faults/statistics", Operation(
        "faults", "Open tickets by kind and repair times per organisation over a period",
        {200: ref("FaultStatistics")},
        query=(Query("organisation", {"type": "integer", "minimum": 0}),
               Query("since", s.STRING, "an ISO local time (default: 30 days before until)"),
               Query("until", s.STRING, "an ISO local time (default: now)")))),
    ("GET", "/api/faults/farms", Operation(
        "faults", "Farms with an open ticket: flagged for more on-site inspection",
        {200: obj({"farms": s.array(obj(
            {"farm_id": s.INTEGER, "name": nullable(s.STRING), "open": s.INTEGER}))})})),
    ("GET", "/api/faults/{fault_id}", Operation(
        "faults", "One fault ticket with its history", {200: ref("Fault")},
        path_types={"fault_id": s.INTEGER})),
    ("POST", "/api/faults/{fault_id}/state", Operation(
        "faults", "Move a fault ticket: farm_notified, fixed (anyone within the farm's reach), "
        "verified or closed (administrators)", {200: ref("Fault")},
        body({"state": {"type": "string", "enum": s.FAULT_STATES}, "remark": nullable(s.STRING)},
             required=("state",)),
        errors=(409,), path_types={"fault_id": s.INTEGER})),
    # -- anomalies, rectification and cases ---------------------------------------------------
    ("POST", "/api/channels/{channel_id}/anomalies", Operation(
        "anomalies", "Report an anomaly seen live or in a playback (its evidence clip follows)",
        {201: ref("Anomaly")},
        body({"description": s.STRING, "mode": {"type": "string", "enum": ["live", "playback"]},
              "time": s.STRING, "category": nullable(s.STRING)}, required=("description",)),
        errors=(409,))),
    ("GET", "/api/anomalies", Operation(
        "anomalies", "Anomalies of the farms within reach: overdue rectifications first, then "
        "the newest", {200: obj({"anomalies": s.array(ref("Anomaly")),
                                 "next_offset": nullable(s.INTEGER)})},
        query=(Query("state", s.ANOMALY_STATE), Query("farm", {"type": "integer", "minimum": 0}),
               Query("limit", {"type": "integer", "minimum": 0}),
               Query("offset", {"type": "integer", "minimum": 0})))),
    ("GET", "/api/anomalies/events", Operation(
        "anomalies", "Anomalies reported after since_id, waiting up to `wait` seconds for one "
        "(long poll)", {200: obj({"anomalies": s.array(ref("Anomaly")),
                                  "next_id": s.INTEGER})},
        query=(Query("since_id", {"type": "integer", "minimum": 0}),
               Query("wait", {"type": "integer", "minimum": 0, "maximum": 30})))),
    ("GET", "/api/anomalies/{anomaly_id}", Operation(
        "anomalies", "An anomaly with its evidence, history and follow-ups",
        {200: ref("AnomalyDetail")}, path_types=_ANOMALY_ID)),
    ("POST", "/api/anomalies/{anomaly_id}/rectification", Operation(
        "anomalies", "Order the anomaly's rectification (整改) by a deadline",
        {200: ref("AnomalyDetail")}, body({"order": s.STRING, "deadline": s.STRING},
                                          required=("order", "deadline")),
        errors=(409,), path_types=_ANOMALY_ID)),
    ("POST", "/api/anomalies/{anomaly_id}/state", Operation(
        "anomalies", "Rectified, escalated to a case (立案) or closed",
        {200: ref("AnomalyDetail")},
        body({"state": s.ANOMALY_STATE, "remark": s.STRING, "case_number": nullable(s.STRING)},
             required=("state",)), errors=(409,), path_types=_ANOMALY_ID)),
    ("GET", "/api/anomalies/{anomaly_id}/evidence", Operation(
        "anomalies", "The anomaly's evidence clips", {200: obj({
            "evidence_state": s.STRING, "evidence_error": nullable(s.STRING),
            "evidence": s.array(ref("AnomalyClip"))})}, path_types=_ANOMALY_ID)),
    ("POST", "/api/anomalies/{anomaly_id}/evidence", Operation(
        "anomalies", "Attach an evidence clip: an existing one, or a new one of the camera",
        {201: ref("AnomalyClip")},
        body({"clip_id": s.STRING, **_RANGE}), errors=DEVICE_ERRORS,
        path_types=_ANOMALY_ID)),
    ("GET", "/api/anomalies/{anomaly_id}/evidence/{clip_id}/verify", Operation(
        "anomalies", "Hash the evidence clip's file again (409 while it is being made)",
        {200: obj({"id": s.STRING, "valid": s.BOOLEAN, "sha256": nullable(s.STRING),
                   "computed_sha256": nullable(s.STRING), "detail": s.STRING},
                  required=("valid",))}, errors=(409,), path_types=_ANOMALY_ID)),
    ("GET", "/api/anomalies/{anomaly_id}/evidence/{clip_id}/file", Operation(
        "anomalies", "The evidence clip's file", {200: None}, content="video/mp4",
        errors=(409,), path_types=_ANOMALY_ID)),
    ("POST", "/api/anomalies/{anomaly_id}/follow-ups", Operation(
        "anomalies", "Link a monitoring record that followed the anomaly up", {201: obj(
            {"follow_ups": s.array(ref("FollowUp"))})},
        body({"monitoring_record_id": s.INTEGER}, required=("monitoring_record_id",)),
        path_types=_ANOMALY_ID)),
    # -- random spot checks ----------------------------------------------------------------------
    ("POST", "/api/spot-checks", Operation(
        "supervision", "Draw K cameras at random among those the caller may view (抽查)",
        {201: ref("SpotCheck")},
        body({"count": {"type": "integer", "minimum": 1, "maximum": 100},
              "period": {"type": "string", "maxLength": 64}}, required=("count",)),
        errors=(409,),
        description="Farms not spot-checked recently weigh more (1 + weeks since, up to 8); "
                    "one camera per farm per round. The seed and the population's digest are "
                    "kept: GET .../verify runs the draw again. 409: no camera in reach.")),
    ("GET", "/api/spot-checks", Operation(
        "supervision", "Spot checks of the caller's organisation and below, newest first",
        {200: obj({"spot_checks": s.array(ref("SpotCheck")),
                   "next_offset": nullable(s.INTEGER)})},
        query=(Query("limit", {"type": "integer", "minimum": 0}),
               Query("offset", {"type": "integer", "minimum": 0})))),
    ("GET", "/api/spot-checks/report", Operation(
        "supervision", "The spot checks drawn in a period, in total and per farm",
        {200: ref("SpotCheckReport")},
        query=(Query("from", s.STRING, "an ISO local time (drawn at, inclusive)"),
               Query("to", s.STRING, "an ISO local time (drawn at, exclusive)")))),
    ("GET", "/api/overview", Operation(
        "supervision", "The supervision overview: per organisation within reach, nested",
        {200: ref("Overview")},
        query=(Query("from", s.STRING, "an ISO local time (inclusive); default: to minus "
                     "[supervision] schedule_days"),
               Query("to", s.STRING, "an ISO local time (exclusive); default: now")),
        description="Each organisation's figures include those below it (own: its own only). "
                    "A monitor's cover only the farms and cameras he may see.")),
    ("GET", "/api/spot-checks/{spot_check_id}", Operation(
        "supervision", "One spot check with its cameras and results", {200: ref("SpotCheck")},
        path_types={"spot_check_id": s.INTEGER})),
    ("GET", "/api/spot-checks/{spot_check_id}/verify", Operation(
        "supervision", "Run the stored draw again from its seed and population",
        {200: obj({"spot_check_id": s.INTEGER, "ok": s.BOOLEAN, "digest_matches": s.BOOLEAN,
                   "draw_matches": s.BOOLEAN, "population": s.INTEGER,
                   "expected": s.array(s.STRING)})},
        path_types={"spot_check_id": s.INTEGER})),
    ("POST", "/api/spot-checks/{spot_check_id}/items/{position}/result", Operation(
        "supervision", "Record what the inspector found on a drawn camera, or that it will "
        "not play", {200: ref("SpotCheckItem")}, body({
            "state": {"type": "string", "enum": ["recorded", "unplayable"]},
            "mode": {"type": "string", "enum": ["live", "playback"]},
            "key_area": s.STRING,
            "answers": {"type": "object", "additionalProperties": body(
                {"answer": s.ANSWER, "remark": s.STRING}, required=("answer",))},
            "remark": s.STRING,
        }, required=("state",)), errors=(409,),
        description="recorded: every point of the key area's checklist answered (key_area "
                    "needed when the camera has none here); unplayable: remark says why. 409: "
                    "recorded already.",
        path_types={"spot_check_id": s.INTEGER, "position": s.INTEGER})),
    # -- video quality diagnosis -------------------------------------------------------------
    ("GET", "/api/channels/{channel_id}/diagnosis", Operation(
        "diagnosis", "The camera's picture state and its newest samples (latest first)",
        {200: obj({"channel_id": s.STRING, "state": nullable(ref("PictureState")),
                   "latest": nullable(ref("PictureSample")),
                   "history": s.array(ref("PictureSample"))})},
        query=(Query("limit", {"type": "integer", "minimum": 0, "maximum": 500}),))),
    ("POST", "/api/channels/{channel_id}/diagnosis", Operation(
        "diagnosis", "Sample the camera's picture now", {200: {
            "allOf": [ref("PictureSample"), obj({"channel_id": s.STRING})]}})),
    ("GET", "/api/diagnosis", Operation(
        "diagnosis", "The picture state of the sampled cameras the caller may view",
        {200: obj({"cameras": s.array(ref("PictureState"))})},
        query=(Query("failed", {"type": "string", "enum": ["true", "false"]},
                     "true: only the cameras whose picture fails now"),))),
    # -- outside /api ------------------------------------------------------------------------
    ("GET", "/healthz", Operation(
        "operations", "Whether the database answers", {200: obj({"status": s.STRING})},
        errors=(503,))),
    ("GET", "/metrics", Operation(
        "operations", "Prometheus text", {200: None}, content="text/plain")),
]  # fmt: skip

OPERATIONS: Mapping[RouteKey, Operation] = {
    RouteKey(method, path): operation for method, path, operation in _TABLE
}
if len(OPERATIONS) != len(_TABLE):
    raise RuntimeError("a route is described twice in the OpenAPI operations")
