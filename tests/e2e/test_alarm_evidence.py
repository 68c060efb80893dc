"""An evidence clip around each camera alarm (`[supervision] alarm_evidence`; issue 12
item 3), end to end: a real `farmwatch serve` records a simulated camera in 1-minute
segments; the camera raises an alarm; the alarm is stored at once with its clip pending,
and once the 3 s after it have been recorded and the segments closed the clip is cut from
the platform's own segments: ready, its SHA-256 verifies, the downloaded file hashes to it
and PyAV decodes about before + after seconds. (With the setting off, its default,
tests/e2e/test_alarms.py checks that no clip is made.)
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from typing import Any

import aiohttp
import av

from farmwatch.simulator import running_simulator
from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.live_helpers import PLATFORM, SMALL_PICTURE, LiveRig, wait_channel_known
from tests.peers.server_process import start_server, stop_server

BEFORE = AFTER = 3
ENV = {
    "FARMWATCH_MEDIA_HOST": "127.0.0.1",
    "FARMWATCH_RECORDINGS_SEGMENT_MINUTES": "1",
    "FARMWATCH_RECORDINGS_RECONCILE_INTERVAL": "1",
    "FARMWATCH_SUPERVISION_EVIDENCE_BEFORE": str(BEFORE),
    "FARMWATCH_SUPERVISION_EVIDENCE_AFTER": str(AFTER),
    "FARMWATCH_SUPERVISION_ALARM_EVIDENCE": "true",
}


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), format="mp4") as container:
        times = [float(frame.time) for frame in container.decode(video=0) if frame.time is not None]
    assert len(times) > 25, len(times)
    return max(times) - min(times)


async def alarm_of(rig: LiveRig, camera: str) -> dict[str, Any]:
    """The camera's one alarm, once stored (the 200 to the device comes first)."""
    async with asyncio.timeout(5):
        while True:
            status, page = await rig.get(f"/api/alarms?channel={camera}")
            assert status == 200, page
            if page["alarms"]:
                (alarm,) = page["alarms"]
                return dict(alarm)
            await asyncio.sleep(0.1)


async def test_an_alarm_on_a_recorded_camera_gets_a_verified_evidence_clip(tmp_path: Path) -> None:
    storage = tmp_path / "data"
    server = await asyncio.to_thread(start_server, tmp_path, ENV)
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
            camera = rig.channel(0)
            status, plan = await rig.put(f"/api/channels/{camera}/record-plan",
                                         {"mode": "continuous"})  # fmt: skip
            assert status == 200 and plan["recording_due"], plan
            async with asyncio.timeout(30):  # recording has begun
                while not list((storage / "recordings").glob(f"*/{camera}/*/*-open.ps")):
                    await asyncio.sleep(0.2)
            await asyncio.sleep(BEFORE + 3)  # the "before" part has been recorded

            assert await fleet.devices[0].send_alarm(0, priority=1, method=5) == 200
            alarm = await alarm_of(rig, camera)  # stored at once, without its clip
            status, none_yet = await rig.get(f"/api/alarms/{alarm['id']}/clip/verify")
            assert status == 404 and alarm["clip_id"] is None, (alarm, none_yet)
            # ... which shows as pending while the "after" part is recorded (the evidence
            # is told of the alarm right after it is stored: a list just then may miss it).
            async with asyncio.timeout(2):
                while (alarm := await alarm_of(rig, camera))["clip_state"] is None:
                    await asyncio.sleep(0.05)
            assert (alarm["clip_state"], alarm["clip_id"]) == ("pending", None), alarm

            # Cut once the segment holding the 3 s after has closed (1-minute segments).
            async with asyncio.timeout(60 + 30 + AFTER + 20):
                while (alarm := await alarm_of(rig, camera))["clip_state"] in (None, "pending"):
                    await asyncio.sleep(1)
            assert alarm["clip_state"] == "ready", alarm
            status, verified = await rig.get(f"/api/alarms/{alarm['id']}/clip/verify")
            assert status == 200 and verified["valid"] is True, verified
            assert verified["id"] == alarm["clip_id"]
            async with http.get(f"{rig.base}/api/alarms/{alarm['id']}/clip/file") as response:
                assert response.status == 200
                data = await response.read()
            assert hashlib.sha256(data).hexdigest() == verified["sha256"]
            assert BEFORE + AFTER - 1 <= decoded_seconds(data) <= BEFORE + AFTER + 1.5
            (kept,) = (storage / "evidence").glob(f"*/*_{alarm['clip_id']}.mp4")
            assert hashlib.sha256(kept.read_bytes()).hexdigest() == verified["sha256"]

            # Channel 1 is not recorded by the platform: its clip is fetched from the device,
            # which has gone silent. The clip fails, logged with the device and channel, and
            # the alarm stays.
            device, other = fleet.devices[0], rig.channel(1)
            assert await device.send_alarm(1) == 200
            device.go_silent()
            try:
                async with asyncio.timeout(AFTER + 90):
                    while (failed := await alarm_of(rig, other))["clip_state"] in (None, "pending"):
                        await asyncio.sleep(1)
            finally:
                device.come_back()
            assert failed["clip_state"] == "failed" and failed["state"] == "new", failed
            status, refused = await rig.get(f"/api/alarms/{failed['id']}/clip/verify")
            assert status == 409 and "failed" in refused["error"], refused
            log = (tmp_path / "server.log").read_text()
            assert (
                f"alarm {failed['id']} (device {device.device_id}, channel {other}): "
                f"evidence clip {failed['clip_id']} failed" in log
            )
    finally:
        await asyncio.to_thread(stop_server, server)
