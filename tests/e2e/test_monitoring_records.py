"""Monitoring records end to end (regulation art. 12–18; issue 11 item 2): a real
`farmwatch serve` with the simulator's camera placed on a farm as a 药库 (drug store)
camera. A monitor granted that camera makes a record from the live view: its snapshot is a
real JPEG of the camera's picture, stored under the storage folder by its SHA-256; the
record shows in the farm's history, the CSV export and the printable page, and the farm's
schedule counts from it. A monitor without the grant is refused and sees nothing; the
audit trail holds the record, the refusal and the export.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
import pytest_asyncio

from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.access_helpers import Browsers, Caller, recorded_range
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECORDS = RecordSettings(missing_fraction=0.0)
"""The simulator's recordings: yesterday, all day."""

GRANTED = "mon.drugs"
PLAIN = "mon.none"
PASSWORD = "Drug-Store-Monitor-1"
ANSWERS = {
    "drug_store.permitted_list": {"answer": "compliant"},
    "drug_store.labelled": {"answer": "not_compliant", "remark": "=两瓶无批次"},
}


@dataclass
class RecordsRig:
    rig: LiveRig
    storage: Path
    farm: int
    monitor: Caller
    plain: Caller

    @property
    def camera(self) -> str:
        return self.rig.channel(0)


async def _monitor(top: Caller, browsers: Browsers, rig: LiveRig, name: str) -> Caller:
    status, user = await top.request(
        "POST", "/api/users",
        {"username": name, "display_name": f"{name} 监控员", "role": "monitor",
         "organisation_id": rig.server.organisation_id, "password": PASSWORD},
    )  # fmt: skip
    assert status == 201, user
    if name == GRANTED:
        status, grant = await top.request(
            "POST", f"/api/users/{user['id']}/grants", {"kind": "channel", "target": rig.channel(0)}
        )
        assert status == 201, grant
    caller = browsers.new(name)
    await caller.log_in(name, PASSWORD)
    return caller


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def records(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RecordsRig]:
    tmp_path: Path = tmp_path_factory.mktemp("records")
    env = {"FARMWATCH_MEDIA_WORKERS": "0"}
    async with live_rig(tmp_path, channels=2, env=env, records=RECORDS) as rig:
        browsers = Browsers(rig.base)
        try:
            top = browsers.new("top")
            await top.log_in(ADMIN, ADMIN_PASSWORD)
            status, farm = await top.request(
                "POST", "/api/farms",
                {"name": "一号猪场", "filing_number": "GZ-0001",
                 "organisation_id": rig.server.organisation_id},
            )  # fmt: skip
            assert status == 201, farm
            device = rig.fleet.device_ids[0]
            status, placed = await top.request(
                "PUT", f"/api/devices/{device}/farm", {"farm_id": farm["id"]}
            )
            assert status == 200, placed
            status, place = await top.request(
                "PUT", f"/api/channels/{rig.channel(0)}/placement",
                {"key_area": "drug_store", "location": "A-01"},
            )  # fmt: skip
            assert status == 200, place
            monitor = await _monitor(top, browsers, rig, GRANTED)
            plain = await _monitor(top, browsers, rig, PLAIN)
            yield RecordsRig(rig, tmp_path / "data", farm["id"], monitor, plain)
        finally:
            await browsers.close()


async def _bytes(caller: Caller, path: str) -> tuple[int, str, bytes]:
    async with caller.http.get(caller.base + path) as response:
        return response.status, response.content_type, await response.read()


async def _made(records: RecordsRig) -> dict[str, Any]:
    status, record = await records.monitor.request(
        "POST", f"/api/channels/{records.camera}/monitoring-records",
        {"mode": "live", "answers": ANSWERS, "remark": "药库巡查"},
    )  # fmt: skip
    assert status == 201, record
    return dict(record)


