"""The farm register (regulation art. 5–6; issue 11 item 1).

- `GET /api/farms?state=&organisation_id=&q=`: the farms the caller may see (an
  administrator: those of their subtree; a monitor: those their grants touch), by state,
  organisation, or text in the name or filing number;
- `POST /api/farms {"name", "filing_number", "organisation_id", "operator"?, "phone"?,
  "address"?, "species"?, "species_other"?, "applied_on"?, "remark"?}` → 201: enrol a farm
  on its application (state applied);
- `GET /api/farms/{farm_id}`: particulars, state, history, documents, flags;
- `PUT /api/farms/{farm_id}`: edit particulars (a field left out stays, null unsets);
- `POST /api/farms/{farm_id}/state {"state", "date"?, "remark"?}`: record a decision
  (409 when the state cannot follow);
- `GET|POST /api/farms/{farm_id}/documents` (multipart: optional `remark` and `supersedes`
  fields, then the `file` part, last), `GET .../documents/{document_id}/file`,
  `GET .../documents/{document_id}/verify`;
- `GET /api/farms/{farm_id}/cameras`: its cameras with key area, location, model, access
  method and online state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web

from farmwatch.platform.cameras import UNCHANGED, Unchanged
from farmwatch.platform.errors import InvalidInput, NotFound, TooLarge
from farmwatch.platform.supervision.farms import (
    ApprovalState,
    FarmApplication,
    FarmEdit,
    FarmFilter,
    FarmParticulars,
    Species,
    Upload,
)
from farmwatch.web.authorization import principal_of
from farmwatch.web.bodies import json_object
from farmwatch.web.farm_views import (
    CHOICES,
    document_view,
    farm_camera_view,
    farm_details_view,
    register_farm_view,
    state_change_view,
)
from farmwatch.web.keys import FARM_REGISTER
from farmwatch.web.routes.accounts import int_field

routes = web.RouteTableDef()
T = TypeVar("T")

_CHUNK = 64 * 1024
_MAX_FIELD = 4096
# Room for the multipart boundaries and headers around the file.
_MULTIPART_OVERHEAD = 64 * 1024
_STATES = ", ".join(state.value for state in ApprovalState)
_SPECIES = ", ".join(species.value for species in Species)


def _farm_id(request: web.Request) -> int:
    return int(request.match_info["farm_id"])  # the middleware let only digits through


def _document_id(request: web.Request) -> int:
    text = request.match_info["document_id"]
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise NotFound(f"no document {text[:40]}")
    return int(text)


def _state(value: object, name: str = "state") -> ApprovalState:
    try:
        return ApprovalState(value) if isinstance(value, str) else ApprovalState("")
    except ValueError:
        raise InvalidInput(f"{name}: expected one of {_STATES}") from None


def _species(value: object) -> Species:
    try:
        return Species(value) if isinstance(value, str) else Species("")
    except ValueError:
        raise InvalidInput(f"species: expected one of {_SPECIES} or null") from None


def _date(name: str) -> Callable[[object], date]:
    def parse(value: object) -> date:
        try:
            return date.fromisoformat(value) if isinstance(value, str) else date.min
        except ValueError:
            pass
        raise InvalidInput(f"{name}: expected a date YYYY-MM-DD")

    return parse


def _string(name: str, *, nullable: bool = True) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise InvalidInput(f"{name}: expected a string{' or null' if nullable else ''}")
        return value

    return parse


def _organisation(value: object) -> int:
    return int_field({"organisation_id": value}, "organisation_id")


def _optional(body: dict[str, Any], name: str, parse: Callable[[object], T]) -> T | None:
    value = body.get(name)
    return None if value is None else parse(value)


def _changed(body: dict[str, Any], name: str, parse: Callable[[object], T]) -> T | None | Unchanged:
    """A field of an edit: left out, it stays; null unsets it."""
    if name not in body:
        return UNCHANGED
    return _optional(body, name, parse)


def _required(value: T | None | Unchanged, name: str) -> T | Unchanged:
    if value is None:
        raise InvalidInput(f"{name}: must not be null")
    return value


@routes.get("/farms")
async def list_farms(request: web.Request) -> web.Response:
    query = request.query
    organisation = query.get("organisation_id")
    if organisation is not None and not (
        organisation.isascii() and organisation.isdigit() and len(organisation) < 19
    ):
        raise InvalidInput("organisation_id: expected an integer")
    text = query.get("q", "").strip()
    if len(text) > 128 or not text.isprintable():
        raise InvalidInput("q: expected at most 128 printable characters")
    wanted = FarmFilter(
        state=None if "state" not in query else _state(query["state"]),
        organisation_id=None if organisation is None else int(organisation),
        text=text or None,
    )
    farms = await request.app[FARM_REGISTER].farms(principal_of(request), wanted)
    return web.json_response(
        {"farms": [register_farm_view(farm) for farm in farms], "choices": CHOICES}
    )


@routes.post("/farms")
async def enrol_farm(request: web.Request) -> web.Response:
    body = await json_object(request, '{"name", "filing_number", "organisation_id", ...}')
    application = FarmApplication(
        name=_string("name", nullable=False)(body.get("name")),
        filing_number=_string("filing_number", nullable=False)(body.get("filing_number")),
        organisation_id=int_field(body, "organisation_id"),
        particulars=FarmParticulars(
            _optional(body, "operator", _string("operator")),
            _optional(body, "phone", _string("phone")),
            _optional(body, "address", _string("address")),
            _optional(body, "species", _species),
            _optional(body, "species_other", _string("species_other")),
        ),
        applied_on=_optional(body, "applied_on", _date("applied_on")),
        remark=_optional(body, "remark", _string("remark")),
    )
    details = await request.app[FARM_REGISTER].enrol(
        principal_of(request), application, source=request.remote
    )
    return web.json_response(farm_details_view(details), status=201)


@routes.get("/farms/{farm_id}")
async def farm_details(request: web.Request) -> web.Response:
    details = await request.app[FARM_REGISTER].details(_farm_id(request))
    return web.json_response(farm_details_view(details))


@routes.put("/farms/{farm_id}")
async def edit_farm(request: web.Request) -> web.Response:
    body = await json_object(request, '{"name", "operator", "phone", ...}')
    edit = FarmEdit(
        name=_required(_changed(body, "name", _string("name", nullable=False)), "name"),
        filing_number=_required(
            _changed(body, "filing_number", _string("filing_number", nullable=False)),
            "filing_number",
        ),
        organisation_id=_required(
            _changed(body, "organisation_id", _organisation), "organisation_id"
        ),
        operator=_changed(body, "operator", _string("operator")),
        phone=_changed(body, "phone", _string("phone")),
        address=_changed(body, "address", _string("address")),
        species=_changed(body, "species", _species),
        species_other=_changed(body, "species_other", _string("species_other")),
    )
    register = request.app[FARM_REGISTER]
    farm_id = _farm_id(request)
    await register.edit(principal_of(request), farm_id, edit, source=request.remote)
    return web.json_response(farm_details_view(await register.details(farm_id)))


@routes.post("/farms/{farm_id}/state")
async def decide(request: web.Request) -> web.Response:
    body = await json_object(request, '{"state", "date", "remark"}')
    register = request.app[FARM_REGISTER]
    farm_id = _farm_id(request)
    change = await register.decide(
        principal_of(request), farm_id, _state(body.get("state")),
        decided_on=_optional(body, "date", _date("date")),
        remark=_optional(body, "remark", _string("remark")), source=request.remote,
    )  # fmt: skip
    details = farm_details_view(await register.details(farm_id))
    return web.json_response({**details, "change": state_change_view(change)})


@routes.get("/farms/{farm_id}/documents")
async def list_documents(request: web.Request) -> web.Response:
    documents = await request.app[FARM_REGISTER].documents(_farm_id(request))
    return web.json_response({"documents": [document_view(d) for d in documents]})


async def _field_text(part: BodyPartReader) -> str:
    data = await part.read_chunk(_MAX_FIELD + 1)
    if len(data) > _MAX_FIELD or await part.read_chunk(1):
        raise InvalidInput(f"{part.name}: expected at most {_MAX_FIELD} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{part.name}: expected UTF-8 text") from None


_MALFORMED = "expected a multipart/form-data body: remark, supersedes, then the file part"


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    try:
        while chunk := await part.read_chunk(_CHUNK):
            yield chunk
    except ValueError as error:
        raise InvalidInput(f"{_MALFORMED} ({error})") from error
    if not part.at_eof():
        # The body ended without the part's boundary: an upload cut off is not a document.
        raise InvalidInput(f"{_MALFORMED}: the file part ends without its boundary")


async def _parts(request: web.Request) -> tuple[dict[str, str], BodyPartReader]:
    """The text fields before the file part, and the file part (not read yet)."""
    fields: dict[str, str] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidInput("expected a flat multipart/form-data body")
            if part.name == "file":
                return fields, part
            if part.name in ("remark", "supersedes"):
                fields[part.name] = await _field_text(part)
            else:
                await part.release()
    except (KeyError, ValueError) as error:  # no boundary, or a body that does not follow it
        raise InvalidInput(_MALFORMED) from error
    raise InvalidInput("file: expected a part named file (the last one)")


@routes.post("/farms/{farm_id}/documents")
async def upload_document(request: web.Request) -> web.Response:
    register = request.app[FARM_REGISTER]
    bound = register.max_document_bytes
    if request.content_length is not None and request.content_length > bound + _MULTIPART_OVERHEAD:
        raise TooLarge(f"file: larger than {bound} bytes")
    if not request.content_type.startswith("multipart/"):
        raise InvalidInput("expected a multipart/form-data body with a file part named file")
    fields, part = await _parts(request)
    supersedes = fields.get("supersedes", "").strip()
    if supersedes and not (supersedes.isascii() and supersedes.isdigit() and len(supersedes) < 19):
        raise InvalidInput("supersedes: expected a document ID")
    upload = Upload(
        # Browsers send the name as UTF-8 with `"` and line breaks as %22, %0D, %0A; other
        # clients (aiohttp, curl --form-escape) percent-encode all of it.
        file_name=unquote(part.filename or "document"),
        content_type=part.headers.get("Content-Type", "application/octet-stream"),
        chunks=_chunks(part),
        remark=fields.get("remark"),
        supersedes_id=int(supersedes) if supersedes else None,
    )
    document = await register.add_document(
        principal_of(request), _farm_id(request), upload, source=request.remote
    )
    return web.json_response(document_view(document), status=201)


@routes.get("/farms/{farm_id}/documents/{document_id}/file")
async def document_file(request: web.Request) -> web.FileResponse:
    document, path = await request.app[FARM_REGISTER].document_file(
        _farm_id(request), _document_id(request)
    )
    name = document.file_name
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": document.content_type,
            # Never shown in the page: a document is a file to save, whatever its type.
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@routes.get("/farms/{farm_id}/documents/{document_id}/verify")
async def verify_document(request: web.Request) -> web.Response:
    check = await request.app[FARM_REGISTER].verify(_farm_id(request), _document_id(request))
    return web.json_response(
        {
            "id": check.document.id, "sha256": check.document.sha256, "actual": check.actual,
            "valid": check.is_valid, "missing": check.actual is None,
        }
    )  # fmt: skip


@routes.get("/farms/{farm_id}/cameras")
async def farm_cameras(request: web.Request) -> web.Response:
    farm_id = _farm_id(request)
    cameras = await request.app[FARM_REGISTER].cameras(principal_of(request), farm_id)
    return web.json_response(
        {"farm_id": farm_id, "cameras": [farm_camera_view(camera) for camera in cameras]}
    )
