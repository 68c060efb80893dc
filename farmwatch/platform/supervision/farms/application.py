"""What an administrator sends the register, checked before it is written: a farm's
application (enrolment) and an edit of its particulars. Pure: texts are trimmed and
bounded, the species' other words kept only with species other."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from farmwatch.platform.audit import JsonValue
from farmwatch.platform.cameras import UNCHANGED, Unchanged
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.farms.records import FarmParticulars, FarmRecord
from farmwatch.platform.supervision.farms.species import Species

__all__ = ["FarmApplication", "FarmEdit", "apply_edit", "changed_fields", "checked_text"]

_PHONE = re.compile(r"[0-9+()\- ]{3,32}")
LIMITS = {
    "name": 128, "filing_number": 64, "operator": 128, "phone": 32, "address": 256,
    "species_other": 64, "remark": 500,
}  # fmt: skip


def checked_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    """`value` trimmed (empty: None), or `InvalidInput` naming the field."""
    text = None if value is None else value.strip() or None
    if text is None:
        if required:
            raise InvalidInput(f"{name}: must not be empty")
        return None
    limit = LIMITS[name]
    if len(text) > limit or not text.replace("\n", " ").isprintable():
        raise InvalidInput(f"{name}: expected at most {limit} printable characters")
    if name == "phone" and not _PHONE.fullmatch(text):
        raise InvalidInput("phone: expected digits, spaces, +, - and ()")
    return text


def checked_particulars(particulars: FarmParticulars) -> FarmParticulars:
    species = particulars.species
    other = checked_text("species_other", particulars.species_other)
    if species is Species.OTHER and other is None:
        raise InvalidInput("species_other: say what the farm keeps when species is other")
    return FarmParticulars(
        checked_text("operator", particulars.operator),
        checked_text("phone", particulars.phone),
        checked_text("address", particulars.address),
        species,
        other if species is Species.OTHER else None,
    )


@dataclass(frozen=True, slots=True)
class FarmApplication:
    """A farm's written application (art. 5), as enrolled: it starts applied (申请),
    dated `applied_on` (None: today)."""

    name: str
    filing_number: str
    organisation_id: int
    particulars: FarmParticulars = FarmParticulars()
    applied_on: date | None = None
    remark: str | None = None

    def checked(self) -> FarmApplication:
        return replace(
            self,
            name=checked_text("name", self.name, required=True) or "",
            filing_number=checked_text("filing_number", self.filing_number, required=True) or "",
            particulars=checked_particulars(self.particulars),
            remark=checked_text("remark", self.remark),
        )


@dataclass(frozen=True, slots=True)
class FarmEdit:
    """A change of a farm's particulars: a field `UNCHANGED` keeps its value, None unsets
    it (name and filing number cannot be unset)."""

    name: str | Unchanged = UNCHANGED
    filing_number: str | Unchanged = UNCHANGED
    organisation_id: int | Unchanged = UNCHANGED
    operator: str | None | Unchanged = UNCHANGED
    phone: str | None | Unchanged = UNCHANGED
    address: str | None | Unchanged = UNCHANGED
    species: Species | None | Unchanged = UNCHANGED
    species_other: str | None | Unchanged = UNCHANGED


T = TypeVar("T")


def _kept(value: T | Unchanged, current: T) -> T:
    return current if isinstance(value, Unchanged) else value


def apply_edit(farm: FarmRecord, edit: FarmEdit) -> FarmRecord:
    """`farm` as `edit` changes it (checked), its state untouched."""
    old = farm.particulars
    particulars = FarmParticulars(
        _kept(edit.operator, old.operator),
        _kept(edit.phone, old.phone),
        _kept(edit.address, old.address),
        _kept(edit.species, old.species),
        _kept(edit.species_other, old.species_other),
    )
    name = checked_text("name", _kept(edit.name, farm.name), required=True)
    filing = checked_text(
        "filing_number", _kept(edit.filing_number, farm.filing_number), required=True
    )
    return replace(
        farm,
        name=name or "",
        filing_number=filing or "",
        organisation_id=_kept(edit.organisation_id, farm.organisation_id),
        particulars=checked_particulars(particulars),
    )


def changed_fields(before: FarmRecord, after: FarmRecord) -> dict[str, JsonValue]:
    """For the audit trail: each field that changed, as [before, after]."""
    changes: dict[str, JsonValue] = {}
    for name in ("name", "filing_number", "organisation_id"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            changes[name] = [old, new]
    for name in ("operator", "phone", "address", "species", "species_other"):
        old, new = getattr(before.particulars, name), getattr(after.particulars, name)
        if old != new:
            changes[name] = [None if old is None else str(old), None if new is None else str(new)]
    return changes
