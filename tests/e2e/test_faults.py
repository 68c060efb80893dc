"""Fault tickets end to end (regulation art. 19; issue 11 item 4): a real `farmwatch serve`
with `fault_offline_after` of 2 s and a keepalive timeout of 3 s, one simulated NVR with two
cameras placed on a farm. The camera falls silent → the keepalive timeout marks it offline →
tickets open 2 s later and the farm is flagged; it speaks again → the tickets close by
themselves (history `auto`). A refused INVITE opens a start_failure ticket, a stream whose
media stops a media_timeout ticket; a working start closes both. A ticket opened by hand
goes through its states by a monitor and is verified by an administrator; a monitor without
the farm's grant is refused, and the audit trail has every step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from farmwatch.simulator import SimulatedDevice, running_simulator
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import PLATFORM, SMALL_PICTURE, LiveRig, wait_channel_known
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

OFFLINE_AFTER = 2.0
KEEPALIVE_TIMEOUT = 3 * 1.0  # [registrar] keepalive_interval × keepalive_timeout_count
PASSWORD = "Fault-Monitor-Pass-1"
ENV = {
    "FARMWATCH_LIVE_TRANSPORT": "udp",
    "FARMWATCH_MEDIA_HOST": "127.0.0.1",
    "FARMWATCH_MEDIA_WORKERS": "0",
    "FARMWATCH_MEDIA_IDLE_CLOSE": "5",
    "FARMWATCH_MEDIA_START_TIMEOUT": "4",
    "FARMWATCH_MEDIA_MEDIA_TIMEOUT": "2",
    "FARMWATCH_LIVE_INVITE_TIMEOUT": "3",
    "FARMWATCH_LIVE_WEBRTC_ADDRESSES": "127.0.0.1",
    "FARMWATCH_REGISTRAR_KEEPALIVE_INTERVAL": "1",
    "FARMWATCH_SUPERVISION_FAULT_OFFLINE_AFTER": str(OFFLINE_AFTER),
}


@dataclass
class FaultRig:
    rig: LiveRig
    top: Caller
    monitor: Caller
    """Granted camera 0: reaches the farm."""
    outsider: Caller
    """A monitor of the same bureau granted nothing."""
    farm_id: int

    @property
    def device(self) -> SimulatedDevice:
        return self.rig.fleet.devices[0]


async def _created(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    status, answer = await caller.request("POST", path, body)
    assert status == 201, answer
    return dict(answer)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def faults(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultRig]:
    tmp_path: Path = tmp_path_factory.mktemp("faults")
    server = await asyncio.to_thread(start_server, tmp_path, ENV)
    try:
        async with (
            running_simulator(
                server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1,
                channels=2, media=SMALL_PICTURE, keepalive_interval=0.5,
            ) as fleet,
            aiohttp.ClientSession(headers=server.auth_headers) as http,
        ):  # fmt: skip
            rig = LiveRig(server, fleet, http)
            await wait_channel_known(rig)
            browsers = Browsers(rig.base)
            try:
                yield await _people(rig, browsers)
            finally:
                await browsers.close()
    finally:
        await asyncio.to_thread(stop_server, server)


async def _people(rig: LiveRig, browsers: Browsers) -> FaultRig:
    top = browsers.new("top")
    await top.log_in(ADMIN, ADMIN_PASSWORD)
    root = rig.server.organisation_id
    bureau = await _created(
        top, "/api/organisations", {"name": "江门局", "tier": "bureau", "parent_id": root}
    )
    farm = await _created(
        top, "/api/farms",
        {"name": "台山一号猪场", "filing_number": "JM-0001", "organisation_id": bureau["id"]},
    )  # fmt: skip
    status, placed = await top.request(
        "PUT", f"/api/devices/{rig.fleet.device_ids[0]}/farm", {"farm_id": farm["id"]}
    )
    assert status == 200, placed
    callers: dict[str, Caller] = {}
    for name in ("mon.faults", "mon.outsider"):
        user = await _created(
            top, "/api/users",
            {"username": name, "organisation_id": bureau["id"], "role": "monitor",
             "password": PASSWORD},
        )  # fmt: skip
        if name == "mon.faults":
            await _created(
                top, f"/api/users/{user['id']}/grants",
                {"kind": "channel", "target": rig.channel(0)},
            )  # fmt: skip
        callers[name] = browsers.new(name)
        await callers[name].log_in(name, PASSWORD)
    return FaultRig(rig, top, callers["mon.faults"], callers["mon.outsider"], farm["id"])


async def _poll(what: str, seconds: float, probe: Any) -> Any:
    """The first non-empty answer of `probe()`, polled until `seconds` have passed."""
    async with asyncio.timeout(seconds):
        while True:
            found = await probe()
            if found:
                return found
            await asyncio.sleep(0.1)


async def _faults(rig: LiveRig, query: str) -> list[dict[str, Any]]:
    status, page = await rig.get(f"/api/faults?{query}")
    assert status == 200, page
    return list(page["faults"])


async def test_a_silent_camera_opens_tickets_flags_the_farm_and_closes_them_when_back(
    faults: FaultRig,
) -> None:
    rig, device = faults.rig, faults.device
    device_id = device.device_id
    loop = asyncio.get_running_loop()
    assert await _faults(rig, "kind=offline") == []
    device.go_silent()

    async def offline() -> bool:
        status, record = await rig.get(f"/api/devices/{device_id}")
        return status == 200 and record["online"] is False

    await _poll("the keepalive timeout", KEEPALIVE_TIMEOUT + 5, offline)
    went_offline = loop.time()

    async def opened() -> list[dict[str, Any]]:
        found = await _faults(rig, "kind=offline&open=true")
        return found if len(found) == 2 else []

    tickets = await _poll("offline tickets", OFFLINE_AFTER + 4, opened)
    waited = loop.time() - went_offline
    assert OFFLINE_AFTER - 1.2 <= waited <= OFFLINE_AFTER + 3, waited
    assert {t["channel_id"] for t in tickets} == {rig.channel(0), rig.channel(1)}
    assert {(t["state"], t["farm_id"], t["farm_name"], t["device_id"]) for t in tickets} == {
        ("open", faults.farm_id, "台山一号猪场", device_id)
    }
    status, flagged = await rig.get("/api/faults/farms")
    assert status == 200, flagged
    assert flagged["farms"] == [{"farm_id": faults.farm_id, "name": "台山一号猪场", "open": 2}]
    # The farm register shows why the farm is flagged for more on-site inspection.
    status, farm = await rig.get(f"/api/farms/{faults.farm_id}")
    assert status == 200, farm
    assert sorted(flag["reference"] for flag in farm["flags"]) == sorted(
        str(t["id"]) for t in tickets
    )
    assert {flag["kind"] for flag in farm["flags"]} == {"fault"}
    # The monitor reaches the farm: he sees them (both cameras: the farm is his to supervise).
    status, page = await faults.monitor.request("GET", "/api/faults?kind=offline&open=true")
    assert status == 200 and len(page["faults"]) == 2, page
    status, page = await faults.outsider.request("GET", "/api/faults")
    assert status == 200 and page["faults"] == [], page

    device.come_back()

    async def closed() -> list[dict[str, Any]]:
        found = await _faults(rig, "kind=offline")
        return found if {t["state"] for t in found} == {"closed"} else []

    await _poll("automatic close", 15, closed)
    status, ticket = await rig.get(f"/api/faults/{tickets[0]['id']}")
    assert status == 200, ticket
    assert [(h["from"], h["to"], h["by"]) for h in ticket["history"]] == [
        (None, "open", "auto"), ("open", "closed", "auto"),
    ]  # fmt: skip
    # The diagnosis looked at the camera as soon as it was back: its picture closed it.
    assert "picture passed" in ticket["history"][-1]["remark"]
    status, flagged = await rig.get("/api/faults/farms")
    assert flagged["farms"] == []
    status, farm = await rig.get(f"/api/farms/{faults.farm_id}")
    assert status == 200 and farm["flags"] == [], farm
    # The streams the diagnosis started to look at the cameras end after idle_close: the
    # next tests need the device's own answer to their INVITEs, not a running stream.
    async with asyncio.timeout(20):
        await device.wait_for(lambda d: d.active_calls == 0)


async def test_a_refused_start_opens_a_start_failure_ticket_a_working_start_closes(
    faults: FaultRig,
) -> None:
    rig, device = faults.rig, faults.device
    channel = rig.channel(1)
    device.refuse_invites(488)
    try:
        status, body = await rig.post(f"/api/channels/{channel}/live")
        assert status == 502, body
    finally:
        device.accept_invites()

    async def opened() -> list[dict[str, Any]]:
        return await _faults(rig, f"kind=start_failure&open=true&farm={faults.farm_id}")

    (ticket,) = await _poll("start failure ticket", 5, opened)
    assert ticket["channel_id"] == channel and "488" in ticket["detail"]
    status, links = await rig.post(f"/api/channels/{channel}/live")
    assert status == 201, links

    async def closed() -> bool:
        status, found = await rig.get(f"/api/faults/{ticket['id']}")
        return status == 200 and found["state"] == "closed"

    await _poll("start failure closed", 5, closed)
    assert await rig.delete(f"/api/live/{links['session']}") == 204


async def test_a_stream_that_stops_sending_opens_a_media_timeout_ticket(
    faults: FaultRig,
) -> None:
    rig, device = faults.rig, faults.device
    channel = rig.channel(0)
    device.set_media(replace(SMALL_PICTURE, stop_after=1.0))
    try:
        status, links = await rig.post(f"/api/channels/{channel}/live")
        assert status == 201, links

        async def opened() -> list[dict[str, Any]]:
            return await _faults(rig, "kind=media_timeout&open=true")

        (ticket,) = await _poll("media timeout ticket", 10, opened)
        assert ticket["channel_id"] == channel and ticket["state"] == "open"
    finally:
        device.set_media(SMALL_PICTURE)
    status, links = await rig.post(f"/api/channels/{channel}/live")
    assert status == 201, links

    async def closed() -> bool:
        status, found = await rig.get(f"/api/faults/{ticket['id']}")
        return status == 200 and found["state"] == "closed"

    await _poll("media timeout closed by a working start", 5, closed)
    assert await rig.delete(f"/api/live/{links['session']}") == 204


async def test_a_hand_opened_ticket_is_moved_by_a_monitor_and_verified_by_an_administrator(
    faults: FaultRig,
) -> None:
    rig, monitor, outsider = faults.rig, faults.monitor, faults.outsider
    camera = rig.channel(0)
    status, refused = await outsider.request(
        "POST", "/api/faults", {"channel_id": camera, "detail": "镜头歪了"}
    )
    assert status == 403, refused
    status, bad = await monitor.request("POST", "/api/faults", {"channel_id": camera, "kind": "x"})
    assert status == 400 and "kind" in bad["error"], bad
    status, ticket = await monitor.request(
        "POST", "/api/faults", {"channel_id": camera, "detail": "镜头被饲料袋遮挡"}
    )
    assert status == 201, ticket
    assert (ticket["kind"], ticket["state"], ticket["opened_by"]) == ("other", "open", "mon.faults")
    path = f"/api/faults/{ticket['id']}"

    status, refused = await outsider.request("GET", path)
    assert status == 403, refused
    status, refused = await outsider.request("POST", f"{path}/state", {"state": "farm_notified"})
    assert status == 403, refused
    status, illegal = await monitor.request("POST", f"{path}/state", {"state": "verified"})
    assert status == 409, illegal
    for state, remark in (("farm_notified", "已电话通知场长"), ("fixed", "场方已移走遮挡物")):
        status, moved = await monitor.request(
            "POST", f"{path}/state", {"state": state, "remark": remark}
        )
        assert status == 200 and moved["state"] == state, moved
    status, refused = await monitor.request("POST", f"{path}/state", {"state": "verified"})
    assert status == 403 and "administrator" in refused["error"], refused
    status, verified = await faults.top.request(
        "POST", f"{path}/state", {"state": "verified", "remark": "画面已恢复"}
    )
    assert status == 200, verified
    assert [(h["to"], h["by"], h["remark"]) for h in verified["history"]] == [
        ("open", "mon.faults", "镜头被饲料袋遮挡"),
        ("farm_notified", "mon.faults", "已电话通知场长"),
        ("fixed", "mon.faults", "场方已移走遮挡物"),
        ("verified", ADMIN, "画面已恢复"),
    ]
    status, missing = await rig.get("/api/faults/99999999")
    assert status == 404, missing

    status, stats = await rig.get("/api/faults/statistics")
    assert status == 200, stats
    (bureau,) = stats["organisations"]
    assert bureau["name"] == "江门局" and bureau["repaired"] >= 1
    assert bureau["median_repair_seconds"] is not None

    status, audit = await rig.get("/api/audit?limit=200")
    assert status == 200, audit
    rows = [(r["action"], r["result"], r["actor"]["name"], r["detail"].get("id"))
            for r in audit["rows"] if r["action"].startswith("fault_")]  # fmt: skip
    fault_id = str(ticket["id"])
    assert ("fault_open", "ok", "mon.faults", fault_id) in rows
    assert ("fault_open", "denied", "mon.outsider", None) in rows
    assert ("fault_state", "denied", "mon.outsider", fault_id) in rows
    assert ("fault_state", "failed", "mon.faults", fault_id) in rows  # the 409
    assert ("fault_state", "denied", "mon.faults", fault_id) in rows  # verifying
    assert ("fault_state", "ok", ADMIN, fault_id) in rows


async def test_the_feed_answers_a_waiting_poll_with_the_next_ticket(faults: FaultRig) -> None:
    rig, monitor = faults.rig, faults.monitor
    status, feed = await monitor.request("GET", "/api/faults/events?wait=0")
    assert status == 200, feed
    waiting = asyncio.create_task(
        monitor.request("GET", f"/api/faults/events?since_id={feed['next_id']}&wait=10")
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    status, ticket = await rig.post(
        "/api/faults", {"channel_id": rig.channel(0), "kind": "blurred", "detail": "雾气"}
    )
    assert status == 201, ticket
    async with asyncio.timeout(5):
        status, fed = await waiting
    assert status == 200, fed
    assert [(e["event"], e["fault"]["id"]) for e in fed["events"]] == [("opened", ticket["id"])]
