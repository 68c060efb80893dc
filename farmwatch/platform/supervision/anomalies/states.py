"""The anomaly's life (regulation art. 20–21), as a pure state machine: no clock, no I/O.

An anomaly (异常) is opened when someone reports it. An administrator orders its
rectification (整改, with the order's text and a deadline); the farm reports it rectified
(整改完成) and an administrator closes it, or orders again when not satisfied. At any point
before it closes an administrator may escalate it to a case (立案, with a unique case
number), which is closed in turn. An open anomaly may also be closed at once (nothing found).

`transition` says whether a step is allowed and what it needs; the service records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from farmwatch.platform.errors import Conflict, InvalidInput, PermissionDenied

__all__ = [
    "MAX_CASE_NUMBER",
    "MAX_ORDER",
    "MAX_REMARK",
    "AnomalyState",
    "EvidenceState",
    "Step",
    "is_overdue",
    "transition",
]

MAX_REMARK = 1024
MAX_ORDER = 2048
MAX_CASE_NUMBER = 64


class AnomalyState(StrEnum):
    OPEN = "open"
    """Reported (异常), nothing decided yet."""
    RECTIFICATION_ORDERED = "rectification_ordered"
    """An administrator ordered its rectification (整改) with a deadline."""
    RECTIFIED = "rectified"
    """The farm reported the rectification done (整改完成), awaiting acceptance."""
    CASE_OPENED = "case_opened"
    """Escalated to a case (立案) with a case number."""
    CLOSED = "closed"

    @property
    def zh(self) -> str:
        return _ZH[self]


_ZH = {
    AnomalyState.OPEN: "待处理",
    AnomalyState.RECTIFICATION_ORDERED: "整改中",
    AnomalyState.RECTIFIED: "已整改",
    AnomalyState.CASE_OPENED: "已立案",
    AnomalyState.CLOSED: "已关闭",
}


class EvidenceState(StrEnum):
    """The evidence clip taken when the anomaly was reported."""

    PENDING = "pending"
    """Waiting for the video after the moment to exist, or being cut."""
    SAVED = "saved"
    FAILED = "failed"


_ALLOWED: dict[AnomalyState, frozenset[AnomalyState]] = {
    AnomalyState.OPEN: frozenset({
        AnomalyState.RECTIFICATION_ORDERED, AnomalyState.CASE_OPENED, AnomalyState.CLOSED,
    }),
    AnomalyState.RECTIFICATION_ORDERED: frozenset({
        AnomalyState.RECTIFIED, AnomalyState.CASE_OPENED,
    }),
    AnomalyState.RECTIFIED: frozenset({
        AnomalyState.RECTIFICATION_ORDERED, AnomalyState.CASE_OPENED, AnomalyState.CLOSED,
    }),
    AnomalyState.CASE_OPENED: frozenset({AnomalyState.CLOSED}),
    AnomalyState.CLOSED: frozenset(),
}  # fmt: skip

# Only reporting the rectification done is the farm's word, which a monitor records;
# every decision is an administrator's (art. 20).
_ANYONE_MAY = frozenset({AnomalyState.RECTIFIED})


@dataclass(frozen=True, slots=True)
class Step:
    """A change of state asked for: by an administrator or not, with what it carries."""

    wanted: AnomalyState
    by_administrator: bool
    remark: str = ""
    order: str | None = None
    deadline: datetime | None = None
    case_number: str | None = None


def _text(name: str, value: str | None, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{name}: required")
    if len(text) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters")
    return text


def transition(current: AnomalyState, step: Step, now: datetime) -> Step:
    """`step` checked against `current` (raises `Conflict`, `PermissionDenied` or
    `InvalidInput`); the step with its texts trimmed."""
    if step.wanted not in _ALLOWED[current]:
        allowed = ", ".join(sorted(state.value for state in _ALLOWED[current])) or "none"
        raise Conflict(
            f"an anomaly that is {current.value} cannot become {step.wanted.value} "
            f"(allowed: {allowed})"
        )
    if not step.by_administrator and step.wanted not in _ANYONE_MAY:
        raise PermissionDenied(f"only an administrator may make an anomaly {step.wanted.value}")
    if len(step.remark) > MAX_REMARK:
        raise InvalidInput(f"remark: at most {MAX_REMARK} characters")
    remark = step.remark.strip()
    order, deadline, case_number = None, None, None
    if step.wanted is AnomalyState.RECTIFICATION_ORDERED:
        order = _text("order", step.order, MAX_ORDER)
        if step.deadline is None:
            raise InvalidInput("deadline: required")
        if step.deadline <= now:
            raise InvalidInput("deadline: must be in the future")
        deadline = step.deadline
    elif step.wanted is AnomalyState.CASE_OPENED:
        case_number = _text("case_number", step.case_number, MAX_CASE_NUMBER)
    elif step.wanted in (AnomalyState.CLOSED, AnomalyState.RECTIFIED):
        _text("remark", remark, MAX_REMARK)  # say why it is closed, or what was done
    return Step(step.wanted, step.by_administrator, remark, order, deadline, case_number)


def is_overdue(state: AnomalyState, deadline: datetime | None, now: datetime) -> bool:
    """A rectification ordered whose deadline passed without the farm reporting it done."""
    return state is AnomalyState.RECTIFICATION_ORDERED and deadline is not None and deadline < now