async def test_a_record_from_the_live_view_keeps_the_camera_picture(
    records: RecordsRig,
) -> None:
    record = await _made(records)
    assert (record["farm_id"], record["key_area"], record["mode"]) == (
        records.farm,
        "drug_store",
        "live",
    )
    assert record["outcome"] == "not_compliant" and record["remark"] == "药库巡查"
    assert record["signed_by"]["username"] == GRANTED
    assert record["signed_by"]["display_name"] == f"{GRANTED} 监控员"
    assert record["snapshot_missing"] is None, record
    sha256 = record["snapshot"]["sha256"]

    status, kind, jpeg = await _bytes(records.monitor, record["snapshot"]["url"])
    assert (status, kind) == (200, "image/jpeg")
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    assert hashlib.sha256(jpeg).hexdigest() == sha256
    stored = records.storage / "monitoring-snapshots" / f"{sha256}.jpg"
    assert stored.read_bytes() == jpeg
    with av.open(io.BytesIO(jpeg), format="jpeg_pipe") as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (320, 180)  # the simulator's picture


async def test_a_record_from_a_playback_keeps_the_playback_picture(records: RecordsRig) -> None:
    start, end = recorded_range(8, 10)
    status, session = await records.monitor.request(
        "POST", f"/api/channels/{records.camera}/playback", {"start": start, "end": end}
    )
    assert status == 201, session
    try:
        async with asyncio.timeout(10):
            while True:
                status, now = await records.monitor.request("GET", session["status"])
                assert status == 200, now
                if now["state"] == "playing":
                    break
                await asyncio.sleep(0.1)
        body = {"mode": "playback", "recorded_at": start, "playback_session": session["session"],
                "answers": ANSWERS}  # fmt: skip
        # Another login's playback is not the caller's to take a picture of.
        status, refused = await records.rig.post(
            f"/api/channels/{records.camera}/monitoring-records", body
        )
        assert status == 400 and "not a playback you opened" in refused["error"], refused
        status, record = await records.monitor.request(
            "POST", f"/api/channels/{records.camera}/monitoring-records", body
        )
        assert status == 201, record
    finally:
        await records.monitor.request("DELETE", session["status"])
    assert (record["mode"], record["recorded_at"]) == ("playback", start)
    assert record["snapshot"] is not None, record["snapshot_missing"]
    status, _, jpeg = await _bytes(records.monitor, record["snapshot"]["url"])
    assert status == 200 and hashlib.sha256(jpeg).hexdigest() == record["snapshot"]["sha256"]
    with av.open(io.BytesIO(jpeg), format="jpeg_pipe") as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (320, 180)


async def test_the_record_shows_in_the_history_the_export_and_the_schedule(
    records: RecordsRig,
) -> None:
    record = await _made(records)
    status, page = await records.monitor.request(
        "GET", f"/api/monitoring-records?farm={records.farm}&result=not_compliant"
    )
    assert status == 200, page
    assert record["id"] in [r["id"] for r in page["records"]]
    status, same = await records.monitor.request("GET", f"/api/monitoring-records/{record['id']}")
    assert (status, same) == (200, record)

    status, kind, body = await _bytes(
        records.monitor, f"/api/monitoring-records.csv?channel={records.camera}"
    )
    assert (status, kind) == (200, "text/csv")
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["记录编号", "养殖场", "备案编号"]
    mine = [row for row in rows[1:] if row[0] == str(record["id"])]
    assert [row[8] for row in mine] == ["drug_store.permitted_list", "drug_store.labelled"]
    assert [row[10] for row in mine] == ["符合", "不符合"]
    assert mine[1][1:3] == ["一号猪场", "GZ-0001"] and mine[1][5] == "药库"
    assert mine[1][11] == "'=两瓶无批次"  # a formula-like remark is not run by Excel
    assert mine[1][14] == record["snapshot"]["sha256"]

    status, kind, html = await _bytes(
        records.monitor, f"/monitoring-records/print?farm={records.farm}"
    )
    assert (status, kind) == (200, "text/html")
    text = html.decode()
    assert f"监控记录 第 {record['id']} 号" in text and "监控人员签字" in text
    assert "一号猪场" in text and "不符合" in text

    status, schedule = await records.monitor.request("GET", "/api/supervision/schedule")
    assert status == 200, schedule
    (farm,) = [f for f in schedule["farms"] if f["farm_id"] == records.farm]
    assert farm["overdue"] is False and farm["days"] == 7
    assert farm["last_record_at"] is not None


