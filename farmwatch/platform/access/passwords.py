"""Console passwords (regulation art. 7: no unauthorised use): the policy a new password
must meet, and argon2id hashing (RFC 9106) through argon2-cffi.

`PasswordPolicy.issues(password, username)` is pure and says every reason a password is
refused, in words an operator understands. `PasswordHashing` hashes with explicit argon2id
parameters, verifies, tells when a stored hash was made with other parameters (so a login
re-hashes it), and `burn` spends the same work on a dummy hash when a username matches no
account, so a login takes as long whether the account exists or not. Hashing is CPU and
memory heavy (64 MiB by default): callers run it off the event loop, a few at a time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "COMMON_PASSWORDS",
    "Argon2Parameters",
    "PasswordHashing",
    "PasswordIssue",
    "PasswordPolicy",
    "PasswordProblem",
]

# Passwords long and mixed enough to pass the other rules, yet among the first any guesser
# tries (leaked lists, vendor defaults of cameras and NVRs in the field). Compared ignoring case.
COMMON_PASSWORDS = frozenset(
    {
        "password123", "password@123", "password123!", "passw0rd123", "p@ssw0rd123",
        "p@ssword123", "admin@12345", "admin@123456", "admin123456", "administrator1",
        "aa123456789", "abc@123456", "abcd@123456", "abc123456789", "qwerty@123",
        "qwer1234!@#$", "qwerty123456", "1qaz@wsx3edc", "1qaz2wsx#edc", "1qaz2wsx3edc",
        "zxcvbnm@123", "root@123456", "test@123456", "welcome@123", "welcome123!",
        "changeme123", "huawei@123", "hik12345+", "hikvision123", "dahua@123456",
        "farmwatch123", "farmwatch@123", "iloveyou123", "woaini@1314", "a1234567890",
    }
)  # fmt: skip


class PasswordProblem(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_FEW_KINDS = "too_few_kinds"
    CONTAINS_USERNAME = "contains_username"
    TOO_COMMON = "too_common"


@dataclass(frozen=True, slots=True)
class PasswordIssue:
    problem: PasswordProblem
    message: str


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """At least `min_length` characters (at most `max_length`), at least `min_kinds` of the
    four kinds (lower-case letters, upper-case letters, digits, anything else), not
    containing the username, not a well-known password."""

    min_length: int = 10
    max_length: int = 256
    min_kinds: int = 3

    def issues(self, password: str, username: str) -> list[PasswordIssue]:
        """Every reason `password` is refused for `username` (empty: accepted)."""
        found: list[PasswordIssue] = []
        if len(password) < self.min_length:
            found.append(PasswordIssue(
                PasswordProblem.TOO_SHORT,
                f"the password must have at least {self.min_length} characters "
                f"(it has {len(password)})",
            ))  # fmt: skip
        if len(password) > self.max_length:
            found.append(PasswordIssue(
                PasswordProblem.TOO_LONG,
                f"the password must have at most {self.max_length} characters",
            ))  # fmt: skip
        kinds = _kinds(password)
        if kinds < self.min_kinds:
            found.append(PasswordIssue(
                PasswordProblem.TOO_FEW_KINDS,
                f"the password must mix at least {self.min_kinds} of: lower-case letters, "
                f"upper-case letters, digits, other characters (it has {kinds})",
            ))  # fmt: skip
        name = username.strip().casefold()
        if name and name in password.casefold():
            found.append(PasswordIssue(
                PasswordProblem.CONTAINS_USERNAME, "the password must not contain the username"
            ))  # fmt: skip
        if password.casefold() in COMMON_PASSWORDS:
            found.append(PasswordIssue(
                PasswordProblem.TOO_COMMON,
                "the password is one of the first any attacker tries: choose another",
            ))  # fmt: skip
        return found


def _kinds(password: str) -> int:
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    other = any(not (c.islower() or c.isupper() or c.isdigit()) for c in password)
    return lower + upper + digit + other


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """argon2id cost. The defaults are RFC 9106's second recommended option (t=3, 64 MiB,
    p=4), which argon2-cffi also ships; raise them when logins stay fast enough."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4
    hash_length: int = 32
    salt_length: int = 16


class PasswordHashing:
    """argon2id hashes with the given parameters."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=parameters.hash_length,
            salt_len=parameters.salt_length,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """A new salted argon2id hash of `password` (PHC string format)."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches; False also for a hash that does not parse."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether `password_hash` was made with other parameters than these."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def burn(self, password: str) -> None:
        """Spend a verification's work for nothing (a username that matches no account)."""
        self.verify(self._dummy_hash, password)
