"""`farmwatch create-admin` and `farmwatch audit verify` as an operator runs them: the real
command in a subprocess, on a temporary SQLite database that the test then tampers with."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

FARMWATCH = str(Path(sys.executable).with_name("farmwatch"))
PASSWORD = "Correct-horse9"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "farmwatch.toml"
    # Cheap argon2 parameters: the command's behaviour, not the hash's cost, is under test.
    path.write_text(
        f'[storage]\ndir = "{tmp_path / "data"}"\n'
        "[access]\nargon2_time_cost = 1\nargon2_memory_kib = 1024\nargon2_parallelism = 1\n"
    )
    return path


def farmwatch(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARMWATCH_")}
    return subprocess.run(
        [FARMWATCH, *args], input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def database(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "data" / "farmwatch.db")


def test_create_admin_reads_the_password_from_a_pipe_once(config: Path) -> None:
    created = farmwatch("create-admin", "Admin", "--config", str(config), "--org", "总局",
                        stdin=PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "administrator admin created in 总局 (national" in created.stdout
    with database(config) as db:
        rows = db.execute(
            "SELECT u.username, u.role, o.name, o.tier, o.parent_id, u.password_hash"
            " FROM users u JOIN organisations o ON o.id = u.organisation_id"
        ).fetchall()
    assert [row[:5] for row in rows] == [("admin", "administrator", "总局", "national", None)]
    assert rows[0][5].startswith("$argon2id$") and PASSWORD not in rows[0][5]

    again = farmwatch("create-admin", "admin", "--config", str(config), stdin=PASSWORD + "\n")
    assert again.returncode == 1
    assert "user 'admin' exists" in again.stderr


def test_create_admin_refuses_a_weak_or_missing_password(config: Path) -> None:
    weak = farmwatch("create-admin", "bob", "--config", str(config), stdin="bob2024\n")
    assert weak.returncode == 1
    assert "at least 10 characters (it has 7)" in weak.stderr
    assert "must not contain the username" in weak.stderr
    empty = farmwatch("create-admin", "bob", "--config", str(config), stdin="")
    assert empty.returncode == 1 and "no password" in empty.stderr
    with database(config) as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_audit_verify_names_an_edited_row(config: Path) -> None:
    for name in ("admin", "deputy"):
        assert farmwatch("create-admin", name, "--config", str(config),
                         stdin=PASSWORD + "\n").returncode == 0  # fmt: skip
    intact = farmwatch("audit", "verify", "--config", str(config))
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit trail intact: 3 rows" in intact.stdout

    with database(config) as db:
        db.execute("UPDATE audit_log SET actor_name = 'someone else' WHERE id = 2")
    broken = farmwatch("audit", "verify", "--config", str(config))
    assert broken.returncode == 1
    assert "broken at row 2 (edited)" in broken.stdout
    assert "1 rows before it check out" in broken.stdout


def test_audit_verify_names_a_deleted_row(config: Path) -> None:
    for name in ("admin", "deputy", "third"):
        assert farmwatch("create-admin", name, "--config", str(config),
                         stdin=PASSWORD + "\n").returncode == 0  # fmt: skip
    with database(config) as db:
        db.execute("DELETE FROM audit_log WHERE id = 3")
    broken = farmwatch("audit", "verify", "--config", str(config))
    assert broken.returncode == 1
    assert "broken at row 3 (deleted): row 3 missing" in broken.stdout

    with database(config) as db:  # the last row deleted too: still seen, by the chain head
        db.execute("DELETE FROM audit_log WHERE id >= 3")
    assert "broken at row 3 (deleted)" in farmwatch("audit", "verify", "--config",
                                                     str(config)).stdout  # fmt: skip


def test_audit_verify_on_a_new_database_finds_no_rows(config: Path) -> None:
    result = farmwatch("audit", "verify", "--config", str(config))
    assert result.returncode == 0 and "intact: 0 rows" in result.stdout