async def test_bad_records_are_refused_and_nothing_is_stored(records: RecordsRig) -> None:
    status, before = await records.monitor.request("GET", "/api/monitoring-records?limit=500")
    assert status == 200
    status, answer = await records.monitor.request(
        "POST", f"/api/channels/{records.camera}/monitoring-records",
        {"mode": "live", "answers": {"drug_store.permitted_list": "compliant"}},
    )  # fmt: skip
    assert status == 400 and "drug_store.labelled" in answer["error"], answer
    status, answer = await records.rig.post(
        f"/api/channels/{records.rig.channel(1)}/monitoring-records",
        {"mode": "live", "answers": ANSWERS},
    )
    assert status == 409 and "key area" in answer["error"], answer
    status, after = await records.monitor.request("GET", "/api/monitoring-records?limit=500")
    assert after["records"] == before["records"]


async def test_a_monitor_without_the_grant_is_refused_and_sees_nothing(
    records: RecordsRig,
) -> None:
    record = await _made(records)
    status, answer = await records.plain.request(
        "POST", f"/api/channels/{records.camera}/monitoring-records",
        {"mode": "live", "answers": ANSWERS},
    )  # fmt: skip
    assert status == 403, answer
    status, page = await records.plain.request("GET", "/api/monitoring-records")
    assert (status, page["records"]) == (200, [])
    status, _ = await records.plain.request("GET", f"/api/monitoring-records/{record['id']}")
    assert status == 404
    status, _, _ = await _bytes(records.plain, record["snapshot"]["url"])
    assert status == 404
    status, schedule = await records.plain.request("GET", "/api/supervision/schedule")
    assert (status, schedule["farms"]) == (200, [])


async def test_records_refusals_and_exports_are_in_the_audit_trail(records: RecordsRig) -> None:
    record = await _made(records)
    await records.plain.request(
        "POST", f"/api/channels/{records.camera}/monitoring-records",
        {"mode": "live", "answers": ANSWERS},
    )  # fmt: skip
    await _bytes(records.monitor, "/api/monitoring-records.csv")
    status, audit = await records.rig.get("/api/audit?limit=200")
    assert status == 200, audit
    rows = [(r["action"], r["result"], r["actor"]["name"], r["channel_id"], r["detail"])
            for r in audit["rows"]]  # fmt: skip
    made = [r for r in rows if r[0] == "monitoring_record" and r[1] == "ok"]
    assert any(r[2] == GRANTED and r[3] == records.camera and r[4].get("id") == str(record["id"])
               for r in made)  # fmt: skip
    assert any(r[0] == "monitoring_record" and r[1] == "denied" and r[2] == PLAIN for r in rows)
    assert any(r[0] == "monitoring_export" and r[2] == GRANTED for r in rows)


async def test_an_administrator_sets_the_schedule_and_a_monitor_may_not(
    records: RecordsRig,
) -> None:
    organisation = records.rig.server.organisation_id
    path = f"/api/organisations/{organisation}/schedule"
    status, answer = await records.monitor.request("PUT", path, {"days": 1})
    assert status == 403, answer
    status, answer = await records.rig.put(path, {"days": 0})
    assert status == 400 and "1 to 366" in answer["error"], answer
    status, answer = await records.rig.put(path, {"days": 3})
    assert (status, answer) == (200, {"organisation_id": organisation, "days": 3, "own": True})
    try:
        status, schedule = await records.monitor.request("GET", "/api/supervision/schedule")
        (farm,) = [f for f in schedule["farms"] if f["farm_id"] == records.farm]
        assert farm["days"] == 3
    finally:
        status, answer = await records.rig.put(path, {"days": None})
        assert (status, answer["days"], answer["own"]) == (200, 7, False)
    status, audit = await records.rig.get("/api/audit?limit=50")
    changes = [r["detail"] for r in audit["rows"] if r["action"] == "config_change"]
    assert {"organisation_id": organisation, "schedule_days": 3}.items() <= changes[1].items()
