"""Tables of access control (regulation art. 7–10; issue 10): organisations in three tiers,
farms and the devices placed on them, users, camera grants, login sessions and API tokens.

Secrets are never stored: a session ID and an API token are kept as their SHA-256, a
password as its argon2id hash. Grants live in two tables (a user's, a token's) so that each
has a real foreign key and a primary key that refuses the same grant twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from farmwatch.platform.models.base import Base, SurrogateKey

__all__ = [
    "ApiTokenRow",
    "FarmDeviceRow",
    "FarmRow",
    "LoginSessionRow",
    "MediaOwnerRow",
    "OrganisationRow",
    "TokenGrantRow",
    "UserGrantRow",
    "UserRow",
]

# Foreign keys to surrogate keys have the same type (64-bit, INTEGER on SQLite).
ReferenceKey = SurrogateKey


class OrganisationRow(Base):
    """National (总局), bureau (直属局) or branch (分支机构); `parent_id` None for the top."""

    __tablename__ = "organisations"
    __table_args__ = (Index(None, "parent_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    tier: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ReferenceKey, ForeignKey("organisations.id"))
    created_at: Mapped[datetime]


class FarmRow(Base):
    """A farm under supervision; `filing_number` is its 备案编号. The register's fields
    (regulation art. 5–6: owner or operator, contact, address, species, approval state) are
    kept by `farmwatch.platform.supervision.farms`; the state's history is
    `farm_state_changes` (`models/farm_register.py`)."""

    __tablename__ = "farms"
    __table_args__ = (Index(None, "organisation_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    filing_number: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int] = mapped_column(ReferenceKey, ForeignKey("organisations.id"))
    created_at: Mapped[datetime]
    operator: Mapped[str | None] = mapped_column(String(128))
    """The owner or operator (所有人或经营人) who applied."""
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    species: Mapped[str | None] = mapped_column(String(16))
    species_other: Mapped[str | None] = mapped_column(String(64))
    """What the farm keeps when `species` is "other", in the operator's words."""
    state: Mapped[str] = mapped_column(String(16), default="applied", server_default="applied")
    """The approval state (`ApprovalState`); farms from before the register start applied."""


class FarmDeviceRow(Base):
    """A device (camera, NVR) placed on a farm; its channels belong to that farm. No foreign
    key to `devices`: the placement outlives a device row being rewritten."""

    __tablename__ = "farm_devices"
    __table_args__ = (Index(None, "farm_id"),)

    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    farm_id: Mapped[int] = mapped_column(ReferenceKey, ForeignKey("farms.id", ondelete="CASCADE"))
    placed_at: Mapped[datetime]


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (Index(None, "organisation_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    organisation_id: Mapped[int] = mapped_column(ReferenceKey, ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserGrantRow(Base):
    """A monitor's camera grant: `kind` channel, device or farm; `target` its ID."""

    __tablename__ = "user_grants"

    user_id: Mapped[int] = mapped_column(
        ReferenceKey, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class LoginSessionRow(Base):
    """A console login: `id_hash` is the SHA-256 of the cookie's session ID."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index(None, "user_id"), Index(None, "expires_at"))

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ReferenceKey, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    csrf_token: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))


class ApiTokenRow(Base):
    """An integration's bearer token: `token_hash` is the SHA-256 of the token."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "organisation_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ReferenceKey, ForeignKey("organisations.id"))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class TokenGrantRow(Base):
    """An API token's camera grant (as `UserGrantRow`)."""

    __tablename__ = "token_grants"

    token_id: Mapped[int] = mapped_column(
        ReferenceKey, ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class MediaOwnerRow(Base):
    """Who asked for a download or an evidence clip (`kind` download or clip, `object_id`
    its ID): a user or an API token, and the camera it is of. Its file goes to them only."""

    __tablename__ = "media_owners"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ReferenceKey, ForeignKey("users.id", ondelete="CASCADE")
    )
    token_id: Mapped[int | None] = mapped_column(
        ReferenceKey, ForeignKey("api_tokens.id", ondelete="CASCADE")
    )
    channel_id: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
