"""Monitoring records (监控记录; regulation art. 18: supervision "in real time or by
playback", with "the corresponding work records"): what a monitor saw on one camera, point
by point of its key area's checklist, signed and timed.

Pure values and the validation of what a monitor submits: no I/O, no clock. A record is
never changed; a correction is a new record naming the one it corrects (`corrects_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.checklists import Checklist

__all__ = [
    "MAX_REMARK",
    "Answer",
    "MonitoringDraft",
    "MonitoringFilter",
    "MonitoringRecord",
    "Outcome",
    "PointAnswer",
    "Signature",
    "Snapshot",
    "ViewMode",
    "outcome_of",
    "read_answers",
    "read_remark",
]

MAX_REMARK = 1000
"""Characters of a remark (a point's or the record's)."""


class ViewMode(StrEnum):
    """What the monitor was watching (art. 18: 实时或回放)."""

    LIVE = "live"
    PLAYBACK = "playback"

    @property
    def label_zh(self) -> str:
        return "实时" if self is ViewMode.LIVE else "回放"


class Answer(StrEnum):
    COMPLIANT = "compliant"
    NOT_COMPLIANT = "not_compliant"
    NOT_VISIBLE = "not_visible"
    """The picture did not show it (camera angle, darkness, nobody at work)."""

    @property
    def label_zh(self) -> str:
        return _ANSWER_ZH[self.value]


class Outcome(StrEnum):
    """A record as a whole: any point not compliant makes it not compliant; else any point
    not visible makes it not visible; else compliant."""

    COMPLIANT = "compliant"
    NOT_COMPLIANT = "not_compliant"
    NOT_VISIBLE = "not_visible"

    @property
    def label_zh(self) -> str:
        return _ANSWER_ZH[self.value]


_ANSWER_ZH = {"compliant": "符合", "not_compliant": "不符合", "not_visible": "无法看清"}


@dataclass(frozen=True, slots=True)
class PointAnswer:
    point_id: str
    answer: Answer
    remark: str = ""


@dataclass(frozen=True, slots=True)
class Signature:
    """Who signed the record and when (the server's clock, not the browser's)."""

    user_id: int | None
    username: str
    display_name: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The picture taken when the record was made: its SHA-256 (the file's name), or why
    there is none."""

    sha256: str | None
    missing_reason: str | None = None


@dataclass(frozen=True, slots=True)
class MonitoringDraft:
    """What the monitor submitted, before its answers are checked against the camera's
    checklist (`read_answers`) and it is signed."""

    mode: ViewMode
    recorded_at: datetime | None
    """For playback: the position watched; None for live (the server's now)."""
    answers: Mapping[str, object]
    remark: str = ""
    corrects_id: int | None = None
    playback_session: str | None = None
    """For playback: the caller's playback session, whose picture is the snapshot."""


@dataclass(frozen=True, slots=True)
class MonitoringRecord:
    id: int
    channel_id: str
    device_id: str
    farm_id: int
    organisation_id: int
    key_area: KeyArea
    mode: ViewMode
    recorded_at: datetime
    answers: tuple[PointAnswer, ...]
    remark: str
    outcome: Outcome
    snapshot: Snapshot
    signature: Signature
    corrects_id: int | None = None


@dataclass(frozen=True, slots=True)
class MonitoringFilter:
    """`GET /api/monitoring-records` filters (None: any)."""

    farm_id: int | None = None
    channel_id: str | None = None
    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    """Both on `recorded_at`: `since` inclusive, `until` exclusive."""
    outcome: Outcome | None = None


def outcome_of(answers: tuple[PointAnswer, ...]) -> Outcome:
    given = {answer.answer for answer in answers}
    if Answer.NOT_COMPLIANT in given:
        return Outcome.NOT_COMPLIANT
    if Answer.NOT_VISIBLE in given:
        return Outcome.NOT_VISIBLE
    return Outcome.COMPLIANT


def _remark(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected text, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_REMARK:
        raise InvalidInput(f"{name}: at most {MAX_REMARK} characters, got {len(text)}")
    return text


def read_answers(checklist: Checklist, given: Mapping[str, object]) -> tuple[PointAnswer, ...]:
    """The answers to every point of `checklist`, from `{point_id: {"answer", "remark"?}}`
    (or `{point_id: "compliant"}`); `InvalidInput` naming unknown, unanswered or badly
    answered points. Answers come back in the checklist's order."""
    unknown = sorted(key for key in given if checklist.point(key) is None)
    if unknown:
        raise InvalidInput(
            f"answers: {', '.join(unknown)[:300]} not on the {checklist.area.value} checklist"
        )
    missing = [point_id for point_id in checklist.point_ids if point_id not in given]
    if missing:
        raise InvalidInput(f"answers: every point must be answered; missing {', '.join(missing)}")
    answers: list[PointAnswer] = []
    for point_id in checklist.point_ids:
        value = given[point_id]
        remark: object = None
        if isinstance(value, Mapping):
            remark = value.get("remark")
            value = value.get("answer")
        try:
            answer = Answer(value) if isinstance(value, str) else None
        except ValueError:
            answer = None
        if answer is None:
            raise InvalidInput(
                f"answers.{point_id}: expected compliant, not_compliant or not_visible, "
                f"got {str(value)[:40]!r}"
            )
        answers.append(PointAnswer(point_id, answer, _remark(remark, f"{point_id} remark")))
    return tuple(answers)


def read_remark(value: object) -> str:
    return _remark(value, "remark")
