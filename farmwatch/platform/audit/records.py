"""What one audit row says (regulation art. 22: every access traceable): who, what, when,
on which camera and recorded range, from where, with what result.

Frozen values only; `chain.py` turns them into the bytes the hash chain covers and
`log.py` stores them. Times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

__all__ = [
    "ActorKind",
    "AuditAction",
    "AuditActor",
    "AuditEntry",
    "AuditRecord",
    "AuditResult",
    "JsonValue",
    "RecordedRange",
]

JsonValue: TypeAlias = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class AuditAction(StrEnum):
    """What was done (issue 10 §4)."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    LIVE_START = "live_start"
    LIVE_STOP = "live_stop"
    PLAYBACK = "playback"
    DOWNLOAD = "download"
    CLIP_EXPORT = "clip_export"
    RECORD_SEARCH = "record_search"
    SNAPSHOT = "snapshot"
    PTZ = "ptz"
    BROADCAST = "broadcast"
    """A voice broadcast (喊话) to a camera's loudspeaker started, or refused (issue 12)."""
    DEVICE_COMMAND = "device_command"
    """TeleBoot, RecordCmd, GuardCmd, AlarmCmd reset, DragZoom, IFameCmd (issue 12)."""
    DEVICE_SNAPSHOT = "device_snapshot"
    """The camera asked to take pictures and upload them (SnapShotConfig, issue 12 item 4)."""
    ALARM_ACK = "alarm_ack"
    """An alarm acknowledged (issue 12 item 3)."""
    ALARM_RESET = "alarm_reset"
    """AlarmCmd ResetAlarm sent for a stored alarm."""
    MONITORING_RECORD = "monitoring_record"
    """A monitoring record (监控记录) made from a live or playback view (issue 11 item 2)."""
    MONITORING_EXPORT = "monitoring_export"
    """Monitoring records exported as CSV or printed."""
    FAULT_OPEN = "fault_open"
    """A fault ticket opened by hand (regulation art. 19; issue 11 item 4)."""
    FAULT_STATE = "fault_state"
    """A fault ticket moved: farm notified, fixed, verified, closed."""
    ANOMALY_REPORT = "anomaly_report"
    """"Report anomaly" (报告异常) from a live or playback view (art. 20)."""
    ANOMALY_RECTIFICATION = "anomaly_rectification"
    """A rectification (整改) ordered, with its text and deadline."""
    ANOMALY_STATE = "anomaly_state"
    """An anomaly rectified, escalated to a case (立案) or closed."""
    ANOMALY_EVIDENCE = "anomaly_evidence"
    """An evidence clip attached to an anomaly (art. 21)."""
    ANOMALY_FOLLOW_UP = "anomaly_follow_up"
    """A monitoring record linked to an anomaly as its follow-up."""
    SPOT_CHECK_DRAW = "spot_check_draw"
    """Cameras drawn for a random spot check (抽查; issue 11 item 6), with the seed."""
    SPOT_CHECK_RESULT = "spot_check_result"
    """A spot check's camera recorded on its checklist, or as unplayable."""
    DIAGNOSIS_SAMPLE = "diagnosis_sample"
    """A camera's picture sampled for the video quality diagnosis on request (issue 11)."""
    USER_CHANGE = "user_change"
    ROLE_CHANGE = "role_change"
    GRANT_CHANGE = "grant_change"
    CONFIG_CHANGE = "config_change"
    TOKEN_ISSUE = "token_issue"
    TOKEN_REVOKE = "token_revoke"
    FARM_CHANGE = "farm_change"
    """A farm enrolled in the register or its particulars edited (art. 5–6)."""
    FARM_STATE = "farm_state"
    """A decision on a farm's approval state (surveyed, approved, suspended, revoked...)."""
    FARM_DOCUMENT = "farm_document"
    """An application document added to a farm's record, or its file fetched."""


class AuditResult(StrEnum):
    OK = "ok"
    DENIED = "denied"
    """Refused by a rule: wrong password, locked account, no grant."""
    FAILED = "failed"
    """Allowed but it did not work (camera offline, device refused)."""


class ActorKind(StrEnum):
    USER = "user"
    TOKEN = "token"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who acted: a user (by ID and username), an API token (by ID and name) or the platform
    itself. `id` is None for the system and for a username that matched no account."""

    kind: ActorKind
    id: int | None
    name: str

    @classmethod
    def system(cls) -> AuditActor:
        return cls(ActorKind.SYSTEM, None, "system")

    @classmethod
    def user(cls, user_id: int | None, username: str) -> AuditActor:
        return cls(ActorKind.USER, user_id, username)

    @classmethod
    def token(cls, token_id: int, name: str) -> AuditActor:
        return cls(ActorKind.TOKEN, token_id, name)


@dataclass(frozen=True, slots=True)
class RecordedRange:
    """The recorded time a playback, download, clip or search was about."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """The content of one audit row, before it gets its place in the chain."""

    at: datetime
    actor: AuditActor
    action: AuditAction
    result: AuditResult = AuditResult.OK
    organisation_id: int | None = None
    channel_id: str | None = None
    recorded: RecordedRange | None = None
    source: str | None = None
    """The client's address (IP), or None for the platform's own actions."""
    detail: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored audit row: its ID (1, 2, 3, ... without gaps), content and chain hashes."""

    id: int
    entry: AuditEntry
    prev_hash: str
    row_hash: str
