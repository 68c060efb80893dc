"""Shared fixtures: a real `farmwatch serve` process on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import uvloop
from hypothesis import HealthCheck, settings

from tests.peers.server_process import ROOT, RunningServer, start_server, stop_server

__all__ = ["ROOT", "RunningServer"]

# Property tests check what comes out, never how fast: with three xdist workers beside real
# servers an example can take longer than hypothesis's default 200 ms deadline, which then
# fails a correct test (so does the health check of slow example generation). Speed is
# measured by bench/, not here.
settings.register_profile("farmwatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("farmwatch")


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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`), which tests share a worker.

    A module's tests stay together (its module-scoped servers and rigs are built once);
    the tests that bind the three tiers' fixed loopback addresses run one at a time, on one
    worker. (PostgreSQL tests need no such care: each has a schema of its own.) Runs before
    xdist's own hook, which turns the group into the scheduling unit.
    """
    groups: dict[int, str] = {}
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is not None:
            groups[id(item)] = str(marker.args[0] if marker.args else marker.kwargs["name"])
            continue
        if item.get_closest_marker("tier_addresses") is not None:
            group = "tier-addresses"
        else:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
        groups[id(item)] = group
    # The longest groups first: xdist hands groups out in this order (with
    # --no-loadscope-reorder; by default it orders them by their number of tests, which put
    # the one-test, four-minute recording group last, running alone at the end).
    items.sort(key=lambda item: _LONG_GROUPS.get(groups[id(item)], len(_LONG_GROUPS)))


_LONG_GROUPS = {
    group: rank
    for rank, group in enumerate(
        (
            "tier-addresses",  # every cascade test, one at a time
            "tests/e2e/test_platform_recording.py",  # ~4 minutes in one test
            "tests/e2e/test_live.py",
            "tests/e2e/test_downloads.py",
            "tests/e2e/test_alarm_evidence.py",
            "tests/e2e/test_anomalies.py",
            "tests/e2e/test_picture_diagnosis.py",
        )
    )
}
"""Groups measured to take a minute or more, longest first (`--durations`)."""
