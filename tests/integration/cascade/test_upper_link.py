"""A branch platform registered to its bureau: the link, its keepalives and the shared catalog.

Two real `farmwatch serve` processes and the simulator, each on its own loopback address.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from farmwatch.simulator import running_simulator
from farmwatch.simulator.record_settings import RecordSettings
from tests.integration.cascade.tiers import (
    BRANCH,
    BUREAU,
    FARM_HOST,
    PASSWORD,
    UpperLinkConfig,
    start_tier,
)
from tests.peers.server_process import RunningServer, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.tier_addresses]
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 10-minute files, a tenth missing: a day is about 130 records, 36 to a 6-hour slice.
RECORDS = RecordSettings(file_minutes=10, items_per_message=10, missing_fraction=0.1)


def _local(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


async def _until(server: RunningServer, path: str, check: Any, timeout: float = 20.0) -> Any:
    """Poll the API of another process until `check(body)` holds; the last body."""
    body: Any = None
    async with asyncio.timeout(timeout):
        while True:
            status, body = await asyncio.to_thread(server.api, path)
            if status == 200 and check(body):
                return body
            await asyncio.sleep(0.2)


def _online(nodes: list[dict[str, Any]]) -> dict[str, bool]:
    found: dict[str, bool] = {}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        found[node["channel_id"]] = node["online"]
        stack.extend(node["children"])
    return found


def _ids(nodes: list[dict[str, Any]]) -> dict[str, str | None]:
    """Every node of a channel tree: ID → the ID of the node it hangs under."""
    found: dict[str, str | None] = {}
    stack: list[tuple[dict[str, Any], str | None]] = [(node, None) for node in nodes]
    while stack:
        node, parent = stack.pop()
        found[node["channel_id"]] = parent
        stack.extend((child, node["channel_id"]) for child in node["children"])
    return found


async def test_a_branch_registers_upward_and_its_farm_appears_as_a_tree_at_the_bureau(
    tmp_path: Path,
) -> None:
    bureau = start_tier(tmp_path, BUREAU)
    branch: RunningServer | None = None
    try:
        branch = start_tier(
            tmp_path, BRANCH, (UpperLinkConfig(BUREAU, bureau.sip_port),),
            extra_env={"FARMWATCH_MEDIA_IDLE_CLOSE": "1"},  # the stream the bureau watched
        )  # fmt: skip
        async with running_simulator(
            server=(BRANCH.host, branch.sip_port),
            server_id=BRANCH.platform_id,
            devices=2,
            channels=2,
            password=PASSWORD,
            host=FARM_HOST,
            records=RECORDS,
        ) as farm:
            device_ids = farm.device_ids
            channel_ids = {
                item.device_id for device in farm.devices for item in device.channels.items
            }
            for device_id in device_ids:
                await _until(branch, f"/devices/{device_id}/catalog",
                             lambda body: body["state"] == "complete")  # fmt: skip

            uppers = await _until(branch, "/uppers", lambda b: b["uppers"][0]["registered"])
            link = uppers["uppers"][0]
            assert link["upper_id"] == BUREAU.platform_id
            assert link["local_id"] == BRANCH.platform_id
            assert link["address"] == f"udp:{BUREAU.host}:{bureau.sip_port}"
            await _until(branch, "/uppers", lambda b: b["uppers"][0]["keepalives_answered"] >= 1)

            device = await _until(bureau, f"/devices/{BRANCH.platform_id}", lambda b: b["online"])
            assert device["address"] == f"{BRANCH.host}:{branch.sip_port}"

            # The bureau asked for the catalog when the branch registered, maybe before the
            # farm's cameras did: ask again now that the branch knows them.
            status, _ = await asyncio.to_thread(
                bureau.api, f"/devices/{BRANCH.platform_id}/catalog", method="POST"
            )
            assert status == 202
            await _until(bureau, f"/devices/{BRANCH.platform_id}/catalog",
                         lambda b: b["state"] == "complete")  # fmt: skip
            tree = await _until(
                bureau,
                f"/devices/{BRANCH.platform_id}/channels",
                lambda b: set(device_ids) | channel_ids <= set(_ids(b["channels"])),
            )
            parents = _ids(tree["channels"])
            for device_id in device_ids:
                assert parents[device_id] is None  # directly under the branch
            for device in farm.devices:
                for item in device.channels.items:
                    assert parents[item.device_id] == device.device_id, item.device_id
            assert all(_online(tree["channels"])[i] for i in channel_ids)

            # Record search at the bureau reaches the farm camera through the branch, which
            # asks with its own SN and re-pages the answers (5 records a message over UDP).
            channel = farm.devices[0].channels.items[0].device_id
            day = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            end = day.replace(hour=23, minute=59, second=59)
            query = f"start={_local(day)}&end={_local(end)}&source=device"
            status, found = await asyncio.to_thread(
                bureau.api, f"/channels/{channel}/records?{query}"
            )
            assert status == 200, found
            files = (
                farm.devices[0]
                .record_index(channel)
                .files_between(int(day.timestamp()), int(end.timestamp()))
            )
            expected = [
                (
                    _local(max(datetime.fromtimestamp(f.start, SHANGHAI), day)),
                    _local(min(datetime.fromtimestamp(f.end, SHANGHAI), end)),
                )
                for f in files
            ]
            assert found["complete"] is True, found["slices"]
            assert [(r["start"], r["end"]) for r in found["records"]] == expected
            assert 100 < len(expected) < 144

            # PTZ from the bureau reaches the farm camera through the branch.
            status, sent = await asyncio.to_thread(
                bureau.api_post,
                f"/channels/{channel}/ptz",
                {"action": "move", "pan": "right", "speed": 128},
            )
            assert status == 202, sent
            assert sent["device_id"] == BRANCH.platform_id
            responder = farm.devices[0].responder
            async with asyncio.timeout(5):
                while (channel, "A50F010180000036") not in responder.ptz_commands:
                    await asyncio.sleep(0.05)

            # The bureau subscribed to the branch's catalog: a camera leaving the farm is
            # OFF at the bureau within one keepalive period, its neighbour still ON.
            await _until(branch, "/uppers", lambda b: b["uppers"][0]["subscribed"])
            gone, stays = farm.devices
            loop = asyncio.get_running_loop()
            stopped_at = loop.time()
            await gone.stop()
            gone_ids = {gone.device_id, *(item.device_id for item in gone.channels.items)}
            tree = await _until(
                bureau,
                f"/devices/{BRANCH.platform_id}/channels",
                lambda b: not any(_online(b["channels"])[i] for i in gone_ids),
                timeout=10,
            )
            assert loop.time() - stopped_at < 2.0  # keepalive_interval of the tiers
            online = _online(tree["channels"])
            assert all(online[item.device_id] for item in stays.channels.items)
            status, uppers = await asyncio.to_thread(branch.api, "/uppers")
            assert uppers["uppers"][0]["notifies_sent"] >= 1  # it came by NOTIFY
            assert uppers["uppers"][0]["share"]["source"] == "config"

            # The share edited through the API: one channel left. The bureau is told by
            # NOTIFY (DEL of everything else) and its catalog query answers that one alone.
            kept = stays.channels.items[0].device_id
            share = f"/uppers/{BUREAU.name}/share"
            # A call of the bureau to a channel about to leave the share.
            dropped = stays.channels.items[1].device_id
            status, session = await asyncio.to_thread(
                bureau.api_post, f"/channels/{dropped}/live", None
            )
            assert status == 201, session
            await _until(branch, "/uppers", lambda b: b["uppers"][0]["calls"] == 1, timeout=10)
            status, edited = await asyncio.to_thread(
                branch.api_call, "PUT", share, {"share": "selected", "channels": [kept]}
            )
            assert status == 200, edited
            assert (edited["share"], edited["channels"], edited["source"]) == (
                "selected", [kept], "database",
            )  # fmt: skip
            tree_path = f"/devices/{BRANCH.platform_id}/channels"
            left = {BRANCH.platform_id, stays.device_id, kept}  # the branch's item stays
            await _until(bureau, tree_path, lambda b: set(_ids(b["channels"])) == left, timeout=10)
            # The branch ended the bureau's call to the channel no longer shared (BYE).
            await _until(branch, "/uppers", lambda b: b["uppers"][0]["calls"] == 0, timeout=5)
            assert f"channel {dropped} no longer shared" in branch.log_text()
            status, _ = await asyncio.to_thread(
                bureau.api, f"/devices/{BRANCH.platform_id}/catalog", method="POST"
            )
            assert status == 202
            progress = await _until(bureau, f"/devices/{BRANCH.platform_id}/catalog",
                                    lambda b: b["state"] == "complete")  # fmt: skip
            assert progress["expected"] == 3  # the branch, the NVR, the one camera
            _, tree = await asyncio.to_thread(bureau.api, tree_path)
            assert set(_ids(tree["channels"])) == left

            # Everything again: the rest comes back by NOTIFY (ADD, parents first).
            status, edited = await asyncio.to_thread(
                branch.api_call, "PUT", share, {"share": "all"}
            )
            assert status == 200 and edited["share"] == "all", edited
            await _until(bureau, tree_path,
                         lambda b: set(device_ids) | channel_ids <= set(_ids(b["channels"])),
                         timeout=10)  # fmt: skip
            _, uppers = await asyncio.to_thread(branch.api, "/uppers")
            assert uppers["uppers"][0]["share"]["source"] == "database"

            # Back to the configuration's share (all).
            status, reset = await asyncio.to_thread(branch.api_call, "DELETE", share)
            assert status == 200 and (reset["share"], reset["source"]) == ("all", "config")
            status, refused = await asyncio.to_thread(
                branch.api_call, "PUT", share, {"share": "selected", "channels": ["12"]}
            )
            assert status == 400 and "20-digit" in refused["error"], refused
            # The camera's stream, watched by nobody since that BYE, closes (its device call
            # would otherwise still be open when the farm goes away).
            async with asyncio.timeout(5):
                while stays.active_calls:
                    await asyncio.sleep(0.1)
    finally:
        if branch is not None:
            stop_server(branch)
        stop_server(bureau)
    # Stopping the branch unregistered it from the bureau (Expires: 0).
    assert "unregister not confirmed" not in branch.log_text()
