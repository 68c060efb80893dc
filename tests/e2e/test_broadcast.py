"""Voice broadcast end to end (issue 12 item 5): a real `farmwatch serve`, one simulated camera;
a broadcast started over the API sends G.711 that the simulated camera counts and decodes
(`SimulatedDevice.broadcast`), raw PCMA and PS, UDP and TCP either way round.

One server and simulator for the module; each test sets how the camera answers, and ends
its broadcast (the platform takes one broadcast per device at a time).
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import pytest_asyncio

from farmwatch.simulator import SimulatedDevice
from farmwatch.simulator.broadcast_receiver import (
    AudioReception,
    BroadcastMode,
    BroadcastSettings,
    BroadcastTransport,
)
from farmwatch.sipserver.gb.manscdp import ResultCode
from tests.e2e.access_helpers import Browsers, Caller
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

MONITOR = "mon.talk"
PASSWORD = "Talk-Monitor-Pass-1"
INVITE_TIMEOUT = 3.0  # live_rig's [live] invite_timeout


@dataclass
class BroadcastRig:
    rig: LiveRig
    monitor: Caller
    """A monitor granted channel 1 only."""

    @property
    def device(self) -> SimulatedDevice:
        return self.rig.fleet.devices[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def talk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BroadcastRig]:
    tmp_path: Path = tmp_path_factory.mktemp("broadcast")
    async with live_rig(tmp_path, channels=2, env={"FARMWATCH_MEDIA_WORKERS": "0"}) as rig:
        browsers = Browsers(rig.base)
        try:
            top = browsers.new("top")
            await top.log_in(ADMIN, ADMIN_PASSWORD)
            status, user = await top.request(
                "POST", "/api/users",
                {"username": MONITOR, "organisation_id": rig.server.organisation_id,
                 "role": "monitor", "password": PASSWORD},
            )  # fmt: skip
            assert status == 201, user
            status, grant = await top.request(
                "POST", f"/api/users/{user['id']}/grants",
                {"kind": "channel", "target": rig.channel(1)},
            )  # fmt: skip
            assert status == 201, grant
            monitor = browsers.new(MONITOR)
            await monitor.log_in(MONITOR, PASSWORD)
            yield BroadcastRig(rig, monitor)
        finally:
            await browsers.close()


def _tone_wav(seconds: float, frequency: float, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        times = np.arange(int(seconds * rate)) / rate
        samples = (np.sin(2 * math.pi * frequency * times) * 10000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def _pitch_and_level(reception: AudioReception) -> tuple[float, float]:
    samples = np.array(reception.samples, dtype=float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * 8000 / len(samples)), float(np.sqrt(np.mean(samples**2)))


async def _start(rig: LiveRig, channel: str) -> dict[str, Any]:
    status, session = await rig.post(f"/api/channels/{channel}/broadcast")
    assert status == 201, session
    assert session["state"] == "active"
    return session


async def _upload(rig: LiveRig, session: dict[str, Any], data: bytes) -> tuple[int, Any]:
    headers = {**rig.auth, "Content-Type": "audio/wav"}
    async with rig.http.post(rig.base + session["audio"], data=data, headers=headers) as answer:
        return answer.status, await answer.json()


async def _heard(device: SimulatedDevice, g711_bytes: int, within: float) -> AudioReception:
    async with asyncio.timeout(within):
        await device.wait_for(
            lambda d: d.broadcast.last is not None and d.broadcast.last.g711_bytes >= g711_bytes
        )
    reception = device.broadcast.last
    assert reception is not None
    return reception


@pytest.mark.parametrize(
    ("mode", "transport", "expected"),
    [
        (BroadcastMode.PCMA, BroadcastTransport.UDP, "udp"),
        (BroadcastMode.PS, BroadcastTransport.UDP, "udp"),
        (BroadcastMode.PS, BroadcastTransport.TCP_ACTIVE, "tcp-listen"),
        (BroadcastMode.PCMA, BroadcastTransport.TCP_PASSIVE, "tcp-connect"),
    ],
)
async def test_an_uploaded_wav_tone_reaches_the_camera_in_real_time(
    talk: BroadcastRig, mode: BroadcastMode, transport: BroadcastTransport, expected: str
) -> None:
    rig, device = talk.rig, talk.device
    device.broadcast.settings = BroadcastSettings(mode=mode, transport=transport)
    receptions = len(device.broadcast.receptions)
    session = await _start(rig, rig.channel(0))
    assert (session["format"], session["transport"]) == (mode.value, expected)
    assert len(device.broadcast.receptions) == receptions + 1
    notify = device.broadcast.notifies[-1]
    assert (notify.source_id, notify.target_id) == ("34020000002000000001", rig.channel(0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, queued = await _upload(rig, session, _tone_wav(1.6, 440))
    assert status == 202, queued
    assert queued["queued_seconds"] == pytest.approx(1.6, abs=0.03)
    reception = await _heard(device, 1.6 * 8000 - 160, within=6)
    # Paced by the audio clock, not sent in a burst.
    assert loop.time() - started >= 1.3
    await asyncio.sleep(0.3)  # anything beyond the tone would arrive now
    assert reception.g711_bytes == pytest.approx(1.6 * 8000, abs=160)
    assert reception.frames == reception.frames_decoded  # every frame G.711A, our SSRC
    assert reception.foreign_packets == 0
    pitch, level = _pitch_and_level(reception)
    assert pitch == pytest.approx(440, abs=6)
    assert level == pytest.approx(10000 / math.sqrt(2), rel=0.1)
    status, state = await rig.get(session["audio"].removesuffix("/audio"))
    assert status == 200 and state["seconds_sent"] == pytest.approx(1.6, abs=0.03)
    assert await rig.delete(f"/api/broadcast/{session['session']}") == 204
    async with asyncio.timeout(5):
        await device.wait_for(lambda d: reception.ended_by == "platform")


async def test_a_tone_from_json_and_the_camera_hanging_up_ends_the_session(
    talk: BroadcastRig,
) -> None:
    rig, device = talk.rig, talk.device
    device.broadcast.settings = BroadcastSettings()
    session = await _start(rig, rig.channel(1))
    status, queued = await rig.post(session["audio"], {"frequency": 1000, "seconds": 0.6})
    assert status == 202, queued
    reception = await _heard(device, 0.6 * 8000 - 160, within=5)
    pitch, _ = _pitch_and_level(reception)
    assert pitch == pytest.approx(1000, abs=15)
    # A second broadcast to the same device while this one runs: refused, naming it.
    status, refused = await rig.post(f"/api/channels/{rig.channel(0)}/broadcast")
    assert status == 409, refused
    assert session["session"] in refused["error"]
    assert await device.hang_up_broadcast() == 1
    async with asyncio.timeout(5):
        while (await rig.get(f"/api/broadcast/{session['session']}"))[0] != 404:
            await rig.sleep_briefly()
    assert reception.ended_by == "device"
    # The device is free again.
    again = await _start(rig, rig.channel(0))
    assert await rig.delete(f"/api/broadcast/{again['session']}") == 204


async def test_a_device_that_never_invites_gives_a_clear_timeout(talk: BroadcastRig) -> None:
    rig, device = talk.rig, talk.device
    device.broadcast.settings = BroadcastSettings(invites=False)
    notifies = len(device.broadcast.notifies)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, refused = await rig.post(f"/api/channels/{rig.channel(0)}/broadcast")
    assert status == 504, refused
    assert "did not INVITE" in refused["error"] and rig.channel(0) in refused["error"]
    assert INVITE_TIMEOUT <= loop.time() - started < INVITE_TIMEOUT + 3
    assert len(device.broadcast.notifies) == notifies + 1  # the notify did reach it
    # Nothing was left open: the next broadcast is not refused as running.
    device.broadcast.settings = BroadcastSettings()
    session = await _start(rig, rig.channel(0))
    assert await rig.delete(f"/api/broadcast/{session['session']}") == 204


async def test_a_device_refusing_the_broadcast_is_a_502_naming_it(talk: BroadcastRig) -> None:
    rig, device = talk.rig, talk.device
    device.broadcast.settings = BroadcastSettings(result=ResultCode.ERROR)
    status, refused = await rig.post(f"/api/channels/{rig.channel(1)}/broadcast")
    assert status == 502, refused
    assert "refused the voice broadcast" in refused["error"] and "ERROR" in refused["error"]
    device.broadcast.settings = BroadcastSettings()
    session = await _start(rig, rig.channel(1))  # nothing was left open
    assert await rig.delete(f"/api/broadcast/{session['session']}") == 204


async def test_an_audio_invite_nobody_asked_for_is_refused(talk: BroadcastRig) -> None:
    device = talk.device
    device.broadcast.settings = BroadcastSettings()
    receptions = len(device.broadcast.receptions)
    assert await device.broadcasts.invite_unasked() == 403
    assert len(device.broadcast.receptions) == receptions


async def test_a_monitor_broadcasts_only_to_granted_cameras_and_each_start_is_audited(
    talk: BroadcastRig,
) -> None:
    rig, device, monitor = talk.rig, talk.device, talk.monitor
    device.broadcast.settings = BroadcastSettings()
    notifies = len(device.broadcast.notifies)
    status, refused = await monitor.request("POST", f"/api/channels/{rig.channel(0)}/broadcast")
    assert status == 403, refused
    assert len(device.broadcast.notifies) == notifies  # nothing reached the camera
    status, session = await monitor.request("POST", f"/api/channels/{rig.channel(1)}/broadcast")
    assert status == 201, session
    # The session is the monitor's: the administrator's token cannot feed or end it.
    status, _ = await rig.post(session["audio"], {"frequency": 500, "seconds": 0.2})
    assert status == 403
    status, queued = await monitor.request("POST", session["audio"],
                                           {"frequency": 500, "seconds": 0.2})  # fmt: skip
    assert status == 202, queued
    status, _ = await monitor.request("DELETE", f"/api/broadcast/{session['session']}")
    assert status == 204
    status, audit = await rig.get("/api/audit?limit=50")
    assert status == 200, audit
    rows = [row for row in audit["rows"] if row["action"] == "broadcast"]
    mine = [row for row in rows if row["actor"]["name"] == MONITOR]
    assert {(row["channel_id"], row["result"]) for row in mine} >= {
        (rig.channel(0), "denied"), (rig.channel(1), "ok")}  # fmt: skip
