"""Shared fixtures: a real `farmwatch serve` process on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import uvloop

from tests.peers.server_process import ROOT, RunningServer, start_server, stop_server

__all__ = ["ROOT", "RunningServer"]


@pytest.fixture
def farmwatch_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        stop_server(server)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Async tests run on uvloop, as `farmwatch serve` does (its transports differ)."""
    return {"uvloop": uvloop.new_event_loop}
