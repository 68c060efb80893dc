"""The approval state machine of the farm register (regulation art. 5): every pair of
states either is a move the table allows or is refused with a 409 that says why."""

from __future__ import annotations

from datetime import date

import pytest

from farmwatch.platform.errors import Conflict, InvalidInput
from farmwatch.platform.supervision.farms import (
    ApprovalState,
    IllegalTransition,
    check_decision,
)

A, S, P, U, R = (
    ApprovalState.APPLIED,
    ApprovalState.SURVEYED,
    ApprovalState.APPROVED,
    ApprovalState.SUSPENDED,
    ApprovalState.REVOKED,
)
TODAY = date(2026, 12, 5)
ALLOWED = {(A, S), (S, P), (P, U), (U, P), (A, R), (S, R), (P, R), (U, R)}


@pytest.mark.parametrize("current", list(ApprovalState))
@pytest.mark.parametrize("wanted", list(ApprovalState))
def test_each_move_is_allowed_exactly_as_the_regulation_reads(
    current: ApprovalState, wanted: ApprovalState
) -> None:
    if (current, wanted) in ALLOWED:
        decision = check_decision(current, wanted, TODAY, today=TODAY, last_decided_on=None)
        assert (decision.from_state, decision.to_state, decision.decided_on) == (
            current, wanted, TODAY,
        )  # fmt: skip
    else:
        with pytest.raises(IllegalTransition) as refused:
            check_decision(current, wanted, TODAY, today=TODAY, last_decided_on=None)
        assert isinstance(refused.value, Conflict)  # a 409 at the API
        assert f"a farm {current.value} ({current.label_zh}) cannot become {wanted.value}" in str(
            refused.value
        )


def test_the_whole_life_of_a_farm() -> None:
    state, day = A, date(2026, 1, 1)
    for wanted in (S, P, U, P, R):
        state = check_decision(state, wanted, day, today=TODAY, last_decided_on=day).to_state
    assert state is R and R.is_final


def test_revoked_is_final_and_says_so() -> None:
    with pytest.raises(IllegalTransition, match=r"revoked \(撤销\) is final"):
        check_decision(R, P, TODAY, today=TODAY, last_decided_on=None)


def test_a_refusal_names_the_moves_that_would_do() -> None:
    with pytest.raises(IllegalTransition, match=r"from it: revoked \(撤销\), surveyed \(考核\)"):
        check_decision(A, P, TODAY, today=TODAY, last_decided_on=None)


def test_a_decision_is_not_dated_in_the_future_nor_before_the_last_one() -> None:
    with pytest.raises(InvalidInput, match="2026-12-06 is in the future"):
        check_decision(A, S, date(2026, 12, 6), today=TODAY, last_decided_on=None)
    with pytest.raises(InvalidInput, match=r"before the farm's previous decision \(2026-11-02\)"):
        check_decision(A, S, date(2026, 11, 1), today=TODAY, last_decided_on=date(2026, 11, 2))
    same_day = check_decision(
        A, S, date(2026, 11, 2), today=TODAY, last_decided_on=date(2026, 11, 2)
    )
    assert same_day.decided_on == date(2026, 11, 2)


def test_the_labels_are_the_regulations_terms() -> None:
    assert [state.label_zh for state in ApprovalState] == ["申请", "考核", "备案", "暂停", "撤销"]
