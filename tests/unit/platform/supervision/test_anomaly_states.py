"""The anomaly's state machine (regulation art. 20–21): which steps exist, who may take
them, what each needs; overdue rectifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.errors import Conflict, InvalidInput, PermissionDenied
from farmwatch.platform.supervision.anomalies.states import (
    AnomalyState,
    Step,
    is_overdue,
    transition,
)

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
TOMORROW = NOW + timedelta(days=1)
S = AnomalyState


def order(by_administrator: bool = True, **changes: object) -> Step:
    values: dict[str, object] = {
        "wanted": S.RECTIFICATION_ORDERED, "by_administrator": by_administrator,
        "order": "  清理饲料库并登记  ", "deadline": TOMORROW,
    }  # fmt: skip
    values.update(changes)
    return Step(**values)  # type: ignore[arg-type]


def test_the_whole_road_to_a_case() -> None:
    step = transition(S.OPEN, order(), NOW)
    assert step.order == "清理饲料库并登记" and step.deadline == TOMORROW
    done = transition(S.RECTIFICATION_ORDERED, Step(S.RECTIFIED, False, " 已清理 "), NOW)
    assert done.remark == "已清理"
    again = transition(S.RECTIFIED, order(), NOW)
    assert again.wanted is S.RECTIFICATION_ORDERED
    case = transition(S.RECTIFICATION_ORDERED, Step(S.CASE_OPENED, True, case_number=" A-1 "),
                      NOW)  # fmt: skip
    assert case.case_number == "A-1"
    assert transition(S.CASE_OPENED, Step(S.CLOSED, True, "结案"), NOW).wanted is S.CLOSED


def test_rectified_then_closed() -> None:
    assert transition(S.RECTIFIED, Step(S.CLOSED, True, "验收合格"), NOW).wanted is S.CLOSED


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (S.OPEN, S.RECTIFIED),  # nothing was ordered
        (S.OPEN, S.OPEN),
        (S.RECTIFICATION_ORDERED, S.CLOSED),  # not before the farm reports it done
        (S.CASE_OPENED, S.RECTIFICATION_ORDERED),
        (S.CLOSED, S.OPEN),
        (S.CLOSED, S.CASE_OPENED),
    ],
)
def test_steps_that_do_not_exist_are_conflicts(current: AnomalyState, wanted: AnomalyState) -> None:
    step = Step(wanted, True, "x", order="o", deadline=TOMORROW, case_number="C")
    with pytest.raises(Conflict, match=f"cannot become {wanted.value}"):
        transition(current, step, NOW)


@given(st.sampled_from(list(AnomalyState)))
def test_a_closed_anomaly_never_moves(wanted: AnomalyState) -> None:
    with pytest.raises(Conflict):
        transition(S.CLOSED, Step(wanted, True, "x", "o", TOMORROW, "C"), NOW)


@pytest.mark.parametrize(
    ("current", "step"),
    [
        (S.OPEN, order(by_administrator=False)),
        (S.OPEN, Step(S.CASE_OPENED, False, case_number="C-1")),
        (S.OPEN, Step(S.CLOSED, False, "nothing")),
        (S.RECTIFIED, Step(S.CLOSED, False, "ok")),
    ],
)
def test_decisions_are_an_administrators(current: AnomalyState, step: Step) -> None:
    with pytest.raises(PermissionDenied, match="only an administrator"):
        transition(current, step, NOW)


def test_a_monitor_records_the_farms_report_of_its_rectification() -> None:
    step = transition(S.RECTIFICATION_ORDERED, Step(S.RECTIFIED, False, "已整改"), NOW)
    assert step.wanted is S.RECTIFIED


@pytest.mark.parametrize(
    ("current", "step", "message"),
    [
        (S.OPEN, order(order=" "), "order: required"),
        (S.OPEN, order(order="x" * 2049), "order: at most"),
        (S.OPEN, order(deadline=None), "deadline: required"),
        (S.OPEN, order(deadline=NOW - timedelta(seconds=1)), "deadline: must be in the future"),
        (S.OPEN, Step(S.CASE_OPENED, True, case_number=""), "case_number: required"),
        (S.OPEN, Step(S.CASE_OPENED, True, case_number="9" * 65), "case_number: at most"),
        (S.OPEN, Step(S.CLOSED, True, "  "), "remark: required"),
        (S.RECTIFICATION_ORDERED, Step(S.RECTIFIED, True, ""), "remark: required"),
        (S.OPEN, Step(S.CLOSED, True, "r" * 1025), "remark: at most"),
    ],
)
def test_what_each_step_needs(current: AnomalyState, step: Step, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        transition(current, step, NOW)


def test_overdue_is_an_ordered_rectification_past_its_deadline() -> None:
    past = NOW - timedelta(minutes=1)
    assert is_overdue(S.RECTIFICATION_ORDERED, past, NOW)
    assert not is_overdue(S.RECTIFICATION_ORDERED, TOMORROW, NOW)
    assert not is_overdue(S.RECTIFIED, past, NOW)  # reported done in time or not: not overdue
    assert not is_overdue(S.OPEN, None, NOW)


def test_states_have_chinese_labels() -> None:
    assert S.RECTIFICATION_ORDERED.zh == "整改中" and S.CASE_OPENED.zh == "已立案"
