"""The farm register through the API of a real `farmwatch serve` with a simulated camera
(regulation art. 5–6; issue 11 item 1): an administrator enrols a farm and records its
decisions, applied → surveyed → approved → suspended → approved → revoked; a move that does
not follow is refused; an application document is uploaded, fetched and checked by its
SHA-256; a monitor sees only the farm their grant touches and changes nothing; every change
is in the audit trail. The people are those of the authorisation tests (`access_rig`)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.e2e.access_helpers import AccessRig, Caller, access_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_BYTES = 4000  # [supervision] farm_document_max_megabytes = 0.004


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AccessRig]:
    env = {"FARMWATCH_SUPERVISION_FARM_DOCUMENT_MAX_MEGABYTES": str(MAX_BYTES / 1e6)}
    async with access_rig(tmp_path_factory.mktemp("farm-register"), env) as rig:
        yield rig


async def _upload(
    caller: Caller, farm_id: int, content: bytes, name: str, **fields: str
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", content, filename=name, content_type="application/pdf")
    async with caller.http.post(
        f"{caller.base}/api/farms/{farm_id}/documents", data=form,
        headers={"X-CSRF-Token": caller.csrf},
    ) as response:  # fmt: skip
        return response.status, await response.json()


async def _audit(rig: AccessRig, action: str) -> list[dict[str, Any]]:
    status, page = await rig.top.request("GET", "/api/audit?limit=200")
    assert status == 200, page
    return [row for row in reversed(page["rows"]) if row["action"] == action]


async def test_an_administrator_enrols_a_farm_and_records_each_decision(rig: AccessRig) -> None:
    admin = rig.people["east.admin"]
    status, farm = await admin.request("POST", "/api/farms", {
        "name": "东二猪场", "filing_number": "EAST-0100", "organisation_id": rig.east,
        "operator": "李四", "phone": "020-1234 5678", "address": "广州市番禺区一号路",
        "species": "pig", "applied_on": "2025-03-01", "remark": "书面申请",
    })  # fmt: skip
    assert status == 201, farm
    assert (farm["state"], farm["state_label"], farm["species_label"]) == ("applied", "申请", "猪")
    base = {"name": "x", "filing_number": "EAST-0101", "organisation_id": rig.east}
    for bad, why in (
        ({**base, "name": None}, "name: expected a string"),
        ({**base, "species": "dragon"}, "species: expected one of pig, poultry"),
        ({**base, "species": "other"}, "species_other: say what the farm keeps"),
        ({**base, "phone": "call me"}, "phone: expected digits"),
        ({**base, "applied_on": "next week"}, "applied_on: expected a date"),
        ({**base, "organisation_id": "east"}, "organisation_id: expected an integer"),
    ):
        status, answer = await admin.request("POST", "/api/farms", bad)
        assert status == 400 and why in answer["error"], (bad, answer)
    path = f"/api/farms/{farm['id']}"
    for bad, wanted, why in (
        ({"state": "approved"}, 409, "a farm applied (申请) cannot become approved"),
        ({"state": "closed"}, 400, "state: expected one of"),
        ({"state": "surveyed", "date": "2025-02-01"}, 400, "before the farm's previous"),
        ({"state": "surveyed", "date": "01/03/2025"}, 400, "date: expected a date"),
    ):
        status, answer = await admin.request("POST", f"{path}/state", bad)
        assert (status, why in answer["error"]) == (wanted, True), (bad, answer)
    for state, day, remark in (
        ("surveyed", "2025-03-05", "现场勘测合格"), ("approved", "2025-03-10", None),
        ("suspended", "2025-04-01", "药库记录不全"), ("approved", "2025-04-15", "整改完成"),
        ("revoked", None, "违规用药"),
    ):  # fmt: skip
        body = {"state": state, **({"date": day} if day else {}), "remark": remark}
        status, answer = await admin.request("POST", f"{path}/state", body)
        assert status == 200, answer
        assert answer["state"] == state and answer["change"]["to"] == state
    status, answer = await admin.request("POST", f"{path}/state", {"state": "approved"})
    assert status == 409 and "revoked (撤销) is final" in answer["error"]
    status, details = await rig.top.request("GET", path)
    assert status == 200, details
    assert [(c["from"], c["to"], c["remark"]) for c in details["history"]] == [
        (None, "applied", "书面申请"), ("applied", "surveyed", "现场勘测合格"),
        ("surveyed", "approved", None), ("approved", "suspended", "药库记录不全"),
        ("suspended", "approved", "整改完成"), ("approved", "revoked", "违规用药"),
    ]  # fmt: skip
    assert details["history"][1]["date"] == "2025-03-05"
    assert {c["officer"]["name"] for c in details["history"]} == {"east.admin"}
    assert (details["operator"], details["flags"]) == ("李四", [])
    # Edited: a field left out stays, null unsets.
    status, edited = await admin.request("PUT", path, {"phone": None, "address": "新地址"})
    assert status == 200, edited
    assert (edited["phone"], edited["address"], edited["operator"]) == (None, "新地址", "李四")
    # Found by state and by text; filing numbers are unique.
    status, page = await admin.request("GET", "/api/farms?state=revoked&q=east-01")
    assert status == 200 and [f["id"] for f in page["farms"]] == [farm["id"]]
    status, again = await admin.request("POST", "/api/farms", {
        "name": "x", "filing_number": "EAST-0100", "organisation_id": rig.east,
    })  # fmt: skip
    assert status == 409 and "EAST-0100" in again["error"]
    # The audit trail holds each decision and who took it.
    states = [
        row for row in await _audit(rig, "farm_state") if row["detail"]["farm_id"] == farm["id"]
    ]
    assert [(row["detail"]["from"], row["detail"]["to"]) for row in states] == [
        ("applied", "surveyed"), ("surveyed", "approved"), ("approved", "suspended"),
        ("suspended", "approved"), ("approved", "revoked"),
    ]  # fmt: skip
    assert {row["actor"]["name"] for row in states} == {"east.admin"}
    changes = [row["detail"] for row in await _audit(rig, "farm_change")]
    assert {"change": "enrolled", "farm_id": farm["id"]}.items() <= changes[-2].items()
    assert changes[-1]["fields"] == {"phone": ["020-1234 5678", None],
                                     "address": ["广州市番禺区一号路", "新地址"]}  # fmt: skip


async def test_a_document_is_uploaded_fetched_and_checked_by_its_sha256(rig: AccessRig) -> None:
    admin, farm_id = rig.people["east.admin"], rig.farm
    content = "出口畜禽备案养殖场书面申请\n".encode() * 100
    status, document = await _upload(admin, farm_id, content, "../申请书.pdf", remark="申请书")
    assert status == 201, document
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert (document["file_name"], document["size"]) == ("申请书.pdf", len(content))
    async with admin.http.get(f"{admin.base}{document['file']}") as response:
        assert response.status == 200
        assert await response.read() == content
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "%E7%94%B3%E8%AF%B7%E4%B9%A6.pdf" in response.headers["Content-Disposition"]
    status, check = await admin.request("GET", f"{document['file']}".replace("/file", "/verify"))
    assert status == 200 and check["valid"] is True and check["actual"] == document["sha256"]
    status, newer = await _upload(
        admin, farm_id, b"v2", "申请书-v2.pdf", supersedes=str(document["id"])
    )
    assert status == 201 and newer["supersedes_id"] == document["id"]
    status, details = await admin.request("GET", f"/api/farms/{farm_id}")
    assert [(d["id"], d["superseded"]) for d in details["documents"]] == [
        (document["id"], True), (newer["id"], False),
    ]  # fmt: skip
    status, answer = await _upload(admin, farm_id, b"x" * (MAX_BYTES + 1), "big.bin")
    assert status == 413 and "larger than 4000 bytes" in answer["error"]
    for content_type, body in (
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=XYZ", b"--ABC\r\nnot what was announced\r\n"),
        ("multipart/form-data; boundary=XYZ",
         b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
         b"cut off before its closing boundary"),
        ("application/pdf", b"%PDF-1.4"),
    ):  # fmt: skip
        async with admin.http.post(
            f"{admin.base}/api/farms/{farm_id}/documents", data=body,
            headers={"X-CSRF-Token": admin.csrf, "Content-Type": content_type},
        ) as response:  # fmt: skip
            answer = await response.json()
            assert response.status == 400 and "multipart" in answer["error"], (body, answer)
    status, details = await admin.request("GET", f"/api/farms/{farm_id}")
    assert len(details["documents"]) == 2  # the broken uploads left nothing on record
    # ... nor on disk: the files are named by their SHA-256 only.
    folder = rig.rig.server.log_path.parent / "data" / "farm-documents"
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [document["sha256"], newer["sha256"]]
    )
    status, answer = await admin.request("DELETE", document["file"])
    assert status in (404, 405)  # no way to delete a document: it is part of the record
    added = [row["detail"] for row in await _audit(rig, "farm_document")]
    assert [d.get("change") for d in added if d.get("change")] == ["added", "added"]
    fetched = [d for d in added if d.get("route", "").startswith("GET ")]
    assert fetched and fetched[0]["status"] == 200


async def test_a_monitor_sees_only_their_farm_and_cannot_change_it(rig: AccessRig) -> None:
    monitor, admin = rig.people["mon.granted"], rig.people["east.admin"]
    status, other = await admin.request("POST", "/api/farms", {
        "name": "东三禽场", "filing_number": "EAST-0200", "organisation_id": rig.east,
        "species": "other", "species_other": "鸵鸟",
    })  # fmt: skip
    assert status == 201, other
    status, page = await monitor.request("GET", "/api/farms")
    assert status == 200 and [farm["id"] for farm in page["farms"]] == [rig.farm]
    status, page = await rig.people["mon.plain"].request("GET", "/api/farms")
    assert status == 200 and page["farms"] == []
    assert (await monitor.request("GET", f"/api/farms/{other['id']}"))[0] == 403
    status, details = await monitor.request("GET", f"/api/farms/{rig.farm}")
    assert status == 200 and details["id"] == rig.farm
    for method, path, body in (
        ("POST", f"/api/farms/{rig.farm}/state", {"state": "revoked"}),
        ("PUT", f"/api/farms/{rig.farm}", {"name": "mine now"}),
        ("POST", "/api/farms", {"name": "x", "filing_number": "M-1", "organisation_id": rig.east}),
    ):
        status, answer = await monitor.request(method, path, body)
        assert status == 403, (method, path, answer)
    status, _ = await _upload(monitor, rig.farm, b"x", "x.pdf")
    assert status == 403
    status, details = await admin.request("GET", f"/api/farms/{rig.farm}")
    assert details["name"] == "东一猪场" and details["state"] != "revoked"
    refused = [row for row in await _audit(rig, "farm_state") if row["result"] == "denied"]
    assert refused and refused[-1]["actor"]["name"] == "mon.granted"


async def test_a_farms_cameras_carry_key_area_location_model_and_access_method(
    rig: AccessRig,
) -> None:
    admin, monitor = rig.people["east.admin"], rig.people["mon.granted"]
    path = f"/api/channels/{rig.granted_camera}/placement"
    status, place = await admin.request(
        "PUT", path, {"key_area": "animal_house", "location": "A-03", "model": "DS-2CD3T46"}
    )
    assert status == 200, place
    status, place = await admin.request("PUT", path, {"access_method": "via_nvr"})
    assert status == 200 and (place["location"], place["model"]) == ("A-03", "DS-2CD3T46")
    status, answer = await admin.request("PUT", path, {"access_method": "carrier pigeon"})
    assert status == 400 and "access_method: expected one of" in answer["error"]
    status, cameras = await admin.request("GET", f"/api/farms/{rig.farm}/cameras")
    assert status == 200, cameras
    found = {camera["channel_id"]: camera for camera in cameras["cameras"]}
    assert set(found) == {rig.granted_camera, rig.other_camera}
    assert {key: found[rig.granted_camera][key] for key in (
        "key_area_label", "location", "model", "access_method", "access_method_label", "online",
    )} == {
        "key_area_label": "畜禽舍", "location": "A-03", "model": "DS-2CD3T46",
        "access_method": "via_nvr", "access_method_label": "经硬盘录像机接入", "online": True,
    }  # fmt: skip
    status, cameras = await monitor.request("GET", f"/api/farms/{rig.farm}/cameras")
    assert status == 200 and [c["channel_id"] for c in cameras["cameras"]] == [rig.granted_camera]
