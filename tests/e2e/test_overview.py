"""The supervision overview end to end (总览; issue 11 item 7): a real `farmwatch serve`
with the simulator's NVR (two cameras) placed on one of a bureau's two farms. Through the
API a monitor makes a monitoring record and reports an anomaly, an administrator opens a
fault ticket by hand and draws a spot check; `/api/overview` then counts them on the
bureau and the top organisation, and the monitor's overview holds only his farm."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORD = "Overview-Monitor-1"
ANSWERS = {
    "drug_store.permitted_list": {"answer": "compliant"},
    "drug_store.labelled": {"answer": "compliant"},
}


@dataclass
class OverviewRig:
    rig: LiveRig
    top: Caller
    monitor: Caller
    bureau: int
    farm: int
    idle_farm: int


async def _created(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    status, answer = await caller.request("POST", path, body)
    assert status == 201, answer
    return dict(answer)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def overview(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OverviewRig]:
    tmp_path: Path = tmp_path_factory.mktemp("overview")
    async with live_rig(tmp_path, channels=2, env={"FARMWATCH_MEDIA_WORKERS": "0"}) as rig:
        browsers = Browsers(rig.base)
        try:
            top = browsers.new("top")
            await top.log_in(ADMIN, ADMIN_PASSWORD)
            bureau = await _created(top, "/api/organisations", {
                "name": "江门局", "tier": "bureau", "parent_id": rig.server.organisation_id,
            })  # fmt: skip
            farm = await _created(top, "/api/farms", {
                "name": "台山一号猪场", "filing_number": "JM-0001", "organisation_id": bureau["id"],
            })  # fmt: skip
            idle = await _created(top, "/api/farms", {
                "name": "开平二号鸡场", "filing_number": "JM-0002", "organisation_id": bureau["id"],
            })  # fmt: skip
            status, placed = await top.request(
                "PUT", f"/api/devices/{rig.fleet.device_ids[0]}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200, placed
            status, place = await top.request(
                "PUT", f"/api/channels/{rig.channel(0)}/placement", {"key_area": "drug_store"}
            )
            assert status == 200, place
            user = await _created(top, "/api/users", {
                "username": "mon.overview", "organisation_id": bureau["id"], "role": "monitor",
                "password": PASSWORD,
            })  # fmt: skip
            await _created(
                top,
                f"/api/users/{user['id']}/grants",
                {"kind": "channel", "target": rig.channel(0)},
            )
            monitor = browsers.new("mon.overview")
            await monitor.log_in("mon.overview", PASSWORD)
            yield OverviewRig(rig, top, monitor, bureau["id"], farm["id"], idle["id"])
        finally:
            await browsers.close()


async def _overview(caller: Caller, query: str = "") -> dict[str, Any]:
    status, answer = await caller.request("GET", f"/api/overview{query}")
    assert status == 200, answer
    return dict(answer)


async def _figures_settled(caller: Caller, bureau: int) -> dict[str, Any]:
    """The bureau's node once every camera reports online (the catalog may still be
    arriving when the rig starts)."""
    async with asyncio.timeout(15):
        while True:
            root = (await _overview(caller))["organisations"][0]
            node = next(c for c in root["children"] if c["id"] == bureau)
            if node["figures"]["cameras_online"] == 2:
                return node
            await asyncio.sleep(0.2)


async def test_the_overview_counts_what_was_recorded_through_the_api(
    overview: OverviewRig,
) -> None:
    top, monitor, camera = overview.top, overview.monitor, overview.rig.channel(0)
    before = (await _overview(top))["organisations"][0]
    assert before["figures"]["farms"] == 2 and before["figures"]["farms_supervised"] == 0

    await _created(monitor, f"/api/channels/{camera}/monitoring-records",
                   {"mode": "live", "answers": ANSWERS})  # fmt: skip
    await _created(monitor, f"/api/channels/{camera}/anomalies",
                   {"description": "药库门未锁", "mode": "live"})  # fmt: skip
    await _created(top, "/api/faults",
                   {"channel_id": overview.rig.channel(1), "kind": "blurred"})  # fmt: skip
    check = await _created(top, "/api/spot-checks", {"count": 1})

    bureau = await _figures_settled(top, overview.bureau)
    figures = bureau["figures"]
    assert (figures["cameras"], figures["cameras_online"]) == (2, 2)
    assert (figures["farms"], figures["farms_supervised"]) == (2, 1)
    assert figures["farms_by_state"]["applied"] + figures["farms_by_state"]["approved"] == 2
    assert figures["faults_open"] == 1 and figures["faults_by_kind"] == {"blurred": 1}
    assert figures["anomalies_open"] == 1 and figures["farms_flagged"] == 1
    assert bureau["own"] == figures and bureau["children"] == []
    assert [a["farm_id"] for a in bureau["attention"]] == [overview.farm]
    assert bureau["attention"][0]["open_faults"] == 1
    root = (await _overview(top))["organisations"][0]
    assert root["id"] != overview.bureau and root["own"]["farms"] == 0
    assert root["figures"]["farms"] == 2 and root["figures"]["anomalies_open"] == 1
    assert root["own"]["spot_checks"] == 1 and len(check["items"]) == 1
    assert root["figures"]["spot_check_cameras"] == 1

    # The monitor sees his bureau, his farm and camera only.
    mine = (await _overview(monitor))["organisations"]
    assert [node["id"] for node in mine] == [overview.bureau]
    assert mine[0]["figures"]["farms"] == 1 and mine[0]["figures"]["cameras"] == 1
    assert mine[0]["figures"]["farms_supervised"] == 1
    # Tickets and anomalies go by farm, as /api/faults and /api/anomalies show them to him.
    assert mine[0]["figures"]["faults_open"] == 1 and mine[0]["figures"]["anomalies_open"] == 1
    status, listed = await monitor.request("GET", "/api/faults?open=true")
    assert status == 200 and len(listed["faults"]) == 1, listed


async def test_the_period_is_asked_for_and_bad_periods_are_refused(
    overview: OverviewRig,
) -> None:
    old = await _overview(overview.top, "?from=2020-01-01T00:00:00&to=2020-01-08T00:00:00")
    assert (old["from"], old["to"]) == ("2020-01-01T00:00:00", "2020-01-08T00:00:00")
    assert old["organisations"][0]["figures"]["farms_supervised"] == 0
    for query in ("?from=yesterday", "?from=2020-01-08T00:00:00&to=2020-01-01T00:00:00",
                  "?from=2020-01-01T00:00:00&to=2022-01-01T00:00:00"):  # fmt: skip
        status, answer = await overview.top.request("GET", f"/api/overview{query}")
        assert status == 400 and "error" in answer, (query, answer)
    browsers = Browsers(overview.rig.base)
    try:
        status, answer = await browsers.new("anonymous").request("GET", "/api/overview")
    finally:
        await browsers.close()
    assert status == 401, answer
