"""The farm register as its repository hands it out (regulation art. 5–6): a farm's
particulars and approval state, each decision on that state, the application documents,
the farm's cameras. Frozen values; no SQLAlchemy rows. Times are aware UTC, decision dates
are the platform's local dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from farmwatch.platform.cameras import CameraPlace
from farmwatch.platform.supervision.farms.approval import ApprovalState
from farmwatch.platform.supervision.farms.species import Species

__all__ = [
    "FarmCamera",
    "FarmDocument",
    "FarmFilter",
    "FarmParticulars",
    "FarmRecord",
    "NewDocument",
    "StateChange",
]


@dataclass(frozen=True, slots=True)
class FarmParticulars:
    """What the application says of a farm: who runs it, how to reach them, where it is,
    what it keeps. `species_other` is the operator's own words when `species` is other."""

    operator: str | None = None
    phone: str | None = None
    address: str | None = None
    species: Species | None = None
    species_other: str | None = None


@dataclass(frozen=True, slots=True)
class FarmRecord:
    """A farm of the register; `filing_number` is its 备案编号."""

    id: int
    name: str
    filing_number: str
    organisation_id: int
    particulars: FarmParticulars
    state: ApprovalState
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StateChange:
    """One decision on a farm's approval state; `from_state` None for its enrolment."""

    id: int
    farm_id: int
    from_state: ApprovalState | None
    to_state: ApprovalState
    decided_on: date
    officer_id: int | None
    officer_name: str
    remark: str | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document as uploaded and stored, before it has its row."""

    file_name: str
    content_type: str
    size: int
    sha256: str
    remark: str | None = None
    supersedes_id: int | None = None


@dataclass(frozen=True, slots=True)
class FarmDocument:
    """An application document on record: its original name and type, size and SHA-256,
    who uploaded it when, and which earlier document it supersedes."""

    id: int
    farm_id: int
    file_name: str
    content_type: str
    size: int
    sha256: str
    remark: str | None
    supersedes_id: int | None
    uploaded_by: int | None
    uploaded_by_name: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class FarmFilter:
    """Which farms a list holds: in a state, of an organisation, whose name or filing
    number contains `text`."""

    state: ApprovalState | None = None
    organisation_id: int | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class FarmCamera:
    """A camera of a farm (through the device placed on it), where it looks and what it is."""

    channel_id: str
    device_id: str
    name: str | None
    is_online: bool
    place: CameraPlace | None
