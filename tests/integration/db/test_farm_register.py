"""The farm register on SQLite and PostgreSQL (regulation art. 5–6; issue 11 item 1): a
farm's life through its approval states with every decision kept, application documents
stored by SHA-256 and checked again, what each person sees and may change, the audit rows,
and farms from before the register surviving the migration."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import Connection, text

from farmwatch.platform.access import ChannelGrant, OrgTier, Principal, Role, Verdict
from farmwatch.platform.audit import AuditAction
from farmwatch.platform.cameras import AccessMethod, CameraTree, KeyArea, PlacementRepository
from farmwatch.platform.db import Database, alembic_config
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied, TooLarge
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.supervision.farms import (
    ApprovalState,
    Decision,
    DocumentStore,
    FarmApplication,
    FarmCameras,
    FarmEdit,
    FarmFilter,
    FarmParticulars,
    FarmRegister,
    FarmRegisterRepository,
    IllegalTransition,
    NoFarmFlags,
    Officer,
    Species,
    Upload,
)

from . import test_access
from .conftest import T0
from .test_access import CAMERA_1, CAMERA_2, NVR, PASSWORD, Clock, Platform, build, logged_in

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = T0.astimezone(ZONE).date()
MAX_BYTES = 64 * 1024


@dataclass
class Rig:
    platform: Platform
    register: FarmRegister
    repository: FarmRegisterRepository
    store: DocumentStore
    chief: Principal
    gz: Principal
    sz: Principal
    pan: Principal
    bureau_id: int
    other_id: int


def _register(platform: Platform, folder: Path) -> tuple[FarmRegister, FarmRegisterRepository]:
    database, directory = platform.database, platform.access.directory
    repository = FarmRegisterRepository(
        database.sessions, database.read_sessions, writing=directory.writing
    )
    cameras = FarmCameras(
        directory, ChannelRepository(database.sessions), PlacementRepository(database.sessions)
    )
    store = DocumentStore(folder, max_bytes=MAX_BYTES)
    register = FarmRegister(
        repository, store, cameras, platform.access, platform.audit, NoFarmFlags(), zone=ZONE,
        clock=platform.clock,
    )  # fmt: skip
    return register, repository


@pytest.fixture
async def rig(database: Database, tmp_path: Path) -> AsyncIterator[Rig]:
    """The top administrator; two bureaus, each with its administrator; a monitor of the
    first granted camera 2 of the NVR."""
    platform = build(database, Clock())
    await test_access.register_cameras(database)
    administration = platform.access.administration
    await administration.bootstrap_administrator("chief", PASSWORD)
    chief = (await logged_in(platform, "chief")).principal
    bureau = await administration.create_organisation(
        chief, "广州局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    other = await administration.create_organisation(
        chief, "深圳局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    for name, org, role in (
        ("gz.admin", bureau.id, Role.ADMINISTRATOR),
        ("sz.admin", other.id, Role.ADMINISTRATOR),
        ("pan", bureau.id, Role.MONITOR),
    ):
        user = await administration.create_user(chief, name, name, org, role, PASSWORD, source=None)
        if name == "pan":
            await administration.grant(chief, user.id, ChannelGrant(CAMERA_2), source=None)
    signed = {
        name: (await logged_in(platform, name)).principal
        for name in ("gz.admin", "sz.admin", "pan")
    }
    register, repository = _register(platform, tmp_path / "storage")
    yield Rig(
        platform, register, repository, DocumentStore(tmp_path / "storage", max_bytes=MAX_BYTES),
        chief, signed["gz.admin"], signed["sz.admin"], signed["pan"], bureau.id, other.id,
    )  # fmt: skip


def _application(rig: Rig, filing: str = "GZ-0001", **more: object) -> FarmApplication:
    particulars = FarmParticulars("张三", "020-1234 5678", "广州市番禺区", Species.PIG)
    return FarmApplication("一号猪场", filing, rig.bureau_id, particulars, **more)  # type: ignore[arg-type]


async def test_a_farm_goes_through_its_states_and_every_decision_is_kept(rig: Rig) -> None:
    register, gz, clock = rig.register, rig.gz, rig.platform.clock
    enrolled = await register.enrol(
        gz, _application(rig, applied_on=date(2025, 2, 20), remark="书面申请"), source="192.0.2.1"
    )
    farm = enrolled.farm
    assert farm.state is ApprovalState.APPLIED and farm.particulars.species is Species.PIG
    with pytest.raises(Conflict, match="filing number GZ-0001 exists"):
        await register.enrol(gz, _application(rig), source=None)
    with pytest.raises(IllegalTransition, match="a farm applied"):
        await register.decide(gz, farm.id, ApprovalState.APPROVED, decided_on=None, remark=None,
                              source=None)  # fmt: skip
    steps = [
        (ApprovalState.SURVEYED, date(2025, 2, 22), "现场勘测合格"),
        (ApprovalState.APPROVED, date(2025, 2, 25), None),
        (ApprovalState.SUSPENDED, date(2025, 2, 26), "药库记录不全"),
        (ApprovalState.APPROVED, date(2025, 2, 28), "整改完成"),
        (ApprovalState.REVOKED, None, "违规用药"),
    ]
    for state, day, remark in steps:
        clock.advance(minutes=5)
        await register.decide(gz, farm.id, state, decided_on=day, remark=remark, source=None)
    with pytest.raises(IllegalTransition, match="is final"):
        await register.decide(gz, farm.id, ApprovalState.APPROVED, decided_on=None, remark=None,
                              source=None)  # fmt: skip
    # Read back by another repository: what the database holds, not what was returned.
    _, again = _register(rig.platform, Path("/nonexistent"))
    stored = await again.farm(farm.id)
    assert stored is not None and stored.state is ApprovalState.REVOKED
    history = await again.history(farm.id)
    assert [(c.from_state, c.to_state, c.decided_on, c.remark) for c in history] == [
        (None, ApprovalState.APPLIED, date(2025, 2, 20), "书面申请"),
        (ApprovalState.APPLIED, ApprovalState.SURVEYED, date(2025, 2, 22), "现场勘测合格"),
        (ApprovalState.SURVEYED, ApprovalState.APPROVED, date(2025, 2, 25), None),
        (ApprovalState.APPROVED, ApprovalState.SUSPENDED, date(2025, 2, 26), "药库记录不全"),
        (ApprovalState.SUSPENDED, ApprovalState.APPROVED, date(2025, 2, 28), "整改完成"),
        (ApprovalState.APPROVED, ApprovalState.REVOKED, TODAY, "违规用药"),
    ]
    assert {(c.officer_id, c.officer_name) for c in history} == {(gz.user_id, "gz.admin")}
    assert [c.recorded_at for c in history] == sorted(c.recorded_at for c in history)
    rows = await rig.platform.audit.recent(100)
    states = [r for r in reversed(rows) if r.entry.action is AuditAction.FARM_STATE]
    assert [(r.entry.detail["from"], r.entry.detail["to"]) for r in states] == [
        ("applied", "surveyed"), ("surveyed", "approved"), ("approved", "suspended"),
        ("suspended", "approved"), ("approved", "revoked"),
    ]  # fmt: skip
    assert {r.entry.organisation_id for r in states} == {rig.bureau_id}
    enrolments = [r for r in rows if r.entry.action is AuditAction.FARM_CHANGE]
    assert [r.entry.detail["change"] for r in enrolments] == ["enrolled"]
    assert enrolments[0].entry.source == "192.0.2.1"


async def test_two_officers_deciding_at_once_do_not_both_move_the_farm(rig: Rig) -> None:
    farm = (await rig.register.enrol(rig.gz, _application(rig), source=None)).farm
    decision = Decision(ApprovalState.APPLIED, ApprovalState.SURVEYED, TODAY)
    officer = Officer(rig.gz.user_id, rig.gz.name)
    await rig.repository.change_state(farm.id, decision, officer=officer, remark=None, at=T0)
    with pytest.raises(Conflict, match="changed meanwhile"):
        await rig.repository.change_state(farm.id, decision, officer=officer, remark=None, at=T0)
    assert len(await rig.repository.history(farm.id)) == 2


async def test_a_decision_dated_before_the_previous_one_is_refused(rig: Rig) -> None:
    farm = (await rig.register.enrol(rig.gz, _application(rig, applied_on=date(2025, 2, 20)),
                                     source=None)).farm  # fmt: skip
    with pytest.raises(InvalidInput, match="before the farm's previous decision"):
        await rig.register.decide(
            rig.gz, farm.id, ApprovalState.SURVEYED, decided_on=date(2025, 2, 19), remark=None,
            source=None,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="in the future"):
        await rig.register.enrol(rig.gz, _application(rig, "GZ-9", applied_on=date(2099, 1, 1)),
                                 source=None)  # fmt: skip


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_documents_are_stored_by_their_sha256_and_checked_again(
    rig: Rig, tmp_path: Path
) -> None:
    register, gz = rig.register, rig.gz
    farm = (await register.enrol(gz, _application(rig), source=None)).farm
    content = "书面申请 (written application)\n".encode() * 500
    first = await register.add_document(
        gz, farm.id,
        Upload("../../etc/申请书.pdf", "application/pdf; charset=binary",
               _chunks(content[:1000], content[1000:]), remark="申请书"),
        source=None,
    )  # fmt: skip
    sha = hashlib.sha256(content).hexdigest()
    assert (first.sha256, first.size, first.file_name, first.content_type) == (
        sha, len(content), "申请书.pdf", "application/pdf",
    )  # fmt: skip
    folder = tmp_path / "storage" / "farm-documents"
    assert sorted(path.name for path in folder.iterdir()) == [sha]
    assert (folder / sha).read_bytes() == content
    check = await register.verify(farm.id, first.id)
    assert check.is_valid and check.actual == sha
    # A newer version supersedes it; both stay on record.
    second = await register.add_document(
        gz,
        farm.id,
        Upload("申请书-v2.pdf", "<script>", _chunks(b"v2"), supersedes_id=first.id),
        source=None,
    )
    assert second.supersedes_id == first.id and second.content_type == "application/octet-stream"
    assert [d.id for d in await register.documents(farm.id)] == [first.id, second.id]
    # Tampered with on disk, then gone: the check says so.
    (folder / sha).write_bytes(content + b"!")
    assert not (await register.verify(farm.id, first.id)).is_valid
    (folder / sha).unlink()
    gone = await register.verify(farm.id, first.id)
    assert gone.actual is None and not gone.is_valid
    with pytest.raises(Conflict, match="missing from storage"):
        await register.document_file(farm.id, first.id)
    # Too large: refused, and nothing half-written is left behind.
    with pytest.raises(TooLarge):
        await register.add_document(
            gz, farm.id, Upload("big.bin", "", _chunks(b"x" * MAX_BYTES, b"y")), source=None
        )
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [hashlib.sha256(b"v2").hexdigest()]
    )
    other = (await register.enrol(gz, _application(rig, "GZ-0002"), source=None)).farm
    with pytest.raises(NotFound, match="has no document"):
        await register.document(other.id, first.id)
    with pytest.raises(NotFound, match="supersedes"):
        await register.add_document(
            gz, other.id, Upload("x", "", _chunks(b"x"), supersedes_id=first.id), source=None
        )
    added = [r for r in await rig.platform.audit.recent(100)
             if r.entry.action is AuditAction.FARM_DOCUMENT]  # fmt: skip
    assert {r.entry.detail["sha256"] for r in added} == {sha, hashlib.sha256(b"v2").hexdigest()}


async def test_each_person_sees_and_changes_only_the_farms_within_reach(rig: Rig) -> None:
    register, gz, sz, pan, chief = rig.register, rig.gz, rig.sz, rig.pan, rig.chief
    first = (await register.enrol(gz, _application(rig), source=None)).farm
    second = (await register.enrol(gz, _application(rig, "SZ-LIKE-2"), source=None)).farm
    await rig.platform.access.administration.place_device(chief, NVR, first.id, source=None)
    with pytest.raises(PermissionDenied):
        await register.enrol(sz, _application(rig, "GZ-0003"), source=None)
    with pytest.raises(PermissionDenied):
        await register.enrol(pan, _application(rig, "GZ-0004"), source=None)
    with pytest.raises(PermissionDenied):
        await register.decide(pan, first.id, ApprovalState.SURVEYED, decided_on=None,
                              remark=None, source=None)  # fmt: skip
    ids = {
        name: [farm.id for farm in await register.farms(who, FarmFilter())]
        for name, who in (("chief", chief), ("gz", gz), ("sz", sz), ("pan", pan))
    }
    assert ids == {"chief": [first.id, second.id], "gz": [first.id, second.id], "sz": [],
                   "pan": [first.id]}  # fmt: skip
    await register.decide(gz, second.id, ApprovalState.SURVEYED, decided_on=None, remark=None,
                          source=None)  # fmt: skip
    found = await register.farms(gz, FarmFilter(state=ApprovalState.SURVEYED))
    assert [farm.id for farm in found] == [second.id]
    assert [f.id for f in await register.farms(gz, FarmFilter(text="like"))] == [second.id]
    assert [f.id for f in await register.farms(gz, FarmFilter(text="%"))] == []
    assert await register.farms(chief, FarmFilter(organisation_id=rig.other_id)) == []
    # Moved to the other bureau: its administrator reaches it at once, gz no more.
    with pytest.raises(PermissionDenied):
        await register.edit(gz, first.id, FarmEdit(organisation_id=rig.other_id), source=None)
    moved = await register.edit(
        chief, first.id, FarmEdit(organisation_id=rig.other_id, phone=None), source=None
    )
    assert moved.organisation_id == rig.other_id and moved.particulars.phone is None
    gate = rig.platform.access.gate
    assert await gate.farm(sz, first.id) is Verdict.ALLOWED
    assert await gate.farm(gz, first.id) is Verdict.REFUSED
    edits = [r for r in await rig.platform.audit.recent(100)
             if r.entry.detail.get("change") == "edited"]  # fmt: skip
    assert edits[0].entry.detail["fields"] == {
        "organisation_id": [rig.bureau_id, rig.other_id], "phone": ["020-1234 5678", None],
    }  # fmt: skip


async def test_a_farms_cameras_carry_their_place_model_and_access_method(rig: Rig) -> None:
    register, gz, pan = rig.register, rig.gz, rig.pan
    farm = (await register.enrol(gz, _application(rig), source=None)).farm
    assert await register.cameras(gz, farm.id) == []
    await rig.platform.access.administration.place_device(rig.chief, NVR, farm.id, source=None)
    database = rig.platform.database
    tree = CameraTree(
        DeviceRepository(database.sessions), ChannelRepository(database.sessions),
        PlacementRepository(database.sessions), rig.platform.access,
    )  # fmt: skip
    await tree.set_place(CAMERA_1, KeyArea.DRUG_STORE, "B-07")
    await tree.set_place(CAMERA_1, model="DS-2CD3T46", access_method=AccessMethod.VIA_NVR)
    cameras = {camera.channel_id: camera for camera in await register.cameras(gz, farm.id)}
    assert set(cameras) == {CAMERA_1, CAMERA_2}
    place = cameras[CAMERA_1].place
    assert place is not None
    assert (place.key_area, place.location, place.model, place.access_method) == (
        KeyArea.DRUG_STORE, "B-07", "DS-2CD3T46", AccessMethod.VIA_NVR,
    )  # fmt: skip
    assert cameras[CAMERA_2].place is None
    assert [camera.channel_id for camera in await register.cameras(pan, farm.id)] == [CAMERA_2]


async def test_farms_from_before_the_register_keep_their_devices_and_start_applied(
    empty_database: Database,
) -> None:
    config = alembic_config(empty_database.url)

    def upgrade_to(revision: str):  # type: ignore[no-untyped-def]
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    async with empty_database.engine.begin() as connection:
        await connection.run_sync(upgrade_to("0008"))
        await connection.execute(text(
            "INSERT INTO organisations (id, name, tier, created_at)"
            " VALUES (1, 'n', 'national', :at)"
        ), {"at": T0})  # fmt: skip
        await connection.execute(text(
            "INSERT INTO farms (id, name, filing_number, organisation_id, created_at)"
            " VALUES (7, '老场', 'OLD-1', 1, :at)"
        ), {"at": T0})  # fmt: skip
        await connection.execute(text(
            "INSERT INTO farm_devices (device_id, farm_id, placed_at) VALUES (:d, 7, :at)"
        ), {"d": NVR, "at": T0})  # fmt: skip
        await connection.execute(text(
            "INSERT INTO camera_placements (channel_id, key_area, updated_at)"
            " VALUES (:c, 'drug_store', :at)"
        ), {"c": CAMERA_1, "at": T0})  # fmt: skip
        await connection.run_sync(upgrade_to("head"))
        farms = (await connection.execute(text("SELECT id, state, operator FROM farms"))).all()
        placed = (
            await connection.execute(text("SELECT device_id, farm_id FROM farm_devices"))
        ).all()
        places = (await connection.execute(
            text("SELECT key_area, model, access_method FROM camera_placements")
        )).all()  # fmt: skip
    assert [tuple(row) for row in farms] == [(7, "applied", None)]
    assert [tuple(row) for row in placed] == [(NVR, 7)]
    assert [tuple(row) for row in places] == [("drug_store", None, None)]
