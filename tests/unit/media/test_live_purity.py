"""The live-ingest cores are pure too: no I/O, clock or logging imports (STYLE B4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[3] / "farmwatch" / "media"
FORBIDDEN = {"asyncio", "socket", "time", "logging", "sqlalchemy", "aiohttp", "uvloop"}
PURE = ["ingest.py", "reception.py", "stream_core.py", "ports.py", "settings.py", "events.py"]


@pytest.mark.parametrize("name", PURE)
def test_core_imports_no_io(name: str) -> None:
    tree = ast.parse((MEDIA / name).read_text())
    roots = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    roots |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert roots and not roots & FORBIDDEN
