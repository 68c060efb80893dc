"""The protocol cores stay pure: no I/O, clock or logging imports (STYLE B1, B3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "farmwatch"
PURE_PACKAGES = [ROOT / "sipserver/sip", ROOT / "sipserver/gb"]
PURE_MEDIA_MODULES = [
    "rtp.py",
    "rfc4571.py",
    "reorder.py",
    "ps_demux.py",
    "ps_mux.py",
    "nal.py",
    "frames.py",
    "rtp_packetizer.py",
    "g711.py",
    "g711_packetizer.py",
    "talk_audio.py",
]
PURE_OTHER_MODULES = [
    "sipserver/transport/tcp_guard.py",
    "sipserver/broadcast_match.py",
    "descriptor_budget.py",
    # Access rules and the audit hash chain: decided from what the caller loaded and `now`.
    "platform/access/records.py",
    "platform/access/rules.py",
    "platform/access/throttle.py",
    "platform/access/passwords.py",
    "platform/audit/records.py",
    "platform/audit/chain.py",
    # Who steers a camera and how fast: decided from the arguments and `now`.
    "platform/services/control_floor.py",
    # Checklists, the validation of monitoring records and the schedule (issue 11 item 2).
    "platform/supervision/checklists.py",
    "platform/supervision/monitoring_records.py",
    "platform/supervision/schedule.py",
    "platform/supervision/overview.py",
    "platform/supervision/spot_checks/draw.py",
    # The farm register's state machine and the checks of what an administrator sends.
    "platform/supervision/farms/approval.py",
    "platform/supervision/farms/application.py",
    "platform/supervision/farms/species.py",
    # The anomaly's states: decided from the current state, the step and `now`.
    "platform/supervision/anomalies/states.py",
    "platform/supervision/anomalies/records.py",
    # What a bad picture is: measured from the decoded planes alone.
    "platform/supervision/diagnosis/checks.py",
]
FORBIDDEN = {"asyncio", "socket", "time", "logging", "sqlalchemy", "aiohttp", "uvloop"}


def _pure_files() -> list[Path]:
    files = [path for package in PURE_PACKAGES for path in sorted(package.glob("*.py"))]
    media = [ROOT / "media" / name for name in PURE_MEDIA_MODULES]
    files += [path for path in media if path.exists()]
    files += [ROOT / name for name in PURE_OTHER_MODULES]
    return files


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_are_pure_modules_to_check() -> None:
    assert len(_pure_files()) >= 5


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    assert not (_imported_roots(path) & FORBIDDEN)
