"""Shared fixtures: a real `farmwatch serve` process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.server_process import ROOT, RunningServer, start_server, stop_server

__all__ = ["ROOT", "RunningServer"]


@pytest.fixture
def farmwatch_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        stop_server(server)
