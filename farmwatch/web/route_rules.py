"""Who may call each route of the web server: one table, read by the authorisation
middleware (`authorization.py`) and checked against the application's router when the
application is built, so that a route cannot be added without its rule (regulation art.
7–10 and 22; issue 10 §3).

A rule says who may call the route at all (`Who`), what in the path they must reach
(`Target`: a camera, a device, a user, a token, or a media session, search, download or
clip that they opened themselves), which audit action an answer leaves, and whether a
success opens or ends something the caller then holds. HEAD follows GET.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from farmwatch.platform.access import OwnedKind
from farmwatch.platform.audit import AuditAction

__all__ = ["ROUTE_RULES", "RouteKey", "Rule", "Target", "Who"]


class Who(StrEnum):
    ANYONE = "anyone"
    """Public: no login (the login itself, the login page, the health check)."""
    SIGNED_IN = "signed in"
    """Any principal: a console session or an API token, whatever its role."""
    ADMINISTRATOR = "administrator"
    """An administrator (管理员), by session or administrator-role token."""


class Target(StrEnum):
    """What a path names that the caller must reach; `parameter` is the path's name for it."""

    CHANNEL = "channel"
    """A camera the caller may view (`CameraAccess.can_view`)."""
    DEVICE = "device"
    """A device the caller may see (an administrator: placed within their reach)."""
    LIVE = "live"
    PLAYBACK = "playback"
    RECORD_SEARCH = "record_search"
    DOWNLOAD = "download"
    CLIP = "clip"
    USER = "user"
    """A user account of the caller's organisation or one below it."""
    TOKEN = "token"
    """An API token of the caller's organisation or one below it."""
    FARM = "farm"
    """A farm the caller may supervise (`AccessGate.farm`)."""
    ANOMALY = "anomaly"
    """An anomaly of a farm the caller may supervise (its farm checked by `AccessGate.farm`)."""
    BROADCAST = "broadcast"
    """A voice broadcast the caller started."""

    @property
    def is_farm_record(self) -> bool:
        """A record of one farm: reached when its farm is (`farm_of` resolves it)."""
        return self in _FARM_RECORDS

    @property
    def parameter(self) -> str:
        return _PARAMETERS[self]

    @property
    def owned_kind(self) -> OwnedKind | None:
        """For a media session, search, download or clip: what the caller must hold."""
        return _OWNED.get(self)


_PARAMETERS = {
    Target.CHANNEL: "channel_id",
    Target.DEVICE: "device_id",
    Target.LIVE: "session",
    Target.PLAYBACK: "session",
    Target.RECORD_SEARCH: "search_id",
    Target.DOWNLOAD: "task_id",
    Target.CLIP: "clip_id",
    Target.USER: "user_id",
    Target.TOKEN: "token_id",
    Target.FARM: "farm_id",
    Target.ANOMALY: "anomaly_id",
    Target.BROADCAST: "session",
}
_FARM_RECORDS = frozenset({Target.ANOMALY})
_OWNED = {
    Target.LIVE: OwnedKind.LIVE,
    Target.PLAYBACK: OwnedKind.PLAYBACK,
    Target.RECORD_SEARCH: OwnedKind.RECORD_SEARCH,
    Target.DOWNLOAD: OwnedKind.DOWNLOAD,
    Target.CLIP: OwnedKind.CLIP,
    Target.BROADCAST: OwnedKind.BROADCAST,
}


@dataclass(frozen=True, slots=True)
class Rule:
    who: Who
    target: Target | None = None
    audit: AuditAction | None = None
    """Appended to the audit trail for every answer (ok, denied or failed)."""
    audit_refusal: AuditAction | None = None
    """Appended only when the caller is refused (the outputs of a session: its opening was
    recorded already)."""
    opens: OwnedKind | None = None
    """A success opens a session, search, download or clip that the caller then holds."""
    closes: bool = False
    """A success ends the session the path names (the caller holds it no more)."""
    page: bool = False
    """An HTML page: an anonymous caller is sent to the login page instead of a 401."""


