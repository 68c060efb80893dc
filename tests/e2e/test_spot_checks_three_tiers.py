"""Random spot checks at the national tier (抽查; regulation art. 4; issue 11 item 6).

national ← bureau ← branch ← simulated farm, as in test_cascade_three_tiers.py. The branch
registers the farm and puts the NVR on it, so that the farm travels up the cascade as a
virtual organisation (216) with the branch's name for it. The national inspector draws
cameras among everything the cascade shares, watches one live through the two hops (PyAV
decodes its frames), records it on the checklist and another as unplayable; the draw
verifies, the report counts both, the audit trail holds each action, and a monitor of
another organisation sees nothing of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.access_helpers import Browsers
from tests.e2e.cascade_helpers import ThreeTiers, three_tiers
from tests.e2e.live_helpers import decode_fmp4
from tests.integration.cascade.tiers import BRANCH, BUREAU
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tier_addresses,
    pytest.mark.asyncio(loop_scope="module"),
]

FARM_NAME = "江门一号猪场"
PASSWORD = "People-Pass-2024"
ANIMAL_HOUSE = {
    "animal_house.patrolled_dead_removed": {"answer": "compliant"},
    "animal_house.sick_isolated": {"answer": "not_compliant", "remark": "病猪未隔离"},
    "animal_house.spray_disinfected": {"answer": "compliant"},
}


def _farm_items(nodes: list[dict[str, Any]]) -> dict[str, str]:
    """Every virtual organisation (216) of a channel tree: ID → name."""
    found: dict[str, str] = {}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node["channel_id"][10:13] == "216":
            found[node["channel_id"]] = node.get("name") or ""
        stack.extend(node["children"])
    return found


async def _farm_at_national(tiers: ThreeTiers) -> str:
    """Wait for the branch's farm to arrive at the national tier; its 216 ID."""
    async with asyncio.timeout(40):
        while True:
            await tiers.refresh_catalog(tiers.bureau, BRANCH.platform_id)
            await tiers.refresh_catalog(tiers.national, BUREAU.platform_id)
            status, body = await tiers.request(
                tiers.national, "GET", f"/api/devices/{BUREAU.platform_id}/channels"
            )
            assert status == 200, body
            farms = {k: v for k, v in _farm_items(body["channels"]).items() if v == FARM_NAME}
            if farms:
                return next(iter(farms))
            await asyncio.sleep(0.5)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tiers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ThreeTiers]:
    async with three_tiers(tmp_path_factory.mktemp("spot-checks")) as tiers:
        branch = tiers.branch
        browsers = Browsers(branch.base_url)
        try:  # accounts and farms are managed from a console session, not a token
            admin = browsers.new("branch admin")
            await admin.log_in(ADMIN, ADMIN_PASSWORD)
            status, farm = await admin.request(
                "POST", "/api/farms",
                {"name": FARM_NAME, "filing_number": "JM-0001",
                 "organisation_id": branch.organisation_id},
            )  # fmt: skip
            assert status == 201, farm
            status, placed = await admin.request(
                "PUT", f"/api/devices/{tiers.farm.device_ids[0]}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200, placed
        finally:
            await browsers.close()
        yield tiers


async def test_a_national_spot_check_draws_plays_and_records_through_two_hops(
    tiers: ThreeTiers,
) -> None:
    national = tiers.national
    farm_item = await _farm_at_national(tiers)
    status, check = await tiers.post(
        national, "/api/spot-checks", {"count": 2, "period": "2026-12"}
    )
    assert status == 201, check
    cameras = {tiers.channel(0), tiers.channel(1)}
    items = check["items"]
    assert {item["channel_id"] for item in items} == cameras
    assert {(item["farm_key"], item["farm_name"]) for item in items} == {(farm_item, FARM_NAME)}
    assert {item["device_id"] for item in items} == {BUREAU.platform_id}
    assert all(item["key_area"] is None and item["state"] == "pending" for item in items)
    assert len(check["seed"]) == 16

    # The first camera drawn plays live through bureau and branch.
    watched, broken = items
    status, links = await tiers.post(national, f"/api/channels/{watched['channel_id']}/live", None)
    assert status == 201, links
    sizes = decode_fmp4(await tiers.read_fmp4(national, links["fmp4"], seconds=3.0))
    assert len(sizes) >= 30 and set(sizes) == {(320, 180)}
    status, _ = await tiers.request(national, "DELETE", f"/api/live/{links['session']}")
    assert status == 204

    result = f"/api/spot-checks/{check['id']}/items/{watched['position']}/result"
    status, refused = await tiers.post(
        national, result, {"state": "recorded", "mode": "live", "answers": ANIMAL_HOUSE}
    )
    assert status == 400 and "key_area" in refused["error"]  # no key area at this tier
    status, recorded = await tiers.post(
        national, result,
        {"state": "recorded", "mode": "live", "key_area": "animal_house", "answers": ANIMAL_HOUSE},
    )  # fmt: skip
    assert status == 200, recorded
    assert (recorded["state"], recorded["outcome"], recorded["key_area_zh"]) == (
        "recorded",
        "not_compliant",
        "畜禽舍",
    )
    # The farm's NVR now refuses every INVITE: the second camera will not play at the top.
    tiers.farm.devices[0].refuse_invites(488)
    status, failed = await tiers.post(national, f"/api/channels/{broken['channel_id']}/live", None)
    assert status in (502, 503, 504), failed
    reason = f"实时视频无法播放：{failed['error']}"
    status, unplayable = await tiers.post(
        national, f"/api/spot-checks/{check['id']}/items/{broken['position']}/result",
        {"state": "unplayable", "mode": "live", "remark": reason},
    )  # fmt: skip
    assert status == 200, unplayable
    assert (unplayable["state"], unplayable["remark"]) == ("unplayable", reason[:1000])
    tiers.farm.devices[0].accept_invites()

    status, verified = await tiers.request(
        national, "GET", f"/api/spot-checks/{check['id']}/verify"
    )
    assert status == 200 and verified["ok"] is True, verified
    assert verified["expected"] == [item["channel_id"] for item in items]

    status, report = await tiers.request(national, "GET", "/api/spot-checks/report")
    assert status == 200, report
    assert (report["checks"], report["drawn"], report["recorded"], report["unplayable"]) == (
        1,
        2,
        1,
        1,
    )
    assert report["not_compliant_points"] == 1
    assert [(f["farm_name"], f["recorded"], f["unplayable"]) for f in report["farms"]] == [
        (FARM_NAME, 1, 1)
    ]

    status, audit = await tiers.request(national, "GET", "/api/audit?limit=50")
    assert status == 200, audit
    rows = [(row["action"], row["result"], row.get("detail") or {}) for row in audit["rows"]]
    draws = [d for a, r, d in rows if a == "spot_check_draw" and r == "ok"]
    assert draws and draws[0]["spot_check"] == check["id"] and draws[0]["seed"] == check["seed"]
    results = {(d.get("channel"), d.get("state")) for a, r, d in rows
               if a == "spot_check_result" and r == "ok"}  # fmt: skip
    assert {(watched["channel_id"], "recorded"), (broken["channel_id"], "unplayable")} <= results

    # A monitor of another organisation: sees no check, cannot record on it.
    browsers = Browsers(national.base_url)
    try:
        admin = browsers.new("national admin")
        await admin.log_in(ADMIN, ADMIN_PASSWORD)
        status, bureau = await admin.request(
            "POST", "/api/organisations",
            {"name": "外省局", "tier": "bureau", "parent_id": national.organisation_id},
        )  # fmt: skip
        assert status == 201, bureau
        status, user = await admin.request(
            "POST", "/api/users",
            {"username": "other.mon", "display_name": "外省监控员", "role": "monitor",
             "organisation_id": bureau["id"], "password": PASSWORD},
        )  # fmt: skip
        assert status == 201, user
        other = browsers.new("other.mon")
        await other.log_in("other.mon", PASSWORD)
        status, body = await other.request("GET", f"/api/spot-checks/{check['id']}")
        assert status == 404, body
        status, body = await other.request("GET", "/api/spot-checks")
        assert status == 200 and body["spot_checks"] == []
        status, body = await other.request("GET", "/api/spot-checks/report")
        assert status == 200 and body["checks"] == 0
        status, body = await other.request(
            "POST", f"/api/spot-checks/{check['id']}/items/{broken['position']}/result",
            {"state": "unplayable", "remark": "x"},
        )  # fmt: skip
        assert status == 404, body
        status, body = await other.request("POST", "/api/spot-checks", {"count": 3})
        assert status == 409, body  # nothing within their reach to draw from
    finally:
        await browsers.close()
