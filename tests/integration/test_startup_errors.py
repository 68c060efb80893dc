"""`farmwatch serve` that cannot start says why in one line naming the setting, no traceback.

Each case runs the real command in a child process with one setting wrong.
"""

from __future__ import annotations

import ctypes
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.peers.raw_sip import free_port
from tests.peers.server_process import CONFIG


def serve(
    tmp_path: Path, preexec: Callable[[], None] | None = None, **settings: str
) -> tuple[int, str]:
    """Run `farmwatch serve` until it gives up; returns its exit code and stderr."""
    env = {
        **os.environ,
        "FARMWATCH_SIP_HOST": "127.0.0.1",
        "FARMWATCH_SIP_PORT": str(free_port()),
        "FARMWATCH_WEB_HOST": "127.0.0.1",
        "FARMWATCH_WEB_PORT": str(free_port()),
        "FARMWATCH_STORAGE_DIR": str(tmp_path / "data"),
        **{f"FARMWATCH_{name.upper()}": value for name, value in settings.items()},
    }
    result = subprocess.run(
        [sys.executable, "-m", "farmwatch", "serve", "--config", str(CONFIG)],
        env=env,
        cwd=tmp_path,
        preexec_fn=preexec,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return result.returncode, result.stderr


def the_line(stderr: str) -> str:
    """The one `farmwatch: ...` line; there is no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("farmwatch: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://farm@db.example/farmwatch", "mysql://farm@db.example/farmwatch"),
        ("postgresql://farm:s3cret@db.example/farmwatch", "postgresql://farm:***@db.example"),
        ("sqlite:///farmwatch.db", "sqlite:///farmwatch.db"),
        ("not a url", None),
        ("postgresql+asyncpg://farm:s3cret@db.example:port/farmwatch", None),
    ],
    ids=["mysql", "sync-postgresql", "sync-sqlite", "garbage", "bad-port"],
)
def test_a_database_url_of_an_unsupported_kind(tmp_path: Path, url: str, shown: str) -> None:
    code, stderr = serve(tmp_path, database_url=url)
    line = the_line(stderr)
    assert code == 2
    assert line.startswith("farmwatch: configuration error: database.url: "), line
    assert "sqlite+aiosqlite" in line and "postgresql+asyncpg" in line
    if shown is not None:
        assert shown in line
    assert "s3cret" not in stderr


def test_an_unreachable_database_server(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    code, stderr = serve(
        tmp_path, database_url=f"postgresql+asyncpg://farm:s3cret@127.0.0.1:{port}/x"
    )
    line = the_line(stderr)
    assert code == 1
    assert re.fullmatch(
        rf"farmwatch: cannot open the database postgresql\+asyncpg://farm:\*\*\*@127\.0\.0\.1:{port}"
        r"/x \(\[database\] url\): .*refused.*",
        line,
        re.I,
    ), line
    assert "s3cret" not in stderr


def test_a_database_url_parameter_the_driver_does_not_take(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://farm@127.0.0.1:{free_port()}/x?colour=blue"
    code, stderr = serve(tmp_path, database_url=url)
    line = the_line(stderr)
    assert code == 1
    assert line.startswith(f"farmwatch: cannot open the database {url} ([database] url): "), line
    assert "colour" in line


def test_an_unknown_database_host(tmp_path: Path) -> None:
    code, stderr = serve(tmp_path, database_url="postgresql+asyncpg://farm@no-such-host.invalid/x")
    line = the_line(stderr)
    assert code == 1
    assert line.startswith(
        "farmwatch: cannot open the database postgresql+asyncpg://farm@no-such-host.invalid/x "
        "([database] url): "
    ), line


@pytest.mark.skipif(not _postgres_reachable(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_a_database_that_does_not_exist(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/farmwatch_no_such_database"
    code, stderr = serve(tmp_path, database_url=url)
    line = the_line(stderr)
    assert code == 1
    assert line.startswith(f"farmwatch: cannot open the database {url} ([database] url): "), line
    assert "farmwatch_no_such_database" in line.split("): ", 1)[1]


def test_a_storage_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    folder = tmp_path / "a-file" / "data"
    code, stderr = serve(tmp_path, storage_dir=str(folder))
    line = the_line(stderr)
    assert code == 1
    assert line == (
        f"farmwatch: cannot use the storage folder {folder} ([storage] dir): not a directory"
    ), line


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_permission_override() -> None:
    """In the child before exec: root without the capabilities that let it ignore file
    permissions (CI runs as root), so a read-only folder is read-only to it too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_storage_folder_that_is_not_writable(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    as_root = os.geteuid() == 0
    try:
        code, stderr = serve(
            tmp_path,
            preexec=_drop_file_permission_override if as_root else None,
            storage_dir=str(folder),
        )
    finally:
        folder.chmod(0o755)
    line = the_line(stderr)
    assert code == 1
    assert line == (
        f"farmwatch: cannot use the storage folder {folder} ([storage] dir): permission denied"
    ), line


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by someone else (both UDP and TCP)."""
    port = free_port()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
    ):
        udp.bind(("127.0.0.1", port))
        tcp.bind(("127.0.0.1", port))
        tcp.listen()
        yield port


def test_a_sip_port_in_use(tmp_path: Path, taken_port: int) -> None:
    code, stderr = serve(tmp_path, sip_port=str(taken_port))
    line = the_line(stderr)
    assert code == 1
    assert line == (
        f"farmwatch: cannot listen for SIP on 127.0.0.1:{taken_port} ([sip] port): "
        "address already in use"
    ), line


def test_a_sip_port_whose_tcp_twin_is_in_use(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", port))
        tcp.listen()
        code, stderr = serve(tmp_path, sip_port=str(port))
    line = the_line(stderr)
    assert code == 1
    assert line == (
        f"farmwatch: cannot listen for SIP on 127.0.0.1:{port} ([sip] port): address already in use"
    ), line


def test_a_sip_address_not_on_this_machine(tmp_path: Path) -> None:
    code, stderr = serve(tmp_path, sip_host="192.0.2.1")  # TEST-NET-1, never local
    line = the_line(stderr)
    assert code == 1
    assert line.startswith("farmwatch: cannot listen for SIP on 192.0.2.1:"), line
    assert line.endswith("([sip] host): cannot assign requested address"), line


def test_a_web_port_in_use(tmp_path: Path, taken_port: int) -> None:
    code, stderr = serve(tmp_path, web_port=str(taken_port))
    line = the_line(stderr)
    assert code == 1
    assert line == (
        f"farmwatch: cannot listen for the web API on 127.0.0.1:{taken_port} ([web] port): "
        "address already in use"
    ), line
