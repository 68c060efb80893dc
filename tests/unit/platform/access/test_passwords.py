"""The password policy's verdicts and messages, and argon2id hashing with re-hash detection."""

from __future__ import annotations

import pytest

from farmwatch.platform.access import (
    Argon2Parameters,
    PasswordHashing,
    PasswordPolicy,
    PasswordProblem,
    normalise_username,
)

POLICY = PasswordPolicy()
FAST = Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1)


@pytest.mark.parametrize(
    "password",
    ["Correct-horse9", "tr0ub4dor&three", "牧场Monitor2026", "ABCDEFGHij12", "abcdefgh1!@#"],
)
def test_long_mixed_passwords_pass(password: str) -> None:
    assert POLICY.issues(password, "wang.li") == []


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Sh0rt!", [PasswordProblem.TOO_SHORT]),
        ("alllowercaseletters", [PasswordProblem.TOO_FEW_KINDS]),
        ("lowercase123456", [PasswordProblem.TOO_FEW_KINDS]),
        ("wang.li-Secret9", [PasswordProblem.CONTAINS_USERNAME]),
        ("WANG.LI2026abc", [PasswordProblem.CONTAINS_USERNAME]),
        ("P@ssw0rd123", [PasswordProblem.TOO_COMMON]),
        ("Admin@123456", [PasswordProblem.TOO_COMMON]),
        ("short", [PasswordProblem.TOO_SHORT, PasswordProblem.TOO_FEW_KINDS]),
        ("Aa1!" * 70, [PasswordProblem.TOO_LONG]),
    ],
)
def test_each_broken_rule_is_named(password: str, problems: list[PasswordProblem]) -> None:
    assert [issue.problem for issue in POLICY.issues(password, "wang.li")] == problems


def test_messages_say_what_to_do() -> None:
    messages = [issue.message for issue in POLICY.issues("abc", "bob")]
    assert messages == [
        "the password must have at least 10 characters (it has 3)",
        "the password must mix at least 3 of: lower-case letters, upper-case letters, digits, "
        "other characters (it has 1)",
    ]


def test_the_minimum_length_is_configurable() -> None:
    issues = PasswordPolicy(min_length=14).issues("Correct-hors9", "x")
    assert [issue.message for issue in issues] == [
        "the password must have at least 14 characters (it has 13)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" Wang.Li ", "wang.li"), ("admin", "admin"), ("a", None), ("王力", None), ("-x", None)],
)
def test_usernames_are_trimmed_lower_case_and_plain(text: str, expected: str | None) -> None:
    assert normalise_username(text) == expected


def test_argon2id_hashes_verify_and_carry_their_parameters() -> None:
    hashing = PasswordHashing(FAST)
    stored = hashing.hash("Correct-horse9")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert stored != hashing.hash("Correct-horse9")  # salted
    assert hashing.verify(stored, "Correct-horse9")
    assert not hashing.verify(stored, "correct-horse9")
    assert not hashing.verify("not a hash", "Correct-horse9")
    assert not hashing.needs_rehash(stored)
    stronger = PasswordHashing(Argon2Parameters(time_cost=2, memory_kib=2048, parallelism=1))
    assert stronger.needs_rehash(stored)
    assert stronger.verify(stored, "Correct-horse9")  # old hashes still verify
    assert stronger.needs_rehash("not a hash")
    hashing.burn("anything")  # the dummy check runs and raises nothing