@dataclass(frozen=True, slots=True)
class RouteKey:
    """A route as the router knows it: its method and canonical path (`{name}` holes)."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ANYONE = Rule(Who.ANYONE)
SIGNED_IN = Rule(Who.SIGNED_IN)
ADMINISTRATOR = Rule(Who.ADMINISTRATOR)
DEVICE = Rule(Who.SIGNED_IN, Target.DEVICE)
DEVICE_ADMINISTRATOR = Rule(Who.ADMINISTRATOR, Target.DEVICE)
USER = Rule(Who.ADMINISTRATOR, Target.USER)
FARM = Rule(Who.SIGNED_IN, Target.FARM)
FARM_ADMINISTRATOR = Rule(Who.ADMINISTRATOR, Target.FARM)
ANOMALY = Rule(Who.SIGNED_IN, Target.ANOMALY)


def _anomaly(audit: AuditAction, who: Who = Who.SIGNED_IN) -> Rule:
    return Rule(who, Target.ANOMALY, audit=audit)


def _camera(audit: AuditAction | None = None, opens: OwnedKind | None = None) -> Rule:
    return Rule(Who.SIGNED_IN, Target.CHANNEL, audit=audit, opens=opens)


def _farm_change(action: AuditAction) -> Rule:
    """A change of the register: the core audits what it did, the middleware who was refused."""
    return Rule(Who.ADMINISTRATOR, Target.FARM, audit_refusal=action)


def _held(target: Target, refusal: AuditAction | None = None, *, closes: bool = False) -> Rule:
    return Rule(Who.SIGNED_IN, target, audit_refusal=refusal, closes=closes)


_TABLE: list[tuple[str, str, Rule]] = [
    # -- public ------------------------------------------------------------------------------
    ("POST", "/api/login", ANYONE),
    ("GET", "/login", ANYONE),
    ("GET", "/healthz", ANYONE),
    # A camera uploading the pictures it was asked for (SnapShotConfig) has no account: the
    # unguessable token in the path is its credential, good for one channel, a few pictures
    # (at most the count asked) and minutes; the body is bounded and must be a JPEG.
    ("POST", "/api/device-snapshots/uploads/{token}", ANYONE),
    ("PUT", "/api/device-snapshots/uploads/{token}", ANYONE),
    # -- any principal -----------------------------------------------------------------------
    ("POST", "/api/logout", SIGNED_IN),
    ("GET", "/api/me", SIGNED_IN),
    ("GET", "/api/openapi.json", SIGNED_IN),  # the API's description, and its page
    ("GET", "/api/docs", Rule(Who.SIGNED_IN, page=True)),
    ("GET", "/live", Rule(Who.SIGNED_IN, page=True)),
    ("GET", "/", Rule(Who.SIGNED_IN, page=True)),
    # The console's code and styles hold no data, but only the login page is for strangers.
    ("GET", "/console/{name}", SIGNED_IN),
    ("GET", "/api/tree", SIGNED_IN),  # filtered to the cameras the caller may see
    ("GET", "/metrics", SIGNED_IN),
    ("*", "/api/{tail}", SIGNED_IN),
    ("GET", "/api/devices", SIGNED_IN),  # filtered to the devices the caller may see
    # -- devices -----------------------------------------------------------------------------
    ("GET", "/api/devices/{device_id}", DEVICE),
    ("GET", "/api/devices/{device_id}/channels", DEVICE),  # filtered to visible cameras
    ("GET", "/api/devices/{device_id}/catalog", DEVICE),
    ("GET", "/api/devices/{device_id}/status", DEVICE),
    ("GET", "/api/devices/{device_id}/sd-cards", DEVICE),  # [2022] SDCardStatus
    ("GET", "/api/devices/{device_id}/track", DEVICE),  # a mobile device's positions
    ("POST", "/api/devices/{device_id}/catalog", DEVICE_ADMINISTRATOR),
    ("PUT", "/api/devices/{device_id}/farm", DEVICE_ADMINISTRATOR),
    ("POST", "/api/devices/{device_id}/commands",
     Rule(Who.ADMINISTRATOR, Target.DEVICE, audit=AuditAction.DEVICE_COMMAND)),
    ("GET", "/api/devices/{device_id}/config", DEVICE_ADMINISTRATOR),
    ("PUT", "/api/devices/{device_id}/config",
     Rule(Who.ADMINISTRATOR, Target.DEVICE, audit=AuditAction.CONFIG_CHANGE)),
    ("PUT", "/api/devices/{device_id}/stream-dialect",
     Rule(Who.ADMINISTRATOR, Target.DEVICE, audit=AuditAction.CONFIG_CHANGE)),
    ("POST", "/api/devices", Rule(Who.ADMINISTRATOR, audit=AuditAction.CONFIG_CHANGE)),
    ("GET", "/api/uppers", ADMINISTRATOR),
    ("GET", "/api/uppers/{name}/share", ADMINISTRATOR),
    ("PUT", "/api/uppers/{name}/share", Rule(Who.ADMINISTRATOR, audit=AuditAction.CONFIG_CHANGE)),
    ("DELETE", "/api/uppers/{name}/share",
     Rule(Who.ADMINISTRATOR, audit=AuditAction.CONFIG_CHANGE)),
    # -- cameras -----------------------------------------------------------------------------
    ("POST", "/api/channels/{channel_id}/live", _camera(AuditAction.LIVE_START, OwnedKind.LIVE)),
    ("GET", "/api/channels/{channel_id}/snapshot.jpg", _camera(AuditAction.SNAPSHOT)),
    ("GET", "/api/channels/{channel_id}/records",
     _camera(AuditAction.RECORD_SEARCH, OwnedKind.RECORD_SEARCH)),
    ("POST", "/api/channels/{channel_id}/playback",
     _camera(AuditAction.PLAYBACK, OwnedKind.PLAYBACK)),
    ("POST", "/api/channels/{channel_id}/downloads",
     _camera(AuditAction.DOWNLOAD, OwnedKind.DOWNLOAD)),
    ("POST", "/api/channels/{channel_id}/clips", _camera(AuditAction.CLIP_EXPORT, OwnedKind.CLIP)),
    ("GET", "/api/channels/{channel_id}/record-plan", _camera()),
    ("PUT", "/api/channels/{channel_id}/record-plan",
     Rule(Who.ADMINISTRATOR, Target.CHANNEL, audit=AuditAction.CONFIG_CHANGE)),
    ("POST", "/api/channels/{channel_id}/ptz", _camera(AuditAction.PTZ)),
    ("GET", "/api/channels/{channel_id}/ptz", _camera()),  # who steers it now
    ("DELETE", "/api/channels/{channel_id}/ptz", _camera()),  # its holder gives it back
    ("GET", "/api/channels/{channel_id}/presets", _camera()),
    ("GET", "/api/channels/{channel_id}/ptz/position", _camera()),
    ("GET", "/api/channels/{channel_id}/home-position", _camera()),
    ("GET", "/api/channels/{channel_id}/cruise-tracks", _camera()),
    ("GET", "/api/channels/{channel_id}/cruise-tracks/{number}", _camera()),
    ("POST", "/api/channels/{channel_id}/device-snapshots", _camera(AuditAction.DEVICE_SNAPSHOT)),
    ("GET", "/api/channels/{channel_id}/device-snapshots", _camera()),
    # The picture's camera is checked by the handler (`AccessGate.channel`), as for alarms.
    ("GET", "/api/device-snapshots/{snapshot_id}.jpg", Rule(Who.SIGNED_IN,
                                                           audit=AuditAction.SNAPSHOT)),
    ("POST", "/api/channels/{channel_id}/broadcast",
     _camera(AuditAction.BROADCAST, OwnedKind.BROADCAST)),
    ("PUT", "/api/channels/{channel_id}/placement",
     Rule(Who.ADMINISTRATOR, Target.CHANNEL, audit=AuditAction.CONFIG_CHANGE)),
    # -- video quality diagnosis (the list: the cameras the caller may see) ------------------
    ("GET", "/api/channels/{channel_id}/diagnosis", _camera()),
    ("POST", "/api/channels/{channel_id}/diagnosis",
     Rule(Who.ADMINISTRATOR, Target.CHANNEL, audit=AuditAction.DIAGNOSIS_SAMPLE)),
    ("GET", "/api/diagnosis", SIGNED_IN),
    # -- alarms (the core shows and acts on those of the cameras the caller may view) ---------
    ("GET", "/api/alarms", SIGNED_IN),
    ("GET", "/api/alarms/events", SIGNED_IN),  # the console's long-poll feed
    ("POST", "/api/alarms/{alarm_id}/ack", Rule(Who.SIGNED_IN, audit=AuditAction.ALARM_ACK)),
    # The evidence clip cut around an alarm ([supervision] alarm_evidence): whoever sees it.
    ("GET", "/api/alarms/{alarm_id}/clip/verify", SIGNED_IN),
    ("GET", "/api/alarms/{alarm_id}/clip/file",
     Rule(Who.SIGNED_IN, audit=AuditAction.CLIP_EXPORT)),
    ("POST", "/api/alarms/{alarm_id}/reset",
     Rule(Who.ADMINISTRATOR, audit=AuditAction.ALARM_RESET)),
    # -- monitoring records and the schedule (filtered to the farms within reach) -----------
    ("GET", "/api/checklists", SIGNED_IN),
    ("POST", "/api/channels/{channel_id}/monitoring-records",
     _camera(AuditAction.MONITORING_RECORD)),
    ("GET", "/api/monitoring-records", SIGNED_IN),
    ("GET", "/api/monitoring-records.csv",
     Rule(Who.SIGNED_IN, audit=AuditAction.MONITORING_EXPORT)),
    ("GET", "/monitoring-records/print",
     Rule(Who.SIGNED_IN, audit=AuditAction.MONITORING_EXPORT, page=True)),
    ("GET", "/api/monitoring-records/{record_id}", SIGNED_IN),
    ("GET", "/api/monitoring-records/{record_id}/snapshot.jpg", SIGNED_IN),
    ("GET", "/api/supervision/schedule", SIGNED_IN),
    # the core checks the organisation is within the administrator's reach
    ("PUT", "/api/organisations/{organisation_id}/schedule",
     Rule(Who.ADMINISTRATOR, audit=AuditAction.CONFIG_CHANGE)),
    # -- fault tickets (the core shows and acts on those of the farms within reach) ----------
    ("GET", "/api/faults", SIGNED_IN),
    ("POST", "/api/faults", Rule(Who.SIGNED_IN, audit=AuditAction.FAULT_OPEN)),
    ("GET", "/api/faults/events", SIGNED_IN),  # the console's long-poll feed
    ("GET", "/api/faults/statistics", SIGNED_IN),
    ("GET", "/api/faults/farms", SIGNED_IN),  # farms flagged for more on-site inspection
    ("GET", "/api/faults/{fault_id}", SIGNED_IN),
    ("POST", "/api/faults/{fault_id}/state", Rule(Who.SIGNED_IN, audit=AuditAction.FAULT_STATE)),
    # -- anomalies, rectification and cases (the anomaly's farm must be within reach) --------
    ("POST", "/api/channels/{channel_id}/anomalies", _camera(AuditAction.ANOMALY_REPORT)),
    ("GET", "/api/anomalies", SIGNED_IN),  # filtered to the farms within the caller's reach
    ("GET", "/api/anomalies/events", ADMINISTRATOR),  # the console's long-poll notification
    ("GET", "/api/anomalies/{anomaly_id}", ANOMALY),
    ("POST", "/api/anomalies/{anomaly_id}/rectification",
     _anomaly(AuditAction.ANOMALY_RECTIFICATION, Who.ADMINISTRATOR)),
    ("POST", "/api/anomalies/{anomaly_id}/state", _anomaly(AuditAction.ANOMALY_STATE)),
    ("GET", "/api/anomalies/{anomaly_id}/evidence", ANOMALY),
    ("POST", "/api/anomalies/{anomaly_id}/evidence", _anomaly(AuditAction.ANOMALY_EVIDENCE)),
    ("GET", "/api/anomalies/{anomaly_id}/evidence/{clip_id}/verify", ANOMALY),
    ("GET", "/api/anomalies/{anomaly_id}/evidence/{clip_id}/file",
     _anomaly(AuditAction.CLIP_EXPORT)),
    ("POST", "/api/anomalies/{anomaly_id}/follow-ups", _anomaly(AuditAction.ANOMALY_FOLLOW_UP)),
    # -- random spot checks (the core shows those of the caller's organisation and below, and
    # records a result only on a camera the caller may view) ---------------------------------
    ("POST", "/api/spot-checks", Rule(Who.SIGNED_IN, audit=AuditAction.SPOT_CHECK_DRAW)),
    ("GET", "/api/spot-checks", SIGNED_IN),
    ("GET", "/api/spot-checks/report", SIGNED_IN),
    ("GET", "/api/overview", SIGNED_IN),
    ("GET", "/api/spot-checks/{spot_check_id}", SIGNED_IN),
    ("GET", "/api/spot-checks/{spot_check_id}/verify", SIGNED_IN),
    ("POST", "/api/spot-checks/{spot_check_id}/items/{position}/result",
     Rule(Who.SIGNED_IN, audit=AuditAction.SPOT_CHECK_RESULT)),
    # -- what the caller opened --------------------------------------------------------------
    ("DELETE", "/api/live/{session}", Rule(Who.SIGNED_IN, Target.LIVE,
                                           audit=AuditAction.LIVE_STOP, closes=True)),
    ("POST", "/api/live/{session}/webrtc", _held(Target.LIVE, AuditAction.LIVE_START)),
    ("GET", "/api/live/{session}/stream.mp4", _held(Target.LIVE, AuditAction.LIVE_START)),
    ("GET", "/api/live/{session}/hls/{name}", _held(Target.LIVE, AuditAction.LIVE_START)),
    ("GET", "/api/playback/{session}", _held(Target.PLAYBACK)),
    ("DELETE", "/api/playback/{session}", _held(Target.PLAYBACK, closes=True)),
    ("POST", "/api/playback/{session}/control", _held(Target.PLAYBACK)),
    ("POST", "/api/playback/{session}/webrtc", _held(Target.PLAYBACK, AuditAction.PLAYBACK)),
    ("GET", "/api/playback/{session}/stream.mp4", _held(Target.PLAYBACK, AuditAction.PLAYBACK)),
    ("GET", "/api/playback/{session}/hls/{name}", _held(Target.PLAYBACK, AuditAction.PLAYBACK)),
    ("GET", "/api/record-searches/{search_id}",
     _held(Target.RECORD_SEARCH, AuditAction.RECORD_SEARCH)),
    ("GET", "/api/downloads/{task_id}", _held(Target.DOWNLOAD)),
    ("DELETE", "/api/downloads/{task_id}", _held(Target.DOWNLOAD)),
    ("GET", "/api/downloads/{task_id}/file",
     Rule(Who.SIGNED_IN, Target.DOWNLOAD, audit=AuditAction.DOWNLOAD)),
    ("GET", "/api/broadcast/{session}", _held(Target.BROADCAST)),
    ("DELETE", "/api/broadcast/{session}", _held(Target.BROADCAST, closes=True)),
    ("POST", "/api/broadcast/{session}/webrtc", _held(Target.BROADCAST, AuditAction.BROADCAST)),
    ("POST", "/api/broadcast/{session}/audio", _held(Target.BROADCAST, AuditAction.BROADCAST)),
    ("GET", "/api/clips/{clip_id}", _held(Target.CLIP)),
    ("GET", "/api/clips/{clip_id}/verify", _held(Target.CLIP)),
    ("GET", "/api/clips/{clip_id}/file",
     Rule(Who.SIGNED_IN, Target.CLIP, audit=AuditAction.CLIP_EXPORT)),
    # -- administration (the core checks the organisation named in a body) -------------------
    ("GET", "/api/users", ADMINISTRATOR),
    ("POST", "/api/users", ADMINISTRATOR),
    ("GET", "/api/users/{user_id}", USER),
    ("PUT", "/api/users/{user_id}/role", USER),
    ("PUT", "/api/users/{user_id}/enabled", USER),
    ("POST", "/api/users/{user_id}/unlock", USER),
    ("PUT", "/api/users/{user_id}/password", USER),
    ("GET", "/api/users/{user_id}/grants", USER),
    ("POST", "/api/users/{user_id}/grants", USER),
    ("DELETE", "/api/users/{user_id}/grants/{kind}/{target}", USER),
    ("GET", "/api/organisations", ADMINISTRATOR),
    ("POST", "/api/organisations", ADMINISTRATOR),
    # -- the farm register (a farm's organisation checked again by the core) ------------------
    ("GET", "/api/farms", SIGNED_IN),  # filtered to the farms the caller may see
    ("POST", "/api/farms", Rule(Who.ADMINISTRATOR, audit_refusal=AuditAction.FARM_CHANGE)),
    ("GET", "/api/farms/{farm_id}", FARM),
    ("PUT", "/api/farms/{farm_id}", _farm_change(AuditAction.FARM_CHANGE)),
    ("POST", "/api/farms/{farm_id}/state", _farm_change(AuditAction.FARM_STATE)),
    ("GET", "/api/farms/{farm_id}/cameras", FARM),  # filtered to the cameras the caller sees
    ("GET", "/api/farms/{farm_id}/documents", FARM),
    ("POST", "/api/farms/{farm_id}/documents", _farm_change(AuditAction.FARM_DOCUMENT)),
    # Every fetch of a document is traced (art. 22), not only refusals.
    ("GET", "/api/farms/{farm_id}/documents/{document_id}/file",
     Rule(Who.SIGNED_IN, Target.FARM, audit=AuditAction.FARM_DOCUMENT)),
    ("GET", "/api/farms/{farm_id}/documents/{document_id}/verify", FARM),
    ("GET", "/api/tokens", ADMINISTRATOR),
    ("POST", "/api/tokens", ADMINISTRATOR),
    ("DELETE", "/api/tokens/{token_id}", Rule(Who.ADMINISTRATOR, Target.TOKEN)),
    ("GET", "/api/audit", ADMINISTRATOR),
    ("GET", "/api/audit/verify", ADMINISTRATOR),
]  # fmt: skip

ROUTE_RULES: Mapping[RouteKey, Rule] = {
    RouteKey(method, path): rule for method, path, rule in _TABLE
}
if len(ROUTE_RULES) != len(_TABLE):
    raise RuntimeError("a route is listed twice in the route rules")
