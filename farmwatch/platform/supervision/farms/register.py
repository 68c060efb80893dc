"""The farm register (regulation art. 5–6; issue 11 item 1): enrol a farm on its written
application, edit its particulars, record each decision on its approval state, keep its
application documents, list its cameras.

Who may reach which farm is the access gate's answer (`AccessGate.farm`, checked by the web
layer for every `{farm_id}` path; lists filtered by `visible_farms`). Changes are made by a
person administrator of the farm's organisation or one above it, checked again here, and
each leaves an audit row (`farm_change`, `farm_state`, `farm_document`) naming the farm.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from farmwatch.platform.access import (
    AccessServices,
    Principal,
    PrincipalKind,
    Role,
    can_manage,
    principal_actor,
)
from farmwatch.platform.audit import AuditAction, AuditLog, JsonValue
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from farmwatch.platform.supervision.farms.application import (
    FarmApplication,
    FarmEdit,
    apply_edit,
    changed_fields,
    checked_text,
)
from farmwatch.platform.supervision.farms.approval import ApprovalState, check_decision
from farmwatch.platform.supervision.farms.document_store import DocumentStore
from farmwatch.platform.supervision.farms.farm_cameras import FarmCameras
from farmwatch.platform.supervision.farms.flags import FarmFlag, FarmFlags
from farmwatch.platform.supervision.farms.records import (
    FarmCamera,
    FarmDocument,
    FarmFilter,
    FarmRecord,
    NewDocument,
    StateChange,
)
from farmwatch.platform.supervision.farms.repository import FarmRegisterRepository, Officer

__all__ = ["DocumentCheck", "FarmDetails", "FarmRegister", "Upload"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_FILE_NAME = 255
MAX_CONTENT_TYPE = 127
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FarmDetails:
    """A farm with its history (oldest first), documents and flags."""

    farm: FarmRecord
    history: list[StateChange]
    documents: list[FarmDocument]
    flags: list[FarmFlag]


@dataclass(frozen=True, slots=True)
class Upload:
    """A document being uploaded: what the browser said of it, and its bytes."""

    file_name: str
    content_type: str
    chunks: AsyncIterable[bytes]
    remark: str | None = None
    supersedes_id: int | None = None


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """A document's file hashed again: `actual` None when the file is gone."""

    document: FarmDocument
    actual: str | None

    @property
    def is_valid(self) -> bool:
        return self.actual == self.document.sha256


def _officer(principal: Principal) -> Officer:
    return Officer(principal.user_id, principal.name)


