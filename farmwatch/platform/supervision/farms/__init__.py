"""The farm register (regulation art. 5–6; issue 11 item 1): each farm's filing number,
name, operator, contact, address, species and approval state with the history of its
decisions, its application documents (kept under their SHA-256) and its cameras."""

from farmwatch.platform.supervision.farms.application import FarmApplication, FarmEdit
from farmwatch.platform.supervision.farms.approval import (
    TRANSITIONS,
    ApprovalState,
    Decision,
    IllegalTransition,
    check_decision,
)
from farmwatch.platform.supervision.farms.document_store import DocumentStore, StoredFile
from farmwatch.platform.supervision.farms.farm_cameras import FarmCameras
from farmwatch.platform.supervision.farms.flags import FarmFlag, FarmFlags, FlagKind, NoFarmFlags
from farmwatch.platform.supervision.farms.records import (
    FarmCamera,
    FarmDocument,
    FarmFilter,
    FarmParticulars,
    FarmRecord,
    NewDocument,
    StateChange,
)
from farmwatch.platform.supervision.farms.register import (
    DocumentCheck,
    FarmDetails,
    FarmRegister,
    Upload,
)
from farmwatch.platform.supervision.farms.repository import FarmRegisterRepository, Officer
from farmwatch.platform.supervision.farms.species import Species

__all__ = [
    "TRANSITIONS",
    "ApprovalState",
    "Decision",
    "DocumentCheck",
    "DocumentStore",
    "FarmApplication",
    "FarmCamera",
    "FarmCameras",
    "FarmDetails",
    "FarmDocument",
    "FarmEdit",
    "FarmFilter",
    "FarmFlag",
    "FarmFlags",
    "FarmParticulars",
    "FarmRecord",
    "FarmRegister",
    "FarmRegisterRepository",
    "FlagKind",
    "IllegalTransition",
    "NewDocument",
    "NoFarmFlags",
    "Officer",
    "Species",
    "StateChange",
    "StoredFile",
    "Upload",
    "check_decision",
]
