"""`farmwatch create-admin` and `farmwatch audit verify` as an operator runs them: the real
command in a subprocess, on a temporary SQLite database that the test then tampers with."""

from __future__ import annotations

import os
import pty
import select
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


def _wait_for(stream: int, text: bytes, seen: bytearray) -> None:
    """Read `stream` until `text` has appeared (10 s at most)."""
    while text not in seen:
        ready, _, _ = select.select([stream], [], [], 10.0)
        assert ready, f"no {text!r} in {bytes(seen)!r}"
        chunk = os.read(stream, 1024)
        assert chunk, f"closed before {text!r}: {bytes(seen)!r}"
        seen += chunk


def create_admin_on_a_terminal(config: Path, first: str, second: str) -> tuple[int, str]:
    """Run create-admin with a terminal for standard input (and no controlling terminal, so
    getpass reads that one), answering its two prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARMWATCH_")}
    terminal, child_side = pty.openpty()
    process = subprocess.Popen(
        [FARMWATCH, "create-admin", "admin", "--config", str(config)],
        stdin=child_side, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, env=env,
    )  # fmt: skip
    os.close(child_side)
    assert process.stderr is not None and process.stdout is not None
    seen = bytearray()
    try:
        _wait_for(process.stderr.fileno(), b"Password: ", seen)
        os.write(terminal, first.encode() + b"\n")
        _wait_for(process.stderr.fileno(), b"Password again: ", seen)
        os.write(terminal, second.encode() + b"\n")
        code = process.wait(timeout=30)
    finally:
        process.kill()
        os.close(terminal)
    return code, seen.decode() + process.stderr.read().decode() + process.stdout.read().decode()


def test_create_admin_on_a_terminal_asks_twice(config: Path) -> None:
    code, output = create_admin_on_a_terminal(config, PASSWORD, PASSWORD + "x")
    assert code == 1 and "the two passwords differ" in output
    code, output = create_admin_on_a_terminal(config, PASSWORD, PASSWORD)
    assert code == 0, output
    assert "administrator admin created" in output
