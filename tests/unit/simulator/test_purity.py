"""The simulator's recording cores stay pure: no I/O, clock or logging imports (STYLE B1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR = Path(__file__).resolve().parents[3] / "farmwatch" / "simulator"
PURE = [
    "record_settings.py",
    "record_index.py",
    "recorded_time.py",
    "record_player.py",
    "playback_control.py",
    "frame_scheduler.py",
    "camera_state.py",
]
FORBIDDEN = {"asyncio", "socket", "time", "logging", "uvloop", "random", "secrets"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", PURE)
def test_recording_cores_import_no_io(name: str) -> None:
    assert not _imported_roots(SIMULATOR / name) & FORBIDDEN