def _clean_file_name(name: str) -> str:
    """The name as the user gave it, for display and the download's header only (the file
    itself is stored under its hash): its last path part, printable, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(char for char in base if char.isprintable())[:MAX_FILE_NAME]
    return base or "document"


def _clean_content_type(text: str) -> str:
    """The media type as the browser gave it (`type/subtype`, parameters dropped), or
    application/octet-stream when it is not one."""
    media = text.split(";", 1)[0].strip().lower()
    if len(media) > MAX_CONTENT_TYPE or not _MEDIA_TYPE.fullmatch(media):
        return "application/octet-stream"
    return media


class FarmRegister:
    def __init__(
        self,
        repository: FarmRegisterRepository,
        documents: DocumentStore,
        cameras: FarmCameras,
        access: AccessServices,
        audit: AuditLog,
        flags: FarmFlags,
        *,
        zone: ZoneInfo,
        clock: Clock = _utc_now,
    ) -> None:
        self._repository = repository
        self._documents = documents
        self._cameras = cameras
        self._access = access
        self._audit = audit
        self._flags = flags
        self._zone = zone
        self._clock = clock

    @property
    def max_document_bytes(self) -> int:
        return self._documents.max_bytes

    # -- reading -------------------------------------------------------------------------

    async def farms(self, principal: Principal, wanted: FarmFilter) -> list[FarmRecord]:
        """The farms `principal` may see that `wanted` describes."""
        visible = await self._access.gate.visible_farms(principal)
        return await self._repository.farms(wanted, visible)

    async def farm(self, farm_id: int) -> FarmRecord:
        farm = await self._repository.farm(farm_id)
        if farm is None:
            raise NotFound(f"no farm {farm_id}")
        return farm

    async def details(self, farm_id: int) -> FarmDetails:
        farm = await self.farm(farm_id)
        return FarmDetails(
            farm,
            await self._repository.history(farm_id),
            await self._repository.documents(farm_id),
            await self._flags.flags(farm_id),
        )

    async def cameras(self, principal: Principal, farm_id: int) -> list[FarmCamera]:
        """The farm's cameras that `principal` may see."""
        await self.farm(farm_id)
        visibility = await self._access.gate.visibility(principal)
        return await self._cameras.cameras(farm_id, visibility.cameras)

    # -- changes -------------------------------------------------------------------------

    async def enrol(
        self, admin: Principal, application: FarmApplication, *, source: str | None
    ) -> FarmDetails:
        """Enrol a farm on its application: state applied, first history row."""
        await self._reach(admin, application.organisation_id)
        checked = application.checked()
        today = self._today()
        applied_on = checked.applied_on or today
        if applied_on > today:
            raise InvalidInput(f"applied_on: {applied_on.isoformat()} is in the future")
        farm, change = await self._repository.enrol(
            checked.name, checked.filing_number, checked.organisation_id, checked.particulars,
            applied_on=applied_on, officer=_officer(admin), remark=checked.remark,
            at=self._clock(),
        )  # fmt: skip
        log.info("farm %s (%s) enrolled by %s", farm.id, farm.filing_number, admin.name)
        await self._record(
            AuditAction.FARM_CHANGE, admin, farm, source,
            {"change": "enrolled", "name": farm.name, "filing_number": farm.filing_number,
             "applied_on": applied_on.isoformat()},
        )  # fmt: skip
        return FarmDetails(farm, [change], [], [])

    async def edit(
        self, admin: Principal, farm_id: int, edit: FarmEdit, *, source: str | None
    ) -> FarmRecord:
        """Change a farm's particulars (a move to another organisation: both in reach)."""
        before = await self.farm(farm_id)
        await self._reach(admin, before.organisation_id)
        after = apply_edit(before, edit)
        if after.organisation_id != before.organisation_id:
            await self._reach(admin, after.organisation_id)
        changes = changed_fields(before, after)
        if not changes:
            return before
        farm = await self._repository.update(after)
        log.info("farm %s edited by %s: %s", farm_id, admin.name, ", ".join(changes))
        detail: dict[str, JsonValue] = {"change": "edited", "fields": changes}
        await self._record(AuditAction.FARM_CHANGE, admin, farm, source, detail)
        return farm

    async def decide(
        self,
        admin: Principal,
        farm_id: int,
        wanted: ApprovalState,
        *,
        decided_on: date | None,
        remark: str | None,
        source: str | None,
    ) -> StateChange:
        """Record a decision on the farm's approval state (409 when it does not follow)."""
        farm = await self.farm(farm_id)
        await self._reach(admin, farm.organisation_id)
        history = await self._repository.history(farm_id)
        today = self._today()
        decision = check_decision(
            farm.state, wanted, decided_on or today, today=today,
            last_decided_on=history[-1].decided_on if history else None,
        )  # fmt: skip
        change = await self._repository.change_state(
            farm_id, decision, officer=_officer(admin), remark=checked_text("remark", remark),
            at=self._clock(),
        )  # fmt: skip
        log.info(
            "farm %s %s -> %s by %s", farm_id, decision.from_state, decision.to_state, admin.name
        )
        await self._record(
            AuditAction.FARM_STATE, admin, farm, source,
            {"from": decision.from_state.value, "to": decision.to_state.value,
             "decided_on": decision.decided_on.isoformat(), "remark": change.remark},
        )  # fmt: skip
        return change

    # -- documents -----------------------------------------------------------------------

    async def add_document(
        self, admin: Principal, farm_id: int, upload: Upload, *, source: str | None
    ) -> FarmDocument:
        """Store an uploaded document on the farm's record (never deleted; a newer one may
        supersede it)."""
        farm = await self.farm(farm_id)
        await self._reach(admin, farm.organisation_id)
        content_type = _clean_content_type(upload.content_type)
        remark = checked_text("remark", upload.remark)
        stored = await self._documents.store(upload.chunks)
        document = await self._repository.add_document(
            farm_id,
            NewDocument(
                _clean_file_name(upload.file_name),
                content_type,
                stored.size,
                stored.sha256,
                remark,
                upload.supersedes_id,
            ),  # fmt: skip
            officer=_officer(admin),
            at=self._clock(),
        )
        log.info("farm %s: document %s (%s) added", farm_id, document.id, document.sha256)
        await self._record(
            AuditAction.FARM_DOCUMENT, admin, farm, source,
            {"change": "added", "document_id": document.id, "file_name": document.file_name,
             "sha256": document.sha256, "size": document.size,
             "supersedes_id": document.supersedes_id},
        )  # fmt: skip
        return document

    async def documents(self, farm_id: int) -> list[FarmDocument]:
        await self.farm(farm_id)
        return await self._repository.documents(farm_id)

    async def document(self, farm_id: int, document_id: int) -> FarmDocument:
        document = await self._repository.document(document_id)
        if document is None or document.farm_id != farm_id:
            raise NotFound(f"farm {farm_id} has no document {document_id}")
        return document

    async def document_file(self, farm_id: int, document_id: int) -> tuple[FarmDocument, Path]:
        """The document and its file; `Conflict` when the file is missing from storage."""
        document = await self.document(farm_id, document_id)
        if not await self._documents.exists(document.sha256):
            log.error("farm %s: document %s's file is missing", farm_id, document_id)
            raise Conflict(f"the file of document {document_id} is missing from storage")
        return document, self._documents.path(document.sha256)

    async def verify(self, farm_id: int, document_id: int) -> DocumentCheck:
        """Hash the document's file again and compare it with the hash on record."""
        document = await self.document(farm_id, document_id)
        check = DocumentCheck(document, await self._documents.hash_of(document.sha256))
        if not check.is_valid:
            log.warning("farm %s: document %s fails its check", farm_id, document_id)
        return check

    # -- helpers -------------------------------------------------------------------------

    def _today(self) -> date:
        return self._clock().astimezone(self._zone).date()

    async def _reach(self, admin: Principal, organisation_id: int) -> None:
        if admin.role is not Role.ADMINISTRATOR:
            raise PermissionDenied("only an administrator may change the farm register")
        if admin.kind is not PrincipalKind.SESSION:
            # Each decision is recorded under an officer's name (art. 8: personal accounts).
            raise PermissionDenied("an API token may not change the farm register")
        orgs = await self._access.cameras.org_tree()
        if orgs.get(organisation_id) is None:
            raise NotFound(f"no organisation {organisation_id}")
        if not can_manage(admin, organisation_id, orgs):
            raise PermissionDenied(f"organisation {organisation_id} is not within your reach")

    async def _record(
        self,
        action: AuditAction,
        admin: Principal,
        farm: FarmRecord,
        source: str | None,
        detail: dict[str, JsonValue],
    ) -> None:
        await self._audit.append(
            action, principal_actor(admin), organisation_id=farm.organisation_id,
            source=source, detail={"farm_id": farm.id, **detail},
        )  # fmt: skip
