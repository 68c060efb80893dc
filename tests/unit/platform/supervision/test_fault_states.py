"""The fault ticket's state machine: who may take which step, and which steps exist."""

from __future__ import annotations

import pytest

from farmwatch.platform.errors import PermissionDenied
from farmwatch.platform.supervision.faults.states import (
    PICTURE_KINDS,
    FaultActor,
    FaultKind,
    FaultState,
    IllegalTransition,
    check_transition,
    picture_kind,
)

S = FaultState
A = FaultActor


@pytest.mark.parametrize(
    ("source", "target", "actor"),
    [
        (S.OPEN, S.FARM_NOTIFIED, A.USER),
        (S.FARM_NOTIFIED, S.FIXED, A.USER),
        (S.OPEN, S.FIXED, A.USER),
        (S.FIXED, S.VERIFIED, A.ADMINISTRATOR),
        (S.FIXED, S.FARM_NOTIFIED, A.ADMINISTRATOR),
        (S.OPEN, S.CLOSED, A.SYSTEM),
        (S.FARM_NOTIFIED, S.CLOSED, A.SYSTEM),
        (S.FIXED, S.CLOSED, A.ADMINISTRATOR),
    ],
)
def test_the_allowed_steps_pass(source: FaultState, target: FaultState, actor: FaultActor) -> None:
    check_transition(source, target, actor)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.OPEN, S.VERIFIED),
        (S.OPEN, S.OPEN),
        (S.FARM_NOTIFIED, S.OPEN),
        (S.FARM_NOTIFIED, S.VERIFIED),
        (S.VERIFIED, S.OPEN),
        (S.VERIFIED, S.CLOSED),
        (S.CLOSED, S.OPEN),
        (S.CLOSED, S.FARM_NOTIFIED),
    ],
)
def test_steps_that_do_not_exist_are_a_conflict_for_everyone(
    source: FaultState, target: FaultState
) -> None:
    for actor in FaultActor:
        with pytest.raises(IllegalTransition) as raised:
            check_transition(source, target, actor)
        assert source.value in str(raised.value)


@pytest.mark.parametrize(
    ("source", "target"),
    [(S.FIXED, S.VERIFIED), (S.FIXED, S.FARM_NOTIFIED), (S.OPEN, S.CLOSED)],
)
def test_verifying_sending_back_and_closing_by_hand_are_for_administrators(
    source: FaultState, target: FaultState
) -> None:
    with pytest.raises(PermissionDenied, match="administrator"):
        check_transition(source, target, A.USER)


def test_finished_states_are_not_open_and_only_unfixed_ones_await_the_farm() -> None:
    assert {s for s in S if s.is_open} == {S.OPEN, S.FARM_NOTIFIED, S.FIXED}
    assert {s for s in S if s.awaits_farm} == {S.OPEN, S.FARM_NOTIFIED}


class _DiagnosisKind:
    """Another module's enum member: only its `value` is read."""

    def __init__(self, value: str) -> None:
        self.value = value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("black", FaultKind.BLACK),
        ("OVEREXPOSED", FaultKind.OVEREXPOSED),
        ("frozen", FaultKind.FROZEN),
        ("blurred", FaultKind.BLURRED),
        ("low-contrast", FaultKind.LOW_CONTRAST),
        ("color_cast", FaultKind.COLOUR_CAST),
        ("colour_cast", FaultKind.COLOUR_CAST),
        ("offline", None),
        ("snow", None),
    ],
)
def test_the_diagnosis_names_map_to_picture_kinds(text: str, expected: FaultKind | None) -> None:
    assert picture_kind(text) is expected
    assert picture_kind(_DiagnosisKind(text)) is expected  # type: ignore[arg-type]


def test_every_picture_kind_maps_from_its_own_value() -> None:
    assert {picture_kind(kind.value) for kind in PICTURE_KINDS} == PICTURE_KINDS
