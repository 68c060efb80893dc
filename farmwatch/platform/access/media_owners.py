"""Who opened which media session, search, download or clip (issue 10 §3: a media URL is
bound to who opened it, so a copied URL plays nowhere else).

Live and playback sessions and record searches live as long as the platform process at
most: they are held here in memory by the login session that opened them (or the API
token), so another session of the same person does not play them either. Downloads and
evidence clips outlast sessions and restarts: they are kept in the database by the user
(or token) who asked for them, who may fetch the file from any later session.
Everything owned names its camera, so that the camera check is made again on every use
(a grant revoked meanwhile stops the session's outputs too).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.access.records import Principal, principal_actor
from farmwatch.platform.audit import AuditActor
from farmwatch.platform.errors import Conflict
from farmwatch.platform.models import MediaOwnerRow

__all__ = ["Holder", "HolderKind", "MediaOwners", "Owned", "OwnedKind", "holder_of"]

Clock = Callable[[], datetime]
OWNERS: Table = MediaOwnerRow.__table__  # type: ignore[assignment]
# Sessions and searches held in memory at once; past it the oldest is forgotten (its URLs
# then answer 404). The services themselves hold far fewer.
MAX_TRANSIENT = 50_000


class OwnedKind(StrEnum):
    LIVE = "live"
    PLAYBACK = "playback"
    RECORD_SEARCH = "record_search"
    DOWNLOAD = "download"
    CLIP = "clip"
    BROADCAST = "broadcast"
    """A voice broadcast to a camera (held like a live session)."""

    @property
    def is_lasting(self) -> bool:
        """Kept in the database, held by the person (not the login session)."""
        return self in (OwnedKind.DOWNLOAD, OwnedKind.CLIP)


class HolderKind(StrEnum):
    LOGIN_SESSION = "login_session"
    USER = "user"
    TOKEN = "token"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds something: a login session (by its ID's digest), a user or a token."""

    kind: HolderKind
    key: str


def holder_of(principal: Principal, kind: OwnedKind) -> Holder:
    """Who `principal` is as the holder of something of `kind`."""
    if principal.token_id is not None:
        return Holder(HolderKind.TOKEN, str(principal.token_id))
    if kind.is_lasting and principal.user_id is not None:
        return Holder(HolderKind.USER, str(principal.user_id))
    if not kind.is_lasting and principal.session_id_hash is not None:
        return Holder(HolderKind.LOGIN_SESSION, principal.session_id_hash)
    raise ValueError(f"principal {principal.name!r} cannot hold a {kind.value}")


@dataclass(frozen=True, slots=True)
class Owned:
    kind: OwnedKind
    object_id: str
    holder: Holder
    channel_id: str
    actor: AuditActor | None = None
    """Who opened it, as the audit trail names them (sessions and searches only)."""
    organisation_id: int | None = None

    def is_held_by(self, principal: Principal) -> bool:
        try:
            return holder_of(principal, self.kind) == self.holder
        except ValueError:
            return False


def _holder_from_row(row: Any) -> Holder:
    if row.token_id is not None:
        return Holder(HolderKind.TOKEN, str(row.token_id))
    return Holder(HolderKind.USER, str(row.user_id))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MediaOwners:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        clock: Clock = _utc_now,
        max_transient: int = MAX_TRANSIENT,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._clock = clock
        self._max_transient = max_transient
        self._transient: OrderedDict[tuple[OwnedKind, str], Owned] = OrderedDict()

    async def record(
        self, kind: OwnedKind, object_id: str, principal: Principal, channel_id: str
    ) -> Owned:
        """`principal` opened `object_id` (of camera `channel_id`)."""
        owned = Owned(
            kind, object_id, holder_of(principal, kind), channel_id,
            principal_actor(principal), principal.organisation_id,
        )  # fmt: skip
        if not kind.is_lasting:
            self._transient[(kind, object_id)] = owned
            while len(self._transient) > self._max_transient:
                self._transient.popitem(last=False)
            return owned
        values: dict[str, object] = {
            "kind": kind.value, "object_id": object_id, "user_id": None, "token_id": None,
            "channel_id": channel_id, "created_at": self._clock(),
        }  # fmt: skip
        column = "token_id" if owned.holder.kind is HolderKind.TOKEN else "user_id"
        values[column] = int(owned.holder.key)
        try:
            async with self._sessions.begin() as session:
                await session.execute(insert(OWNERS).values(values))
        except IntegrityError as error:
            raise Conflict(f"{kind.value} {object_id} has an owner already") from error
        return owned

    async def owner(self, kind: OwnedKind, object_id: str) -> Owned | None:
        if not kind.is_lasting:
            return self._transient.get((kind, object_id))
        statement = select(OWNERS).where(
            OWNERS.c.kind == kind.value, OWNERS.c.object_id == object_id
        )
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        return Owned(kind, object_id, _holder_from_row(row), row.channel_id)

    def forget(self, kind: OwnedKind, object_id: str) -> Owned | None:
        """A session or search is over (lasting ownership stays with its file)."""
        return self._transient.pop((kind, object_id), None)

    def transient(self) -> list[Owned]:
        """Every session and search held now, oldest first."""
        return list(self._transient.values())

    def forget_ended(self, is_open: Callable[[Owned], bool]) -> list[Owned]:
        """Forget the sessions and searches that `is_open` says have ended; those."""
        ended = [owned for owned in self._transient.values() if not is_open(owned)]
        for owned in ended:
            del self._transient[(owned.kind, owned.object_id)]
        return ended

    def held_by_login(self, session_id_hash: str) -> list[Owned]:
        """What one login session holds (closed with it at logout)."""
        holder = Holder(HolderKind.LOGIN_SESSION, session_id_hash)
        return [owned for owned in self._transient.values() if owned.holder == holder]
