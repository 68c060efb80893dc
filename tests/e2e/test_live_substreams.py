"""Main and sub streams end to end, and what a 2016 device is sent (issue 12 item 6).

A real `farmwatch serve`, one 2022 camera (X-GB-Ver 3.0) and two 2016 ones (no X-GB-Ver),
one of them configured for the Dahua dialect (`[live] stream_dialects`), and a 2016 NVR that
understands only `streamprofile`, which the configuration gets wrong and an administrator
then sets through the API (`PUT /api/devices/{id}/stream-dialect`). The simulator streams
its main picture (320x180) or, when the offer asks for another stream in a dialect it
understands, its sub picture (160x90); PyAV decodes what the platform serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio

from farmwatch.simulator import running_simulator
from farmwatch.simulator.channels import device_ids, id_prefix
from farmwatch.simulator.device import SimulatedDevice
from farmwatch.simulator.fleet import SimulatorFleet
from farmwatch.sipserver.gb.manscdp_build import build_keepalive
from farmwatch.sipserver.sip.sdp import StreamStyle
from tests.e2e.live_helpers import PLATFORM, SMALL_PICTURE, LiveRig, decode_fmp4, live_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

PICTURES = replace(SMALL_PICTURE, sub_width=160, sub_height=90, sub_bitrate=100_000)
OLD_IDS = device_ids(id_prefix(None, PLATFORM), 2, first_serial=2, channels=1)
DAHUA = OLD_IDS[1]
(NVR,) = device_ids(id_prefix(None, PLATFORM), 1, first_serial=4, channels=1)


@dataclass
class Rig:
    live: LiveRig
    old: SimulatorFleet
    """Two 2016 devices: `OLD_IDS[0]` in the default dialect, `DAHUA` in streamprofile."""
    nvr: SimulatorFleet
    """A 2016 NVR that understands only streamprofile, configured (wrongly) as `stream`."""

    @property
    def camera(self) -> SimulatedDevice:
        return self.live.fleet.devices[0]

    def old_device(self, device_id: str) -> SimulatedDevice:
        return next(d for d in (*self.old.devices, *self.nvr.devices) if d.device_id == device_id)

    async def channel_of(self, device_id: str) -> str:
        async with asyncio.timeout(20):
            while True:
                status, body = await self.live.get(f"/api/devices/{device_id}/channels")
                if status == 200 and body["channels"]:
                    return self.old_device(device_id).channels.items[0].device_id
                await self.live.sleep_briefly()


async def calls_ended(device: SimulatedDevice) -> None:
    """The platform BYEd the device's calls (their streams closed after the idle time)."""
    async with asyncio.timeout(10):
        await device.wait_for(lambda d: d.active_calls == 0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    tmp_path: Path = tmp_path_factory.mktemp("substreams")
    env = {
        "FARMWATCH_LIVE_STREAM_DIALECTS": f"{DAHUA}=streamprofile, {NVR}=stream",
        # Streams end 1 s after their last viewer: the tests wait for it, so that none is
        # left for the shutdown to BYE a device that has gone (it would wait for the answer).
        "FARMWATCH_MEDIA_IDLE_CLOSE": "1",
    }
    async with (
        live_rig(tmp_path, channels=1, media=PICTURES, env=env) as live,
        running_simulator(
            server=("127.0.0.1", live.server.sip_port), server_id=PLATFORM, devices=2,
            channels=1, media=PICTURES, device_id_base=2, gb_version=None,
        ) as old,
        running_simulator(
            server=("127.0.0.1", live.server.sip_port), server_id=PLATFORM, devices=1,
            channels=1, media=replace(PICTURES, stream_style=StreamStyle.STREAMPROFILE),
            device_id_base=4, gb_version=None,
        ) as nvr,
    ):  # fmt: skip
        yield Rig(live, old, nvr)


async def test_a_sub_stream_viewer_gets_the_small_picture_beside_a_main_viewer(rig: Rig) -> None:
    live, camera, channel = rig.live, rig.camera, rig.live.channel()
    before = camera.invites_received
    (s1, main), (s2, sub) = await asyncio.gather(
        live.post(f"/api/channels/{channel}/live", {"stream": "main"}),
        live.post(f"/api/channels/{channel}/live", {"stream": "sub"}),
    )
    assert (s1, s2) == (201, 201), (main, sub)
    assert (main["stream"], sub["stream"]) == (0, 1)
    assert (main["width"], main["height"]) == (320, 180)
    assert (sub["width"], sub["height"]) == (160, 90)
    # Two streams, two INVITEs: the device saw the 2022 attribute for each.
    assert camera.invites_received == before + 2
    asked = sorted((c.stream, c.stream_attribute) for c in camera.calls)
    assert asked == [(0, "streamnumber:0"), (1, "streamnumber:1")]
    assert (main["stream_answered"], sub["stream_answered"]) == (0, 1)  # echoed
    # A second small tile joins the running sub stream: no third INVITE.
    status, again = await live.post(f"/api/channels/{channel}/live", {"stream": 1})
    assert status == 201 and again["stream"] == 1
    assert camera.invites_received == before + 2
    big, small = await asyncio.gather(
        live.read_fmp4(main["fmp4"], seconds=1.5), live.read_fmp4(sub["fmp4"], seconds=1.5)
    )
    big_sizes, small_sizes = decode_fmp4(big), decode_fmp4(small)
    assert len(big_sizes) >= 15 and set(big_sizes) == {(320, 180)}
    assert len(small_sizes) >= 15 and set(small_sizes) == {(160, 90)}
    for session in (main, sub, again):
        assert await live.delete(f"/api/live/{session['session']}") == 204


async def test_bad_stream_values_are_refused(rig: Rig) -> None:
    channel = rig.live.channel()
    for body in ({"stream": "third"}, {"stream": -1}, {"stream": 10}, {"stream": True}, [1]):
        status, answer = await rig.live.post(f"/api/channels/{channel}/live", body)
        assert status == 400, (body, answer)
        assert "expected" in answer["error"]


async def test_versions_are_recorded_and_a_2016_device_gets_no_2022_forms(rig: Rig) -> None:
    live = rig.live
    status, camera = await live.get(f"/api/devices/{rig.camera.device_id}")
    assert status == 200 and camera["gb_version"] == "3.0"
    old_id = OLD_IDS[0]
    channel = await rig.channel_of(old_id)  # once the 2016 device has registered
    status, old = await live.get(f"/api/devices/{old_id}")
    assert status == 200 and old["gb_version"] is None
    device = rig.old_device(old_id)
    # Its sub stream cannot be asked in a form it knows: a clear 501, and no INVITE.
    before = device.invites_received
    status, answer = await live.post(f"/api/channels/{channel}/live", {"stream": "sub"})
    assert status == 501, answer
    assert "2016" in answer["error"]
    assert device.invites_received == before
    # Its main stream plays, asked without the 2022 a=streamnumber.
    status, main = await live.post(f"/api/channels/{channel}/live")
    assert status == 201, main
    assert main["stream"] == 0 and main["stream_answered"] is None
    assert [(c.stream, c.stream_attribute) for c in device.calls] == [(0, None)]
    assert (main["width"], main["height"]) == (320, 180)
    assert await live.delete(f"/api/live/{main['session']}") == 204
    # 2022 commands are not sent to it: a 501 (the simulator would answer them, so a 501
    # means it was not asked), while its 2016 family is still read.
    status, answer = await live.get(f"/api/channels/{channel}/ptz/position")
    assert status == 501 and "PTZPosition is GB/T 28181-2022" in answer["error"], answer
    status, answer = await live.get(f"/api/devices/{old_id}/config?types=OSDConfig")
    assert status == 501 and "OSDConfig" in answer["error"], answer
    status, answer = await live.get(f"/api/devices/{old_id}/config?types=BasicParam")
    assert status == 200 and answer["config"]["BasicParam"] is not None, answer


async def test_a_vendor_dialect_asks_a_2016_device_its_way(rig: Rig) -> None:
    live = rig.live
    channel = await rig.channel_of(DAHUA)
    device = rig.old_device(DAHUA)
    status, sub = await live.post(f"/api/channels/{channel}/live", {"stream": "sub"})
    assert status == 201, sub
    assert [(c.stream, c.stream_attribute) for c in device.calls] == [(1, "streamprofile:1")]
    assert (sub["stream"], sub["stream_answered"]) == (1, 1)
    sizes = decode_fmp4(await live.read_fmp4(sub["fmp4"], seconds=1.0))
    assert len(sizes) >= 10 and set(sizes) == {(160, 90)}
    assert await live.delete(f"/api/live/{sub['session']}") == 204
    await calls_ended(device)


async def test_x_gb_ver_of_later_requests_is_recorded_and_answered(rig: Rig) -> None:
    """A device whose firmware now says 3.0 in its MESSAGEs (no new REGISTER) is taken as
    a 2022 one: recorded, and the 200 carries our X-GB-Ver."""
    live, device_id = rig.live, OLD_IDS[0]
    device = rig.old_device(device_id)
    device.outbox.gb_version = "3.0"
    try:
        response = await device.outbox.send(build_keepalive(device_id, 900))
        assert response.status == 200
        assert response.headers.get("X-GB-Ver") == "3.0"
        async with asyncio.timeout(5):
            while (await live.get(f"/api/devices/{device_id}"))[1]["gb_version"] != "3.0":
                await live.sleep_briefly()
        # Now a 2022 device: its sub stream is asked with a=streamnumber.
        channel = await rig.channel_of(device_id)
        status, sub = await live.post(f"/api/channels/{channel}/live", {"stream": "sub"})
        assert status == 201, sub
        assert (1, "streamnumber:1") in [(c.stream, c.stream_attribute) for c in device.calls]
        assert await live.delete(f"/api/live/{sub['session']}") == 204
        await calls_ended(device)
    finally:
        device.outbox.gb_version = None


async def play_sub_stream(rig: Rig, channel: str) -> tuple[dict[str, object], set[object]]:
    """Ask the channel's sub stream, decode a second of it, leave; (answer, sizes seen)."""
    status, sub = await rig.live.post(f"/api/channels/{channel}/live", {"stream": "sub"})
    assert status == 201, sub
    sizes = decode_fmp4(await rig.live.read_fmp4(sub["fmp4"], seconds=1.0))
    assert len(sizes) >= 10, sizes
    assert await rig.live.delete(f"/api/live/{sub['session']}") == 204
    return sub, set(sizes)


async def test_an_administrator_sets_a_device_s_dialect_and_the_next_invite_uses_it(
    rig: Rig,
) -> None:
    live = rig.live
    channel = await rig.channel_of(NVR)
    device = rig.old_device(NVR)
    path = f"/api/devices/{NVR}/stream-dialect"
    status, view = await live.get(f"/api/devices/{NVR}")
    assert status == 200 and view["gb_edition"] == 2016
    assert view["stream_dialect"] == {"dialect": "stream", "source": "configuration",
                                      "setting": None}  # fmt: skip
    # The configured dialect is not one the NVR knows: it streams its main picture.
    sub, sizes = await play_sub_stream(rig, channel)
    assert [(c.offered_stream, c.stream_attribute) for c in device.calls] == [("stream:1", None)]
    assert (sub["stream"], sub["stream_answered"]) == (1, None)
    assert sizes == {(320, 180)}
    await calls_ended(device)

    for body in ({"dialect": "dahua"}, {"dialect": 1}, {}, {"dialect": ["streamprofile"]}):
        status, answer = await live.put(path, body)
        assert status == 400, (body, answer)
        assert "streamprofile" in answer["error"] and "null" in answer["error"], answer
    status, answer = await live.put("/api/devices/34020000001320000999/stream-dialect",
                                    {"dialect": "streamprofile"})  # fmt: skip
    assert status in (403, 404), answer  # not within reach: it does not exist
    status, view = await live.get(f"/api/devices/{NVR}")
    assert view["stream_dialect"]["source"] == "configuration"  # the refusals changed nothing

    status, view = await live.put(path, {"dialect": "StreamProfile"})
    assert status == 200, view
    assert view["stream_dialect"] == {"dialect": "streamprofile", "source": "device",
                                      "setting": "streamprofile"}  # fmt: skip
    # No restart: the next INVITE asks the NVR its way, and the small picture plays.
    sub, sizes = await play_sub_stream(rig, channel)
    assert [(c.offered_stream, c.stream_attribute) for c in device.calls] == [
        ("streamprofile:1", "streamprofile:1")
    ]
    assert (sub["stream"], sub["stream_answered"]) == (1, 1)
    assert sizes == {(160, 90)}
    await calls_ended(device)
    status, audit = await live.get("/api/audit?limit=20")
    assert status == 200
    (row,) = [r for r in audit["rows"] if r["detail"].get("route") == f"PUT {path}"
              and r["result"] == "ok"]  # fmt: skip
    assert row["action"] == "config_change"
    assert (row["detail"]["stream_dialect"], row["detail"]["previous"]) == ("streamprofile", None)

    # null: the configuration's entry again.
    status, view = await live.put(path, {"dialect": None})
    assert status == 200 and view["stream_dialect"]["source"] == "configuration", view
    status, listed = await live.get("/api/devices")
    assert {d["device_id"]: d["stream_dialect"]["dialect"] for d in listed["devices"]}[NVR] == (
        "stream"
    )
