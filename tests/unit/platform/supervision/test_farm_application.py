"""What an administrator sends the farm register is checked before it is written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.farms import (
    ApprovalState,
    FarmApplication,
    FarmEdit,
    FarmParticulars,
    FarmRecord,
    Species,
)
from farmwatch.platform.supervision.farms.application import apply_edit, changed_fields

FARM = FarmRecord(
    7, "一号猪场", "GZ-0001", 3,
    FarmParticulars("张三", "020-1234", "广州市番禺区", Species.OTHER, "鸵鸟"),
    ApprovalState.APPROVED, datetime(2026, 1, 1, tzinfo=UTC),
)  # fmt: skip


def test_an_application_is_trimmed_and_bounded() -> None:
    checked = FarmApplication(
        " 一号猪场 ", " GZ-0001 ", 3, FarmParticulars(" 张三 ", "", None, Species.PIG, "ignored")
    ).checked()
    assert (checked.name, checked.filing_number) == ("一号猪场", "GZ-0001")
    assert checked.particulars == FarmParticulars("张三", None, None, Species.PIG, None)
    for bad, why in (
        (FarmApplication(" ", "X", 1), "name: must not be empty"),
        (FarmApplication("n", "", 1), "filing_number: must not be empty"),
        (FarmApplication("n", "x" * 65, 1), "filing_number: expected at most 64"),
        (FarmApplication("n", "x", 1, FarmParticulars(phone="call me")), "phone: expected digits"),
        (FarmApplication("n", "x", 1, FarmParticulars(species=Species.OTHER)), "species_other"),
        (FarmApplication("n", "x", 1, remark="\x00"), "remark: expected at most 500 printable"),
    ):
        with pytest.raises(InvalidInput, match=why):
            bad.checked()


def test_an_edit_changes_only_what_it_names_and_never_the_state() -> None:
    edited = apply_edit(FARM, FarmEdit(phone=None, species=Species.SHEEP, name="一号羊场"))
    assert edited.state is ApprovalState.APPROVED and edited.filing_number == "GZ-0001"
    assert edited.particulars == FarmParticulars("张三", None, "广州市番禺区", Species.SHEEP, None)
    assert changed_fields(FARM, edited) == {
        "name": ["一号猪场", "一号羊场"], "phone": ["020-1234", None],
        "species": ["other", "sheep"], "species_other": ["鸵鸟", None],
    }  # fmt: skip
    assert changed_fields(FARM, apply_edit(FARM, FarmEdit())) == {}
    with pytest.raises(InvalidInput, match="name: must not be empty"):
        apply_edit(FARM, FarmEdit(name="  "))
