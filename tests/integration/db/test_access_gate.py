"""What a request may reach (`AccessGate`), who holds which media URL (`MediaOwners`) and
the audit trail as each administrator sees it, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from farmwatch.platform.access import (
    ChannelGrant,
    HolderKind,
    OrgTier,
    OwnedKind,
    Principal,
    Role,
    Verdict,
)
from farmwatch.platform.audit import AuditAction, AuditActor
from farmwatch.platform.db import Database
from farmwatch.platform.errors import Conflict

from . import test_access
from .test_access import CAMERA_1, CAMERA_2, IPC, NVR, PASSWORD, Clock, Platform, build, logged_in


@pytest.fixture
def platform(database: Database) -> Platform:
    return build(database, Clock())


@pytest.fixture
async def cameras(database: Database) -> None:
    await test_access.register_cameras(database)


@dataclass
class People:
    chief: Principal
    gz: Principal
    sz: Principal
    pan: Principal
    idle: Principal
    farm_id: int
    bureau_id: int
    other_id: int


@pytest.fixture
async def people(platform: Platform, cameras: None) -> People:
    """The top administrator; a bureau with a farm holding the NVR and its administrator;
    another bureau's administrator; a monitor granted camera 2, one granted nothing."""
    administration = platform.access.administration
    await administration.bootstrap_administrator("chief", PASSWORD)
    chief = (await logged_in(platform, "chief")).principal
    bureau = await administration.create_organisation(
        chief, "广州局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    other = await administration.create_organisation(
        chief, "深圳局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    farm = await administration.create_farm(chief, "一号猪场", "GZ-0001", bureau.id, source=None)
    await administration.place_device(chief, NVR, farm.id, source=None)
    for name, org, role in (
        ("gz.admin", bureau.id, Role.ADMINISTRATOR),
        ("sz.admin", other.id, Role.ADMINISTRATOR),
        ("pan", bureau.id, Role.MONITOR),
        ("idle", bureau.id, Role.MONITOR),
    ):
        user = await administration.create_user(chief, name, name, org, role, PASSWORD, source=None)
        if name == "pan":
            await administration.grant(chief, user.id, ChannelGrant(CAMERA_2), source=None)
    signed = {
        name: (await logged_in(platform, name)).principal
        for name in ("gz.admin", "sz.admin", "pan", "idle")
    }
    return People(
        chief, signed["gz.admin"], signed["sz.admin"], signed["pan"], signed["idle"], farm.id,
        bureau.id, other.id,
    )  # fmt: skip


async def test_cameras_and_devices_each_principal_reaches(
    platform: Platform, people: People
) -> None:
    gate = platform.access.gate
    expected = {
        # camera 1, camera 2, the IPC (on no farm), a camera nobody knows
        "chief": (Verdict.ALLOWED, Verdict.ALLOWED, Verdict.ALLOWED, Verdict.UNKNOWN),
        "gz": (Verdict.ALLOWED, Verdict.ALLOWED, Verdict.REFUSED, Verdict.REFUSED),
        "sz": (Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED),
        "pan": (Verdict.REFUSED, Verdict.ALLOWED, Verdict.REFUSED, Verdict.REFUSED),
        "idle": (Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED),
    }
    for name, verdicts in expected.items():
        principal = getattr(people, name)
        found = tuple(
            [await gate.channel(principal, c) for c in (CAMERA_1, CAMERA_2, IPC, "3" * 20)]
        )
        assert found == verdicts, name
    devices = {
        name: (await gate.device(getattr(people, name), NVR), await gate.device(
            getattr(people, name), IPC))
        for name in expected
    }  # fmt: skip
    assert devices == {
        "chief": (Verdict.ALLOWED, Verdict.ALLOWED),
        "gz": (Verdict.ALLOWED, Verdict.REFUSED),
        "sz": (Verdict.REFUSED, Verdict.REFUSED),
        "pan": (Verdict.ALLOWED, Verdict.REFUSED),
        "idle": (Verdict.REFUSED, Verdict.REFUSED),
    }
    assert await gate.visible_devices(people.chief) is None  # everything
    assert await gate.visible_devices(people.gz) == {NVR}
    assert await gate.visible_devices(people.pan) == {NVR}
    assert await gate.visible_devices(people.sz) == frozenset()
    assert await gate.visible_device_channels(people.pan, NVR) == {CAMERA_2}
    assert await gate.visible_device_channels(people.gz, NVR) == {CAMERA_1, CAMERA_2}
    assert await gate.visible_device_channels(people.chief, NVR) is None


async def test_farms_each_principal_reaches(platform: Platform, people: People) -> None:
    """Supervision acts on farms: an administrator reaches the farms of their subtree, a
    monitor a farm that one of their grants touches (here camera 2 of the farm's NVR)."""
    gate = platform.access.gate
    administration = platform.access.administration
    other_farm = await administration.create_farm(
        people.chief, "二号鸡场", "SZ-0002", people.other_id, source=None
    )
    expected = {
        # the Guangzhou farm, the Shenzhen farm, a farm nobody knows
        "chief": (Verdict.ALLOWED, Verdict.ALLOWED, Verdict.UNKNOWN),
        "gz": (Verdict.ALLOWED, Verdict.REFUSED, Verdict.REFUSED),
        "sz": (Verdict.REFUSED, Verdict.ALLOWED, Verdict.REFUSED),
        "pan": (Verdict.ALLOWED, Verdict.REFUSED, Verdict.REFUSED),
        "idle": (Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED),
    }
    for name, verdicts in expected.items():
        principal = getattr(people, name)
        found = tuple(
            [await gate.farm(principal, f) for f in (people.farm_id, other_farm.id, 999_999)]
        )
        assert found == verdicts, name
    assert await gate.visible_farms(people.chief) is None
    assert await gate.visible_farms(people.gz) == {people.farm_id}
    assert await gate.visible_farms(people.sz) == {other_farm.id}
    assert await gate.visible_farms(people.pan) == {people.farm_id}
    assert await gate.visible_farms(people.idle) == frozenset()


async def test_users_and_tokens_each_administrator_reaches(
    platform: Platform, people: People
) -> None:
    gate = platform.access.gate
    assert people.pan.user_id is not None
    assert await gate.user(people.gz, people.pan.user_id) is Verdict.ALLOWED
    assert await gate.user(people.chief, people.pan.user_id) is Verdict.ALLOWED
    assert await gate.user(people.sz, people.pan.user_id) is Verdict.REFUSED
    assert await gate.user(people.pan, people.pan.user_id) is Verdict.REFUSED  # a monitor
    assert await gate.user(people.gz, 999_999) is Verdict.UNKNOWN
    issued = await platform.access.tokens.issue(
        people.gz, "reports", Role.MONITOR, people.bureau_id, source=None
    )
    assert await gate.token(people.gz, issued.record.id) is Verdict.ALLOWED
    assert await gate.token(people.sz, issued.record.id) is Verdict.REFUSED
    assert await gate.token(people.sz, 999_999) is Verdict.UNKNOWN


async def test_media_is_held_by_the_login_or_by_the_person(
    platform: Platform, people: People
) -> None:
    owners = platform.access.owners
    live = await owners.record(OwnedKind.LIVE, "s1", people.pan, CAMERA_2)
    assert live.holder.kind is HolderKind.LOGIN_SESSION
    assert live.is_held_by(people.pan) and not live.is_held_by(people.gz)
    again = (await logged_in(platform, "pan")).principal  # the same person, another login
    assert not live.is_held_by(again)
    assert await owners.owner(OwnedKind.LIVE, "s1") == live
    assert owners.held_by_login(people.pan.session_id_hash or "") == [live]

    download = await owners.record(OwnedKind.DOWNLOAD, "d1", people.pan, CAMERA_2)
    assert download.holder.kind is HolderKind.USER
    stored = await owners.owner(OwnedKind.DOWNLOAD, "d1")
    assert stored is not None and stored.is_held_by(again) and not stored.is_held_by(people.gz)
    assert stored.channel_id == CAMERA_2
    with pytest.raises(Conflict):
        await owners.record(OwnedKind.DOWNLOAD, "d1", people.gz, CAMERA_2)
    token = await platform.access.tokens.issue(
        people.gz, "nvr-export", Role.ADMINISTRATOR, people.bureau_id, source=None
    )
    by_token = await platform.access.tokens.resolve(token.token, platform.clock.now)
    assert by_token is not None
    clip = await owners.record(OwnedKind.CLIP, "c1", by_token, CAMERA_1)
    assert clip.holder.kind is HolderKind.TOKEN
    stored = await owners.owner(OwnedKind.CLIP, "c1")
    assert stored is not None and (stored.holder, stored.channel_id) == (clip.holder, CAMERA_1)
    assert await owners.owner(OwnedKind.CLIP, "d1") is None

    ended = owners.forget_ended(lambda owned: owned.object_id != "s1")
    assert ended == [live] and await owners.owner(OwnedKind.LIVE, "s1") is None


async def test_each_administrator_pages_through_the_audit_of_their_reach(
    platform: Platform, people: People
) -> None:
    audit = platform.audit
    await audit.append(AuditAction.SNAPSHOT, AuditActor.user(None, "x"), organisation_id=None)
    await audit.append(
        AuditAction.SNAPSHOT, AuditActor.user(None, "y"), organisation_id=people.other_id
    )
    everything = await audit.recent(1000)
    bureau = await audit.recent(1000, organisation_ids={people.bureau_id}, with_unassigned=False)
    assert bureau and all(r.entry.organisation_id == people.bureau_id for r in bureau)
    assert len(bureau) < len(everything)
    with_none = await audit.recent(1000, organisation_ids={people.other_id})
    assert {r.entry.actor.name for r in with_none} >= {"x", "y"}
    newest = await audit.recent(2)
    older = await audit.recent(2, before_id=newest[-1].id)
    assert [r.id for r in newest + older] == [r.id for r in everything[:4]]
