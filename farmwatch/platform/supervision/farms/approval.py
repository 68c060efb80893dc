"""A farm's approval state and the decisions that move it (regulation art. 5: the owner or
operator applies in writing, the authority examines the application, surveys the farm on
site, then approves its filing).

    applied (申请) → surveyed (考核) → approved (备案)
    approved → suspended (暂停) → approved (恢复)
    any state but revoked → revoked (撤销), which is final

Pure: the table of allowed moves and the checks of one decision (its state and its date),
no I/O and no clock; the caller passes today's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from farmwatch.platform.errors import Conflict, InvalidInput

__all__ = [
    "TRANSITIONS",
    "ApprovalState",
    "Decision",
    "IllegalTransition",
    "check_decision",
]


class ApprovalState(StrEnum):
    APPLIED = "applied"
    SURVEYED = "surveyed"
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REVOKED = "revoked"

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]

    @property
    def label_en(self) -> str:
        return _LABELS_EN[self]

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self]


_LABELS_ZH = {
    ApprovalState.APPLIED: "申请",
    ApprovalState.SURVEYED: "考核",
    ApprovalState.APPROVED: "备案",
    ApprovalState.SUSPENDED: "暂停",
    ApprovalState.REVOKED: "撤销",
}
_LABELS_EN = {
    ApprovalState.APPLIED: "Applied",
    ApprovalState.SURVEYED: "Surveyed",
    ApprovalState.APPROVED: "Approved",
    ApprovalState.SUSPENDED: "Suspended",
    ApprovalState.REVOKED: "Revoked",
}

TRANSITIONS: dict[ApprovalState, frozenset[ApprovalState]] = {
    ApprovalState.APPLIED: frozenset({ApprovalState.SURVEYED, ApprovalState.REVOKED}),
    ApprovalState.SURVEYED: frozenset({ApprovalState.APPROVED, ApprovalState.REVOKED}),
    ApprovalState.APPROVED: frozenset({ApprovalState.SUSPENDED, ApprovalState.REVOKED}),
    ApprovalState.SUSPENDED: frozenset({ApprovalState.APPROVED, ApprovalState.REVOKED}),
    ApprovalState.REVOKED: frozenset(),
}
"""From each state, the states a decision may move a farm to."""


class IllegalTransition(Conflict):
    """409: the decision does not follow from the farm's state."""

    def __init__(self, current: ApprovalState, wanted: ApprovalState) -> None:
        allowed = sorted(TRANSITIONS[current])
        if not allowed:
            hint = f"{current.value} ({current.label_zh}) is final"
        else:
            hint = "from it: " + ", ".join(f"{s.value} ({s.label_zh})" for s in allowed)
        super().__init__(
            f"a farm {current.value} ({current.label_zh}) cannot become "
            f"{wanted.value} ({wanted.label_zh}); {hint}"
        )
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision as checked: the farm goes `from_state` → `to_state` on `decided_on`."""

    from_state: ApprovalState
    to_state: ApprovalState
    decided_on: date


def check_decision(
    current: ApprovalState,
    wanted: ApprovalState,
    decided_on: date,
    *,
    today: date,
    last_decided_on: date | None,
) -> Decision:
    """The decision to move a farm in `current` to `wanted`, dated `decided_on`.

    `IllegalTransition` (409) when the table does not allow it; `InvalidInput` (400) for a
    date after `today` or before the farm's previous decision (the history reads in order).
    """
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)
    if decided_on > today:
        raise InvalidInput(f"date: {decided_on.isoformat()} is in the future")
    if last_decided_on is not None and decided_on < last_decided_on:
        raise InvalidInput(
            f"date: {decided_on.isoformat()} is before the farm's previous decision "
            f"({last_decided_on.isoformat()})"
        )
    return Decision(current, wanted, decided_on)
