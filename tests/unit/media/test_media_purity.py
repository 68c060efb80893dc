"""The demuxer's helper modules are pure too (tests/unit/test_purity.py lists the others)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[3] / "farmwatch" / "media"
FORBIDDEN = {"asyncio", "socket", "time", "logging", "sqlalchemy", "aiohttp", "uvloop"}


@pytest.mark.parametrize(
    "name",
    [
        "access_unit.py",
        "psm.py",
        "pes_header.py",
        "ports.py",
        "errors.py",
        "reorder.py",
        "output_clock.py",
        "playback_clock.py",
        "stream_progress.py",
        "source_hold.py",
        "recording_pacer.py",
        "ps_frame.py",
        "relay/spec.py",
        "relay/packetizer.py",
        "relay/flow.py",
        "relay/liveness.py",
        "relay/es_muxing.py",
        "sinks/ps_scan.py",
        "sinks/segment_index.py",
        "sinks/segment_timeline.py",
    ],  # fmt: skip
)
def test_module_imports_no_io(name: str) -> None:
    tree = ast.parse((MEDIA / name).read_text())
    roots = {
        alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for alias in n.names
    }
    roots |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert roots and not roots & FORBIDDEN
