"""Access services on SQLite and PostgreSQL: logins, lockout, throttling, sessions, API
tokens, administration and camera visibility, each leaving its audit rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from farmwatch.platform.access import (
    AccessServices,
    ChannelGrant,
    DeviceGrant,
    FarmGrant,
    LoginFailure,
    LoginRefused,
    OpenedSession,
    OrgTier,
    PasswordRejected,
    Principal,
    PrincipalKind,
    Role,
    create_access_services,
)
from farmwatch.platform.audit import AuditAction, AuditLog, AuditResult
from farmwatch.platform.db import Database
from farmwatch.platform.errors import Conflict, InvalidInput, PermissionDenied
from farmwatch.platform.records import ChannelData, Transport
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.settings import AccessSettings

from .conftest import T0

FAST = AccessSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
PASSWORD = "Correct-horse9"
NVR, IPC = "34020000001180000001", "34020000001320000002"
CAMERA_1, CAMERA_2, CAMERA_3 = "34020000001310000001", "34020000001310000002", IPC


@dataclass
class Clock:
    now: datetime = field(default=T0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Platform:
    database: Database
    clock: Clock
    audit: AuditLog
    access: AccessServices

    async def audit_actions(self) -> list[tuple[AuditAction, AuditResult, str]]:
        rows = reversed(await self.audit.recent(1000))
        return [(r.entry.action, r.entry.result, r.entry.actor.name) for r in rows]


def build(database: Database, clock: Clock, settings: AccessSettings = FAST) -> Platform:
    audit = AuditLog(database.sessions, clock=clock)
    access = create_access_services(
        database.sessions, audit, settings, read_sessions=database.read_sessions, clock=clock
    )
    return Platform(database, clock, audit, access)


@pytest.fixture
def platform(database: Database) -> Platform:
    return build(database, Clock())


async def logged_in(platform: Platform, name: str, password: str = PASSWORD) -> OpenedSession:
    result = await platform.access.logins.login(name, password, "192.0.2.10")
    assert isinstance(result, OpenedSession), result
    return result


async def test_login_opens_a_session_that_ends_when_idle(platform: Platform) -> None:
    await platform.access.administration.bootstrap_administrator("Admin", PASSWORD)
    opened = await logged_in(platform, " ADMIN ")
    principal = await platform.access.sessions.resolve(opened.session_id, platform.clock.now)
    assert principal is not None
    assert (principal.kind, principal.role, principal.name) == (
        PrincipalKind.SESSION, Role.ADMINISTRATOR, "admin"
    )  # fmt: skip
    assert principal.csrf_token == opened.csrf_token and len(opened.csrf_token) >= 43
    assert opened.expires_at == T0 + timedelta(hours=12)
    async with platform.database.sessions() as session:
        stored = list(await session.scalars(text("SELECT id_hash FROM login_sessions")))
    assert stored == [hashlib.sha256(opened.session_id.encode()).hexdigest()]

    for _ in range(3):  # used every 29 minutes: stays open
        now = platform.clock.advance(minutes=29)
        assert await platform.access.sessions.resolve(opened.session_id, now) is not None
    now = platform.clock.advance(minutes=31)
    assert await platform.access.sessions.resolve(opened.session_id, now) is None
    assert await platform.access.sessions.resolve("not-a-session", now) is None


async def test_a_session_ends_after_its_lifetime_however_busy(platform: Platform) -> None:
    await platform.access.administration.bootstrap_administrator("admin", PASSWORD)
    opened = await logged_in(platform, "admin")
    for _ in range(35):
        now = platform.clock.advance(minutes=20)
        assert await platform.access.sessions.resolve(opened.session_id, now) is not None
    now = platform.clock.advance(minutes=20)  # 12 h after login
    assert await platform.access.sessions.resolve(opened.session_id, now) is None


async def test_unknown_user_and_wrong_password_get_the_same_refusal(platform: Platform) -> None:
    await platform.access.administration.bootstrap_administrator("admin", PASSWORD)
    logins = platform.access.logins
    unknown = await logins.login("nobody", PASSWORD, "192.0.2.10")
    wrong = await logins.login("admin", "Wrong-horse9", "192.0.2.10")
    assert unknown == wrong == LoginRefused(LoginFailure.INVALID_CREDENTIALS)
    assert (await platform.audit_actions())[-2:] == [
        (AuditAction.LOGIN_FAILED, AuditResult.DENIED, "nobody"),
        (AuditAction.LOGIN_FAILED, AuditResult.DENIED, "admin"),
    ]


async def test_an_account_locks_after_five_wrong_passwords_until_the_delay_or_an_unlock(
    platform: Platform,
) -> None:
    administration = platform.access.administration
    await administration.bootstrap_administrator("admin", PASSWORD)
    boss = (await logged_in(platform, "admin")).principal
    monitor = await administration.create_user(
        boss, "wang", "王监控", boss.organisation_id, Role.MONITOR, PASSWORD, source=None
    )
    logins = platform.access.logins
    for _ in range(4):
        refused = await logins.login("wang", "Wrong-horse9", "192.0.2.11")
        assert refused == LoginRefused(LoginFailure.INVALID_CREDENTIALS)
    assert await logins.login("wang", "Wrong-horse9", "192.0.2.12") == LoginRefused(
        LoginFailure.LOCKED, 900.0
    )
    platform.clock.advance(minutes=5)
    assert await logins.login("wang", PASSWORD, "192.0.2.13") == LoginRefused(
        LoginFailure.LOCKED, 600.0
    )
    platform.clock.advance(minutes=10)
    await logged_in(platform, "wang")  # the delay ran out

    for _ in range(5):
        await logins.login("wang", "Wrong-horse9", "192.0.2.14")
    locked = await logins.login("wang", PASSWORD, "192.0.2.14")
    assert isinstance(locked, LoginRefused) and locked.reason is LoginFailure.LOCKED
    await administration.unlock(boss, monitor.id, source="192.0.2.10")
    await logged_in(platform, "wang")
    actions = [action for action, _, _ in await platform.audit_actions()]
    assert actions.count(AuditAction.LOGIN_FAILED) == 4 + 1 + 1 + 5 + 1
    assert (await platform.audit.verify()).is_intact


async def test_failures_from_one_address_are_throttled_whatever_the_username(
    database: Database,
) -> None:
    platform = build(database, Clock(), replace(FAST, throttle_per_source=3))
    await platform.access.administration.bootstrap_administrator("admin", PASSWORD)
    for name in ("a1", "a2", "a3"):
        await platform.access.logins.login(name, PASSWORD, "198.51.100.7")
    refused = await platform.access.logins.login("admin", PASSWORD, "198.51.100.7")
    assert isinstance(refused, LoginRefused) and refused.reason is LoginFailure.THROTTLED
    assert refused.retry_after == pytest.approx(300.0)
    await logged_in(platform, "admin")  # from another address


async def test_a_login_rehashes_a_password_hashed_with_old_parameters(
    database: Database,
) -> None:
    clock = Clock()
    old = build(database, clock)
    user, _ = await old.access.administration.bootstrap_administrator("admin", PASSWORD)
    assert "m=1024,t=1,p=1" in user.password_hash
    new = build(database, clock, replace(FAST, argon2_memory_kib=2048, argon2_time_cost=2))
    await logged_in(new, "admin")
    stored = await new.access.directory.user_by_username("admin")
    assert stored is not None and "m=2048,t=2,p=1" in stored.password_hash
    await logged_in(new, "admin")


async def test_logout_and_disabling_end_sessions(platform: Platform) -> None:
    administration = platform.access.administration
    await administration.bootstrap_administrator("admin", PASSWORD)
    boss = await logged_in(platform, "admin")
    await administration.create_user(
        boss.principal, "li", "李", boss.principal.organisation_id, Role.MONITOR, PASSWORD,
        source=None,
    )  # fmt: skip
    monitor = await logged_in(platform, "li")
    assert await platform.access.logins.logout(boss.session_id, "192.0.2.10")
    assert not await platform.access.logins.logout(boss.session_id, "192.0.2.10")
    assert await platform.access.sessions.resolve(boss.session_id, platform.clock.now) is None

    boss = await logged_in(platform, "admin")
    assert monitor.principal.user_id is not None
    await administration.set_enabled(boss.principal, monitor.principal.user_id, False, source=None)
    assert await platform.access.sessions.resolve(monitor.session_id, platform.clock.now) is None
    assert await platform.access.logins.login("li", PASSWORD, None) == LoginRefused(
        LoginFailure.DISABLED
    )
    with pytest.raises(PermissionDenied):
        await administration.set_enabled(boss.principal, boss.principal.user_id or 0, False,
                                         source=None)  # fmt: skip
    assert AuditAction.LOGOUT in [a for a, _, _ in await platform.audit_actions()]


async def test_create_admin_rules(platform: Platform) -> None:
    administration = platform.access.administration
    with pytest.raises(PasswordRejected) as refused:
        await administration.bootstrap_administrator("admin", "admin12345")
    assert [issue.problem.value for issue in refused.value.issues] == [
        "too_few_kinds", "contains_username"
    ]  # fmt: skip
    user, top = await administration.bootstrap_administrator("admin", PASSWORD, tier=OrgTier.BUREAU)
    assert (top.name, top.tier, user.role) == ("national", OrgTier.BUREAU, Role.ADMINISTRATOR)
    with pytest.raises(Conflict):
        await administration.bootstrap_administrator("ADMIN", PASSWORD)
    second, same = await administration.bootstrap_administrator("deputy", PASSWORD)
    assert same == top and second.organisation_id == top.id
    with pytest.raises(InvalidInput):
        await administration.bootstrap_administrator("x", PASSWORD)


@pytest.fixture
async def cameras(database: Database) -> None:
    await register_cameras(database)


async def register_cameras(database: Database) -> None:
    """An NVR with two cameras and an IPC, registered with their catalogs."""
    devices, channels = DeviceRepository(database.sessions), ChannelRepository(database.sessions)
    for device_id, items in (
        (NVR, [ChannelData(CAMERA_1, parent_id=NVR), ChannelData(CAMERA_2, parent_id=NVR)]),
        (IPC, [ChannelData(IPC, parent_id=IPC)]),
    ):
        await devices.upsert_registration(
            device_id, transport=Transport.UDP, remote_host="192.0.2.50", remote_port=5060,
            contact_uri=f"sip:{device_id}@192.0.2.50:5060", expires=3600, gb_version="3.0",
            at=T0,
        )  # fmt: skip
        await channels.replace_catalog(device_id, items, at=T0)


async def test_organisations_farms_grants_and_what_each_sees(
    platform: Platform, cameras: None
) -> None:
    administration, access = platform.access.administration, platform.access.cameras
    await administration.bootstrap_administrator("chief", PASSWORD)
    chief = (await logged_in(platform, "chief")).principal
    bureau = await administration.create_organisation(
        chief, "广州局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    branch = await administration.create_organisation(
        chief, "番禺分支", OrgTier.BRANCH, bureau.id, source=None
    )
    other = await administration.create_organisation(
        chief, "深圳局", OrgTier.BUREAU, chief.organisation_id, source=None
    )
    with pytest.raises(InvalidInput, match="can hold only a bureau"):
        await administration.create_organisation(
            chief, "x", OrgTier.BRANCH, chief.organisation_id, source=None
        )
    farm = await administration.create_farm(chief, "一号猪场", "GZ-0001", branch.id, source=None)
    with pytest.raises(Conflict):
        await administration.create_farm(chief, "again", "GZ-0001", branch.id, source=None)
    assert await access.visible_channels(chief) == {CAMERA_1, CAMERA_2, CAMERA_3}  # unplaced
    await administration.place_device(chief, NVR, farm.id, source=None)

    await administration.create_user(
        chief, "gz.admin", "广州管理员", bureau.id, Role.ADMINISTRATOR, PASSWORD, source=None
    )
    await administration.create_user(
        chief, "sz.admin", "深圳管理员", other.id, Role.ADMINISTRATOR, PASSWORD, source=None
    )
    gz = (await logged_in(platform, "gz.admin")).principal
    sz = (await logged_in(platform, "sz.admin")).principal
    monitor = await administration.create_user(
        gz, "pan.monitor", "番禺监控员", branch.id, Role.MONITOR, PASSWORD, source=None
    )
    with pytest.raises(PermissionDenied):
        await administration.create_user(
            sz, "y.monitor", "y", branch.id, Role.MONITOR, PASSWORD, source=None
        )
    with pytest.raises(PermissionDenied):
        await administration.grant(sz, monitor.id, FarmGrant(farm.id), source=None)
    with pytest.raises(PermissionDenied):  # the IPC is on no farm: only the top grants it
        await administration.grant(gz, monitor.id, ChannelGrant(IPC), source=None)

    assert await access.visible_channels(gz) == {CAMERA_1, CAMERA_2}
    assert await access.visible_channels(sz) == frozenset()
    pan = (await logged_in(platform, "pan.monitor")).principal
    assert await access.visible_channels(pan) == frozenset()
    assert await administration.grant(gz, monitor.id, ChannelGrant(CAMERA_2), source=None)
    assert not await administration.grant(gz, monitor.id, ChannelGrant(CAMERA_2), source=None)
    assert await access.visible_channels(pan) == {CAMERA_2}
    assert await access.can_view(pan, CAMERA_2) and not await access.can_view(pan, CAMERA_1)
    # Reads are cached (AccessCache); a revoked grant still takes effect at once.
    assert await administration.revoke_grant(gz, monitor.id, ChannelGrant(CAMERA_2), source=None)
    assert not await access.can_view(pan, CAMERA_2)
    assert await access.visible_channels(pan) == frozenset()
    assert await administration.grant(gz, monitor.id, ChannelGrant(CAMERA_2), source=None)
    await administration.grant(gz, monitor.id, DeviceGrant(NVR), source=None)
    assert await access.visible_channels(pan) == {CAMERA_1, CAMERA_2}
    assert await administration.revoke_grant(gz, monitor.id, DeviceGrant(NVR), source=None)
    await administration.grant(chief, monitor.id, FarmGrant(farm.id), source=None)
    assert await access.visible_channels(pan) == {CAMERA_1, CAMERA_2}
    assert not await access.can_view(pan, "34020000001319999999")

    role_changed = await administration.set_role(gz, monitor.id, Role.ADMINISTRATOR, source=None)
    assert role_changed.role is Role.ADMINISTRATOR
    assert [u.username for u in await administration.users(gz)] == ["gz.admin", "pan.monitor"]
    actions = {action for action, _, _ in await platform.audit_actions()}
    assert {AuditAction.GRANT_CHANGE, AuditAction.ROLE_CHANGE, AuditAction.USER_CHANGE,
            AuditAction.CONFIG_CHANGE} <= actions  # fmt: skip
    assert (await platform.audit.verify()).is_intact


async def test_api_tokens_are_issued_resolved_and_revoked(
    platform: Platform, cameras: None
) -> None:
    administration, tokens = platform.access.administration, platform.access.tokens
    await administration.bootstrap_administrator("chief", PASSWORD)
    chief = (await logged_in(platform, "chief")).principal
    issued = await tokens.issue(
        chief, "报表系统", Role.MONITOR, chief.organisation_id, [ChannelGrant(CAMERA_1)],
        source="192.0.2.10",
    )  # fmt: skip
    assert issued.token.startswith("fwt_") and [g.target for g in issued.grants] == [
        ChannelGrant(CAMERA_1)
    ]
    principal = await tokens.resolve(issued.token, platform.clock.now)
    assert isinstance(principal, Principal)
    assert (principal.kind, principal.token_id, principal.csrf_token) == (
        PrincipalKind.TOKEN, issued.record.id, None
    )  # fmt: skip
    assert await platform.access.cameras.visible_channels(principal) == {CAMERA_1}
    assert await tokens.resolve(issued.token + "x", platform.clock.now) is None
    assert await tokens.resolve("Bearer nonsense", platform.clock.now) is None
    with pytest.raises(PermissionDenied):  # a token cannot mint tokens
        await tokens.issue(principal, "t", Role.MONITOR, chief.organisation_id)
    with pytest.raises(InvalidInput):
        await tokens.issue(chief, "a", Role.ADMINISTRATOR, chief.organisation_id,
                           [FarmGrant(1)])  # fmt: skip

    revoked = await tokens.revoke(chief, issued.record.id, source="192.0.2.10")
    assert revoked.revoked_at == platform.clock.now
    assert await tokens.resolve(issued.token, platform.clock.now) is None
    expiring = await tokens.issue(
        chief, "short", Role.ADMINISTRATOR, chief.organisation_id,
        expires_at=platform.clock.now + timedelta(hours=1),
    )  # fmt: skip
    assert await tokens.resolve(expiring.token, platform.clock.now) is not None
    assert await tokens.resolve(expiring.token, platform.clock.advance(hours=1)) is None
    assert [t.name for t in await tokens.tokens(chief)] == ["报表系统", "short"]
    actions = [action for action, _, _ in await platform.audit_actions()]
    assert actions.count(AuditAction.TOKEN_ISSUE) == 2
    assert actions.count(AuditAction.TOKEN_REVOKE) == 1
    async with platform.database.sessions() as session:
        stored = list(await session.scalars(text("SELECT token_hash FROM api_tokens")))
    assert issued.token not in stored
