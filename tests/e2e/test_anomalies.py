"""Anomalies end to end (regulation art. 20–21; issue 11 item 3), on a real `farmwatch serve`
recording a simulated camera.

A monitor watching a camera live reports an anomaly: it is open at once, the administrators'
feed brings it while their long poll waits, the webhook (a real aiohttp server on
127.0.0.1) receives it, and once the 10 s after the moment have been recorded its evidence
clip is cut from the platform's own segments: the downloaded file's SHA-256 (computed here)
is the one recorded and PyAV decodes the 20 s asked for. The anomaly goes through
rectification to a case and is closed, each step by whom the rules allow and in its
history and the audit trail; a monitor without a grant on the farm is refused throughout.
The platform is then restarted with retention squeezed to ~1 kB: the recordings go, the
evidence clip stays and still verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import av
from aiohttp import web

from farmwatch.simulator import running_simulator
from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.access_helpers import PASSWORD, Browsers, Caller
from tests.e2e.live_helpers import PLATFORM, SMALL_PICTURE, LiveRig, wait_channel_known
from tests.peers.raw_sip import free_port
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD, start_server, stop_server

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE = AFTER = 10
ENV = {
    "FARMWATCH_MEDIA_HOST": "127.0.0.1",
    "FARMWATCH_LIVE_INVITE_TIMEOUT": "3",
    "FARMWATCH_LIVE_WEBRTC_ADDRESSES": "127.0.0.1",
    "FARMWATCH_RECORDINGS_SEGMENT_MINUTES": "1",
    "FARMWATCH_RECORDINGS_RECONCILE_INTERVAL": "1",
    "FARMWATCH_SUPERVISION_EVIDENCE_BEFORE": str(BEFORE),
    "FARMWATCH_SUPERVISION_EVIDENCE_AFTER": str(AFTER),
}


def local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(timespec="seconds")


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, asyncio.Queue[Any]]]:
    """An HTTP server on 127.0.0.1 keeping every JSON body POSTed to it."""
    received: asyncio.Queue[Any] = asyncio.Queue()

    async def take(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def created(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    status, answer = await caller.request("POST", path, body)
    assert status == 201, (path, answer)
    return dict(answer)


def segment_files(storage: Path, channel: str) -> list[Path]:
    return sorted((storage / "recordings").glob(f"*/{channel}/*/*.ps"))


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), format="mp4") as container:
        times = [float(frame.time) for frame in container.decode(video=0) if frame.time is not None]
    assert len(times) > 100, len(times)
    return max(times) - min(times)


async def wait_for_evidence(caller: Caller, anomaly_id: int, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            status, anomaly = await caller.request("GET", f"/api/anomalies/{anomaly_id}")
            assert status == 200, anomaly
            if anomaly["evidence_state"] != "pending":
                return dict(anomaly)
            await asyncio.sleep(1)


async def test_an_anomaly_seen_live_keeps_its_evidence_through_rectification_a_case_and_retention(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "data"
    async with webhook_receiver() as (hook_url, hooked):
        env = {**ENV, "FARMWATCH_SUPERVISION_WEBHOOK_URL": hook_url}
        server = await asyncio.to_thread(start_server, tmp_path, env)
        try:
            async with (
                running_simulator(
                    server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1,
                    channels=2, media=SMALL_PICTURE, records=RecordSettings(missing_fraction=0.0),
                ) as fleet,
                aiohttp.ClientSession(headers=server.auth_headers) as http,
            ):  # fmt: skip
                rig = LiveRig(server, fleet, http)
                await wait_channel_known(rig)
                camera, device = rig.channel(0), fleet.device_ids[0]
                browsers = Browsers(server.base_url)
                try:
                    top = browsers.new("top")
                    await top.log_in(ADMIN, ADMIN_PASSWORD)
                    bureau = await created(
                        top,
                        "/api/organisations",
                        {"name": "江苏局", "tier": "bureau", "parent_id": server.organisation_id},
                    )
                    farm = await created(
                        top,
                        "/api/farms",
                        {
                            "name": "东台生猪养殖场",
                            "filing_number": "3200GJ0001",
                            "organisation_id": bureau["id"],
                        },
                    )
                    status, _ = await top.request(
                        "PUT", f"/api/devices/{device}/farm", {"farm_id": farm["id"]}
                    )
                    assert status == 200
                    people = {}
                    for name, role in (
                        ("east.admin", "administrator"),
                        ("mon.granted", "monitor"),
                        ("mon.other", "monitor"),
                    ):
                        user = await created(
                            top,
                            "/api/users",
                            {
                                "username": name,
                                "organisation_id": bureau["id"],
                                "role": role,
                                "password": PASSWORD,
                            },
                        )
                        if name == "mon.granted":
                            await created(
                                top,
                                f"/api/users/{user['id']}/grants",
                                {"kind": "channel", "target": camera},
                            )
                        people[name] = browsers.new(name)
                        await people[name].log_in(name, PASSWORD)
                    people["top"] = top
                    await _run_scenario(rig, people, storage, camera, hooked, farm["id"])
                finally:
                    await browsers.close()

                # Retention forced to run (a ~1 kB cap at the next start) never takes evidence.
                evidence = _EVIDENCE[0]
                recorded = len(segment_files(storage, camera))
                await asyncio.to_thread(stop_server, server)
                squeezed = {**env, "FARMWATCH_RECORDINGS_MAX_GIGABYTES": "0.000001"}
                server = await asyncio.to_thread(start_server, tmp_path, squeezed,
                                                 sip_port=server.sip_port)  # fmt: skip
                async with asyncio.timeout(30):
                    while len(segment_files(storage, camera)) >= recorded:
                        await asyncio.sleep(0.2)
                clip_file = next((storage / "evidence").glob(f"*/*_{evidence['id']}.mp4"))
                assert not os.stat(clip_file).st_mode & stat.S_IWUSR  # read-only
                assert hashlib.sha256(clip_file.read_bytes()).hexdigest() == evidence["sha256"]
                browsers = Browsers(server.base_url)
                try:
                    admin = browsers.new("east.admin")
                    await admin.log_in("east.admin", PASSWORD)
                    status, verified = await admin.request("GET", evidence["verify"])
                    assert status == 200 and verified["valid"] is True, verified
                finally:
                    await browsers.close()
        finally:
            await asyncio.to_thread(stop_server, server)


_EVIDENCE: list[dict[str, Any]] = []


async def _run_scenario(
    rig: LiveRig,
    people: dict[str, Caller],
    storage: Path,
    camera: str,
    hooked: asyncio.Queue[Any],
    farm_id: int,
) -> None:
    admin, monitor, stranger = people["east.admin"], people["mon.granted"], people["mon.other"]
    status, plan = await rig.put(f"/api/channels/{camera}/record-plan", {"mode": "continuous"})
    assert status == 200 and plan["recording_due"], plan
    async with asyncio.timeout(30):  # recording has begun: the "before" part will exist
        while not list((storage / "recordings").glob(f"*/{camera}/*/*-open.ps")):
            await asyncio.sleep(0.2)
    await asyncio.sleep(BEFORE + 5)

    # The monitor watches the camera live; the administrators' feed is waiting.
    await created(monitor, f"/api/channels/{camera}/live", None)
    status, feed_start = await admin.request("GET", "/api/anomalies/events?wait=0")
    assert status == 200 and feed_start["anomalies"] == [], feed_start
    feed = asyncio.create_task(admin.request(
        "GET", f"/api/anomalies/events?since_id={feed_start['next_id']}&wait=25"))  # fmt: skip
    await asyncio.sleep(0.5)
    reported_at = datetime.now(SHANGHAI)
    anomaly = await created(monitor, f"/api/channels/{camera}/anomalies", {
        "description": "饲料库门未关，有人员未经消毒进入", "mode": "live", "category": "饲料",
    })  # fmt: skip
    assert anomaly["state"] == "open" and anomaly["evidence_state"] == "pending", anomaly
    assert anomaly["farm_id"] == farm_id and anomaly["reporter"] == "mon.granted"
    seen = datetime.fromisoformat(anomaly["time"]).replace(tzinfo=SHANGHAI)
    assert abs((seen - reported_at).total_seconds()) < 2
    async with asyncio.timeout(5):  # the feed answers at once, not at the end of its wait
        status, fed = await feed
    assert status == 200 and [a["id"] for a in fed["anomalies"]] == [anomaly["id"]], fed
    async with asyncio.timeout(10):
        hook = await hooked.get()
    assert hook["event"] == "anomaly_reported", hook
    assert hook["anomaly"]["id"] == anomaly["id"] and hook["anomaly"]["farm_id"] == farm_id
    assert hook["anomaly"]["description"] == "饲料库门未关，有人员未经消毒进入"
    assert hook["anomaly"]["filing_number"] == "3200GJ0001"
    # While the anomaly is open the farm is flagged for more on-site inspection (art. 20).
    status, registered = await admin.request("GET", f"/api/farms/{farm_id}")
    assert status == 200, registered
    assert [(f["kind"], f["reference"]) for f in registered["flags"]] == [
        ("anomaly", str(anomaly["id"]))
    ], registered["flags"]

    # A monitor without a grant on the farm reaches nothing of it.
    anomaly_path = f"/api/anomalies/{anomaly['id']}"
    for method, path, body in (
        ("GET", anomaly_path, None),
        ("GET", f"{anomaly_path}/evidence", None),
        ("POST", f"{anomaly_path}/state", {"state": "rectified", "remark": "x"}),
        ("POST", f"/api/channels/{camera}/anomalies", {"description": "x", "mode": "live"}),
    ):
        status, refused = await stranger.request(method, path, body)
        assert status == 403, (path, status, refused)
    status, listed = await stranger.request("GET", "/api/anomalies")
    assert status == 200 and listed["anomalies"] == []

    # The evidence: cut from the platform's segments once the 10 s after have been recorded.
    detail = await wait_for_evidence(monitor, anomaly["id"], 60 + 30 + AFTER + 20)
    assert detail["evidence_state"] == "saved", detail
    (evidence,) = detail["evidence"]
    assert evidence["state"] == "ready" and evidence["source"] == "platform", evidence
    assert local(seen - timedelta(seconds=BEFORE)) == evidence["start"]
    assert local(seen + timedelta(seconds=AFTER)) == evidence["end"]
    async with monitor.http.get(monitor.base + evidence["file"]) as response:
        assert response.status == 200
        data = await response.read()
    assert hashlib.sha256(data).hexdigest() == evidence["sha256"]
    assert BEFORE + AFTER - 1 <= decoded_seconds(data) <= BEFORE + AFTER + 1.5
    status, verified = await monitor.request("GET", evidence["verify"])
    assert status == 200 and verified["valid"] is True, verified
    _EVIDENCE.append(evidence)

    # Rectification: ordered by the administrator only, reported done, then a case.
    deadline = local(datetime.now(SHANGHAI) + timedelta(days=3))
    order = {"order": "立即关闭饲料库门，登记进出人员并消毒", "deadline": deadline}
    status, refused = await monitor.request("POST", f"{anomaly_path}/rectification", order)
    assert status == 403, refused
    status, ordered = await admin.request("POST", f"{anomaly_path}/rectification", order)
    assert status == 200 and ordered["state"] == "rectification_ordered", ordered
    assert ordered["rectification"]["deadline"] == deadline and not ordered["overdue"]
    status, done = await monitor.request(
        "POST", f"{anomaly_path}/state", {"state": "rectified", "remark": "已关门并登记"}
    )
    assert status == 200 and done["state"] == "rectified", done
    case = {"state": "case_opened", "remark": "复查发现仍未消毒", "case_number": "苏检立2026-001"}
    status, refused = await monitor.request("POST", f"{anomaly_path}/state", case)
    assert status == 403, refused
    status, escalated = await admin.request("POST", f"{anomaly_path}/state", case)
    assert status == 200 and escalated["case_number"] == "苏检立2026-001", escalated
    # A case number is never used twice: another anomaly (seen in a recording) is refused it.
    yesterday = local(datetime.now(SHANGHAI) - timedelta(days=1))
    other = await created(monitor, f"/api/channels/{camera}/anomalies",
                          {"description": "死亡动物未及时处理", "mode": "playback",
                           "time": yesterday})  # fmt: skip
    assert other["time"] == yesterday
    status, clash = await admin.request("POST", f"/api/anomalies/{other['id']}/state", case)
    assert status == 409 and "already used" in clash["error"], clash
    status, closed = await admin.request(
        "POST", f"{anomaly_path}/state", {"state": "closed", "remark": "结案"}
    )
    assert status == 200 and closed["state"] == "closed", closed
    assert [(h["from"], h["to"], h["by"]) for h in closed["history"]] == [
        (None, "open", "mon.granted"),
        ("open", "rectification_ordered", "east.admin"),
        ("rectification_ordered", "rectified", "mon.granted"),
        ("rectified", "case_opened", "east.admin"),
        ("case_opened", "closed", "east.admin"),
    ]
    status, bad = await admin.request(
        "POST", f"{anomaly_path}/state", {"state": "open", "remark": "again"}
    )
    assert status == 409, bad
    status, linked = await monitor.request(
        "POST", f"{anomaly_path}/follow-ups", {"monitoring_record_id": 77}
    )
    assert status == 201 and linked["follow_ups"][0]["monitoring_record_id"] == 77, linked

    # Closed, it no longer flags the farm; the other one, still open, does.
    status, registered = await admin.request("GET", f"/api/farms/{farm_id}")
    assert [f["reference"] for f in registered["flags"]] == [str(other["id"])], registered
    # The list: visible farms only; the open one is still open.
    status, listed = await admin.request("GET", "/api/anomalies?state=open")
    assert status == 200 and [a["id"] for a in listed["anomalies"]] == [other["id"]]

    # The audit trail names each step, the refusals included.
    status, audit = await people["top"].request("GET", "/api/audit?limit=200")
    assert status == 200
    rows = [(r["action"], r["result"], r["actor"]["name"]) for r in audit["rows"]]
    for row in (
        ("anomaly_report", "ok", "mon.granted"),
        ("anomaly_report", "denied", "mon.other"),
        ("anomaly_rectification", "ok", "east.admin"),
        ("anomaly_rectification", "denied", "mon.granted"),
        ("anomaly_state", "ok", "mon.granted"),
        ("anomaly_state", "ok", "east.admin"),
        ("anomaly_state", "failed", "east.admin"),  # the clashing case number
        ("anomaly_follow_up", "ok", "mon.granted"),
        ("clip_export", "ok", "mon.granted"),
    ):
        assert row in rows, (row, sorted(set(rows)))
    report_row = next(r for r in audit["rows"] if r["action"] == "anomaly_report"
                      and r["detail"].get("id") == str(anomaly["id"]))  # fmt: skip
    assert report_row["channel_id"] == camera and report_row["recorded_start"] is not None
