"""Snapshots the camera takes itself ([2022] SnapShotConfig; issue 12 item 4), end to end:
a real `farmwatch serve` and one simulated camera. Pictures asked through the API are
uploaded by the camera to its one-time URL, listed newest first and served as JPEGs PyAV
decodes; the URL takes no more than the count asked, nothing but a JPEG, nothing after
the camera said it finished, and an unknown token nothing at all."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import av
import pytest
import pytest_asyncio

from farmwatch.simulator import SimulatedDevice
from farmwatch.simulator.snapshot_uploader import SnapshotRun
from tests.e2e.access_helpers import Browsers
from tests.e2e.live_helpers import SMALL_PICTURE, LiveRig, live_rig
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    tmp_path: Path = tmp_path_factory.mktemp("device-snapshots")
    env = {"FARMWATCH_MEDIA_WORKERS": "0", "FARMWATCH_REGISTRAR_CONTROL_TIMEOUT": "3"}
    async with live_rig(tmp_path, channels=2, env=env) as running:
        yield running


async def _finished_run(device: SimulatedDevice, index: int) -> SnapshotRun:
    async with asyncio.timeout(20):
        await device.wait_for(
            lambda d: (
                len(d.snapshots.runs) > index
                and d.snapshots.runs[index].finished_status is not None
            )
        )
    return device.snapshots.runs[index]


async def _upload(url: str, data: bytes, content_type: str = "image/jpeg") -> int:
    async with (
        aiohttp.ClientSession() as http,  # no login, like a camera
        http.post(url, data=data, headers={"Content-Type": content_type}) as answer,
    ):
        await answer.read()
        return answer.status


def _decode(jpeg: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


async def test_pictures_asked_for_are_uploaded_listed_and_served(rig: LiveRig) -> None:
    device, channel = rig.fleet.devices[0], rig.channel(1)
    status, session = await rig.post(
        f"/api/channels/{channel}/device-snapshots", {"count": 2, "interval": 1}
    )
    assert status == 202, session
    assert (session["channel_id"], session["count"], session["interval"]) == (channel, 2, 1)

    run = await _finished_run(device, 0)
    assert run.channel_id == channel
    assert run.config.session_id == session["session_id"]
    assert run.statuses == [201, 201]
    assert run.finished_status == 200
    assert len(run.file_ids) == 2

    status, listed = await rig.get(f"/api/channels/{channel}/device-snapshots")
    assert status == 200, listed
    pictures = listed["snapshots"]
    assert [p["session_id"] for p in pictures] == [session["session_id"]] * 2
    assert pictures[0]["time"] >= pictures[1]["time"]
    assert pictures[0]["id"] > pictures[1]["id"]  # newest first
    for picture in pictures:
        async with rig.http.get(rig.base + picture["url"], headers=rig.auth) as answer:
            assert answer.status == 200
            assert answer.content_type == "image/jpeg"
            jpeg = await answer.read()
        assert len(jpeg) == picture["size"]
        assert _decode(jpeg) == (SMALL_PICTURE.width, SMALL_PICTURE.height)
    status, other = await rig.get(f"/api/channels/{rig.channel(0)}/device-snapshots")
    assert status == 200 and other["snapshots"] == [], other

    # After UploadSnapShotFinished the address takes nothing, even a real JPEG.
    assert await _upload(run.config.upload_url, jpeg) == 403
    status, listed = await rig.get(f"/api/channels/{channel}/device-snapshots")
    assert len(listed["snapshots"]) == 2


async def test_forged_uploads_are_refused_and_take_a_place(rig: LiveRig) -> None:
    device, channel = rig.fleet.devices[0], rig.channel(0)
    before = len(device.snapshots.runs)
    status, session = await rig.post(
        f"/api/channels/{channel}/device-snapshots", {"count": 3, "interval": 2}
    )
    assert status == 202, session
    async with asyncio.timeout(10):
        await device.wait_for(
            lambda d: len(d.snapshots.runs) > before and bool(d.snapshots.runs[before].statuses)
        )
    url = device.snapshots.runs[before].config.upload_url
    # Between the camera's pictures: a PNG to the live address is refused, and counts; a
    # JPEG as the file of a form is taken (and counts).
    assert await _upload(url, b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png") == 400
    status, listed = await rig.get(f"/api/channels/{channel}/device-snapshots")
    (camera_picture,) = listed["snapshots"]
    async with rig.http.get(rig.base + camera_picture["url"], headers=rig.auth) as answer:
        jpeg = await answer.read()
    form = aiohttp.FormData()
    form.add_field("file", jpeg, filename="snap.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as answer:
        assert answer.status == 201, await answer.text()
    run = await _finished_run(device, before)
    assert run.statuses == [201, 403, 403]  # the forgeries took the camera's places

    base, _, token = url.rpartition("/")
    assert await _upload(f"{base}/{token[:-4]}AAAA", b"\xff\xd8\xff\xe0\xff\xd9") == 404
    assert await _upload(f"{base}/unknown", bytes(9 * 1024 * 1024)) == 413
    status, listed = await rig.get(f"/api/channels/{channel}/device-snapshots")
    assert [p["sha256"] for p in listed["snapshots"]] == [camera_picture["sha256"]] * 2


async def test_bad_requests_are_answered_with_the_reason(rig: LiveRig) -> None:
    channel = rig.channel(0)
    for body, word in (({"count": 11}, "count"), ({"interval": 0}, "interval"),
                       ({"count": 1, "colour": 1}, "colour")):  # fmt: skip
        status, answer = await rig.post(f"/api/channels/{channel}/device-snapshots", body)
        assert status == 400 and word in answer["error"], answer
    status, answer = await rig.post(
        "/api/channels/34020000001329999999/device-snapshots", {"count": 1}
    )
    assert status in (403, 404), answer
    async with rig.http.get(rig.base + "/api/device-snapshots/999999.jpg") as missing:
        assert missing.status == 404


async def test_a_monitor_sees_and_asks_only_for_his_cameras_and_it_is_audited(
    rig: LiveRig,
) -> None:
    granted, other = rig.channel(0), rig.channel(1)
    browsers = Browsers(rig.base)
    try:
        top = browsers.new("top")
        await top.log_in(ADMIN, ADMIN_PASSWORD)
        status, user = await top.request(
            "POST", "/api/users",
            {"username": "mon.snapshots", "organisation_id": rig.server.organisation_id,
             "role": "monitor", "password": "Snapshot-Monitor-Pass-1"},
        )  # fmt: skip
        assert status == 201, user
        status, grant = await top.request(
            "POST", f"/api/users/{user['id']}/grants", {"kind": "channel", "target": granted}
        )
        assert status == 201, grant
        monitor = browsers.new("mon.snapshots")
        await monitor.log_in("mon.snapshots", "Snapshot-Monitor-Pass-1")

        # A picture of each camera, asked by the administrator (the test stands alone).
        device = rig.fleet.devices[0]
        for channel in (granted, other):
            before = len(device.snapshots.runs)
            status, session = await rig.post(
                f"/api/channels/{channel}/device-snapshots", {"count": 1, "interval": 1}
            )
            assert status == 202, session
            await _finished_run(device, before)
        _, mine = await rig.get(f"/api/channels/{granted}/device-snapshots")
        _, theirs = await rig.get(f"/api/channels/{other}/device-snapshots")
        assert mine["snapshots"] and theirs["snapshots"]
        status, _ = await monitor.request("GET", mine["snapshots"][0]["url"])
        assert status == 200
        status, refused = await monitor.request("GET", theirs["snapshots"][0]["url"])
        assert status == 403, refused
        status, refused = await monitor.request("GET", f"/api/channels/{other}/device-snapshots")
        assert status == 403, refused
        status, refused = await monitor.request(
            "POST", f"/api/channels/{other}/device-snapshots", {"count": 1}
        )
        assert status == 403, refused

        status, trail = await top.request("GET", "/api/audit?limit=50")
        assert status == 200, trail
        rows = [
            (r["action"], r["result"], r["detail"].get("channel") or r["channel_id"])
            for r in trail["rows"]
            if r["actor"]["name"] == "mon.snapshots"
        ]
        assert ("snapshot", "ok", granted) in rows
        assert ("snapshot", "denied", other) in rows
        assert ("device_snapshot", "denied", other) in rows
    finally:
        await browsers.close()
