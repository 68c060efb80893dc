"""The API routes the console needs, on a real `farmwatch serve` with a simulated camera
(issue 10 §5): enrolling a device with its own password (and that device registering with
it), each camera's key area and location number, and the console's tree holding only what
each person may see. The people are those of the authorisation tests (`access_rig`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from farmwatch.simulator import running_simulator
from farmwatch.simulator.channels import device_ids
from tests.e2e.access_helpers import AccessRig, access_rig
from tests.e2e.live_helpers import PLATFORM

pytestmark = pytest.mark.asyncio(loop_scope="module")

OWN_PASSWORD = "Own-Pass-77"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AccessRig]:
    async with access_rig(tmp_path_factory.mktemp("console-api")) as rig:
        yield rig


def _cameras(tree: dict[str, Any]) -> set[str]:
    return {camera["channel_id"] for device in tree["devices"] for camera in device["cameras"]}


async def test_the_tree_holds_only_what_each_person_may_see(rig: AccessRig) -> None:
    people = rig.people
    status, tree = await people["mon.granted"].request("GET", "/api/tree")
    assert status == 200, tree
    assert _cameras(tree) == {rig.granted_camera}
    assert [device["device_id"] for device in tree["devices"]] == [rig.device]
    assert [farm["id"] for farm in tree["farms"]] == [rig.farm]
    assert {org["name"] for org in tree["organisations"]} == {"east", "national"}
    assert tree["devices"][0]["farm_id"] == rig.farm and tree["devices"][0]["online"] is True
    assert [area["zh"] for area in tree["key_areas"]] == [
        "场区", "药库", "料库", "药品配置间", "饲料投放处", "畜禽舍",
    ]  # fmt: skip
    status, tree = await people["east.admin"].request("GET", "/api/tree")
    assert status == 200 and _cameras(tree) == {rig.granted_camera, rig.other_camera}
    status, tree = await people["west.admin"].request("GET", "/api/tree")
    assert status == 200 and _cameras(tree) == set() and tree["farms"] == []
    assert {org["name"] for org in tree["organisations"]} == {"west", "national"}
    status, tree = await people["mon.plain"].request("GET", "/api/tree")
    assert status == 200 and tree["devices"] == [] and tree["farms"] == []
    assert (await people["anonymous"].request("GET", "/api/tree"))[0] == 401


async def test_an_administrator_sets_a_cameras_key_area_and_location(rig: AccessRig) -> None:
    admin, camera = rig.people["east.admin"], rig.other_camera
    path = f"/api/channels/{camera}/placement"
    status, place = await admin.request("PUT", path, {"key_area": "drug_store", "location": "B-07"})
    assert status == 200, place
    assert place == {
        "channel_id": camera, "key_area": "drug_store", "key_area_label": "药库",
        "location": "B-07", "model": None, "access_method": None, "access_method_label": None,
    }  # fmt: skip
    for bad, why in (
        ({"key_area": "kitchen", "location": None}, "key_area: expected one of"),
        ({"key_area": 3}, "key_area: expected one of"),
        ({"key_area": None, "location": "x" * 65}, "location: expected at most 64"),
        ({"key_area": None, "location": 12}, "location: expected a string"),
    ):
        status, answer = await admin.request("PUT", path, bad)
        assert status == 400 and why in answer["error"], (bad, answer)
    # A monitor, and an administrator of another bureau, may not.
    body = {"key_area": "animal_house", "location": "X"}
    assert (await rig.people["mon.granted"].request("PUT", path, body))[0] == 403
    assert (await rig.people["west.admin"].request("PUT", path, body))[0] == 403
    # The channel views and the tree carry it.
    status, channels = await admin.request("GET", f"/api/devices/{rig.device}/channels")
    assert status == 200
    nodes = {node["channel_id"]: node for node in _flatten(channels["channels"])}
    assert nodes[camera]["key_area"] == "drug_store" and nodes[camera]["location"] == "B-07"
    assert nodes[rig.granted_camera]["key_area"] is None
    status, tree = await admin.request("GET", "/api/tree")
    placed = {c["channel_id"]: c for d in tree["devices"] for c in d["cameras"]}
    assert placed[camera]["key_area_label"] == "药库" and placed[camera]["location"] == "B-07"
    # Unset again; the change is in the audit trail as a configuration change.
    status, place = await admin.request("PUT", path, {"key_area": None, "location": ""})
    assert status == 200 and place["key_area"] is None and place["location"] is None
    status, audit = await rig.top.request("GET", "/api/audit?limit=30")
    rows = [row for row in audit["rows"] if row["action"] == "config_change"]
    assert any(row["channel_id"] == camera and row["actor"]["name"] == "east.admin" for row in rows)


def _flatten(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for node in nodes:
        found.append(node)
        found.extend(_flatten(node["children"]))
    return found


async def test_a_device_enrolled_with_its_own_password_registers_with_it(rig: AccessRig) -> None:
    top, east = rig.top, rig.people["east.admin"]
    new_id = device_ids(PLATFORM[:10], 1, first_serial=50, channels=1)[0]
    for bad, why in (
        ({"device_id": "123", "password": OWN_PASSWORD}, "device_id: expected"),
        ({"device_id": new_id, "password": "short"}, "password: expected 6 to 64"),
        ({"device_id": new_id, "password": "has space 1"}, "password: expected"),
        ({"device_id": new_id, "password": OWN_PASSWORD, "farm_id": "one"}, "farm_id: expected"),
    ):
        status, answer = await east.request("POST", "/api/devices", bad)
        assert status == 400 and why in answer["error"], (bad, answer)
    body = {"device_id": new_id, "password": OWN_PASSWORD, "name": "东一 1 号 NVR"}
    assert (await rig.people["mon.granted"].request("POST", "/api/devices", body))[0] == 403
    # Another bureau's administrator cannot put it on east's farm.
    status, _ = await rig.people["west.admin"].request(
        "POST", "/api/devices", {**body, "farm_id": rig.farm}
    )
    assert status == 403
    status, device = await east.request("POST", "/api/devices", {**body, "farm_id": rig.farm})
    assert status == 201, device
    assert device["enrolled"] is True and device["farm_id"] == rig.farm and "password" not in device
    assert (await top.request("POST", "/api/devices", body))[0] == 409
    status, tree = await east.request("GET", "/api/tree")
    assert new_id in {d["device_id"] for d in tree["devices"]}
    server = ("127.0.0.1", rig.rig.server.sip_port)
    # The platform's default password no longer lets it in; its own does.
    with pytest.raises(TimeoutError):
        async with running_simulator(
            server=server, server_id=PLATFORM, devices=1, channels=1, device_id_base=50,
            register_timeout=2,
        ):  # fmt: skip
            pass
    async with running_simulator(
        server=server, server_id=PLATFORM, devices=1, channels=1, device_id_base=50,
        password=OWN_PASSWORD,
    ) as fleet:  # fmt: skip
        assert fleet.device_ids == [new_id]
        async with asyncio.timeout(5):  # registrations reach the database in batches
            while not (await east.request("GET", f"/api/devices/{new_id}"))[1]["online"]:
                await asyncio.sleep(0.05)
