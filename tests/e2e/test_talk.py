"""Two-way talk (对讲) end to end (issue 12 item 5): a real `farmwatch serve`, one simulated
camera that answers `s=Talk`, and aiortc as the operator's browser. The browser's microphone
(a 440 Hz tone) reaches the camera as G.711, which the camera counts and decodes
(`SimulatedDevice.talk`); the camera's voice (its 800 Hz tone) comes back over the same
WebRTC connection, where the browser decodes the frames and measures the pitch. UDP and
TCP either way round, PCMA and PCMU, raw and PS-wrapped; a camera without `s=Talk` gets a
clear error naming the fallback.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import pytest_asyncio
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from farmwatch.simulator import SimulatedDevice
from farmwatch.simulator.broadcast_receiver import AudioReception
from farmwatch.simulator.talk_responder import TalkSettings
from farmwatch.sipserver.gb.talk_sdp import TalkCodec
from tests.e2e.live_helpers import LiveRig, live_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

MICROPHONE_HZ = 440
CAMERA_HZ = 800


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    tmp_path: Path = tmp_path_factory.mktemp("talk")
    async with live_rig(tmp_path, channels=2, env={"FARMWATCH_MEDIA_WORKERS": "0"}) as rig:
        yield rig


class _Microphone(MediaStreamTrack):
    """A 440 Hz tone at 48 kHz in 20 ms frames, paced like a microphone."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0
        self._started: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
        due = self._started + self._samples / 48000
        await asyncio.sleep(max(0.0, due - loop.time()))  # the microphone's own clock
        times = (self._samples + np.arange(960)) / 48000
        tone = (np.sin(2 * np.pi * MICROPHONE_HZ * times) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48000, self._samples
        frame.time_base = fractions.Fraction(1, 48000)
        self._samples += 960
        return frame


@dataclass
class _Browser:
    """aiortc as the operator's page: sends the microphone, plays (decodes) what comes."""

    peer: RTCPeerConnection = field(default_factory=RTCPeerConnection)
    frames: int = 0
    samples: list[np.ndarray] = field(default_factory=list)
    codec: str = ""
    sample_rate: int = 0
    reader: asyncio.Task[None] | None = None

    async def connect(self, rig: LiveRig, session: dict[str, Any]) -> None:
        self.peer.addTransceiver(_Microphone(), direction="sendrecv")
        self.peer.on("track", self._on_track)
        await self.peer.setLocalDescription(await self.peer.createOffer())
        offer = {"sdp": self.peer.localDescription.sdp, "type": "offer"}
        status, answer = await rig.post(session["webrtc"], offer)
        assert status == 200, answer
        assert "a=sendrecv" in answer["sdp"]
        await self.peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        self.codec = next(line for line in answer["sdp"].splitlines() if "rtpmap" in line)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                self.frames += 1
                # Packed s16: the first channel of interleaved samples.
                channels = len(frame.layout.channels)
                self.samples.append(frame.to_ndarray().reshape(-1)[::channels])
                self.sample_rate = frame.sample_rate
        except MediaStreamError:
            return

    async def heard(self, frames: int, within: float) -> None:
        async with asyncio.timeout(within):
            while self.frames < frames:
                await asyncio.sleep(0.05)  # polling the decoder's count, bounded above

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        await self.peer.close()


def _pitch(samples: np.ndarray, rate: int) -> tuple[float, float]:
    samples = samples.astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples)), float(np.sqrt(np.mean(samples**2)))


async def _talk(rig: LiveRig, channel: str, **body: Any) -> dict[str, Any]:
    status, session = await rig.post(f"/api/channels/{channel}/broadcast", {"mode": "talk", **body})
    assert status == 201, session
    assert (session["mode"], session["state"]) == ("talk", "active")
    return session


async def _heard_by_camera(device: SimulatedDevice, g711_bytes: int) -> AudioReception:
    async with asyncio.timeout(15):
        await device.wait_for(
            lambda d: d.talk.last is not None and d.talk.last.reception.g711_bytes >= g711_bytes
        )
    call = device.talk.last
    assert call is not None
    return call.reception


@pytest.mark.parametrize(
    ("transport", "settings", "expected"),
    [
        ("udp", TalkSettings(), ("pcma", "udp", "PCMA/8000")),
        (
            "tcp-passive",
            TalkSettings(codecs=(TalkCodec.PCMU,)),
            ("pcmu", "tcp-listen", "PCMU/8000"),
        ),
        ("tcp-active", TalkSettings(sends_ps=True), ("pcma", "tcp-connect", "PCMA/8000")),
    ],
)
async def test_the_operator_and_the_camera_hear_each_other(
    rig: LiveRig, transport: str, settings: TalkSettings, expected: tuple[str, str, str]
) -> None:
    device = rig.fleet.devices[0]
    device.talk.settings = settings
    session = await _talk(rig, rig.channel(0), transport=transport)
    assert (session["format"], session["transport"]) == expected[:2]
    call = device.talk.last
    assert call is not None and "s=Talk" in call.offer and "a=sendrecv" in call.offer
    browser = _Browser()
    try:
        await browser.connect(rig, session)
        # The camera hears the microphone: G.711 in the law it took, our SSRC, the 440 Hz.
        reception = await _heard_by_camera(device, 8000)
        assert reception.frames_decoded == reception.frames > 0
        assert reception.foreign_packets == 0
        pitch, level = _pitch(np.array(reception.samples[-8000:]), 8000)
        assert pitch == pytest.approx(MICROPHONE_HZ, abs=8)
        assert level > 2000
        # The browser hears the camera: decoded frames of its 800 Hz tone (G.711 first).
        assert expected[2] in browser.codec
        await browser.heard(50, within=15)
        voice = np.concatenate(browser.samples[-50:])
        pitch, level = _pitch(voice, browser.sample_rate)
        assert pitch == pytest.approx(CAMERA_HZ, abs=15)
        assert level > 1000
        status, state = await rig.get(f"/api/broadcast/{session['session']}")
        assert status == 200, state
        assert state["microphone"] is True
        assert state["frames_received"] > 0 and state["frames_played"] > 0
        assert state["seconds_received"] > 0.5 and state["seconds_sent"] > 0.5
        # The audit row of the start says it was a talk, not a one-way broadcast.
        status, audit = await rig.get("/api/audit?limit=50")
        assert status == 200, audit
        started = [row for row in audit["rows"] if row["action"] == "broadcast"
                   and row["detail"].get("id") == session["session"]]  # fmt: skip
        assert [row["detail"]["mode"] for row in started] == ["talk"], started
        # Ended while the page is still there (its leaving would end the talk too).
        assert await rig.delete(f"/api/broadcast/{session['session']}") == 204
    finally:
        await browser.close()
    async with asyncio.timeout(5):
        await device.wait_for(lambda d: reception.ended_by == "platform")


async def test_the_camera_hanging_up_ends_the_talk(rig: LiveRig) -> None:
    device = rig.fleet.devices[0]
    device.talk.settings = TalkSettings()
    session = await _talk(rig, rig.channel(1))
    # One talk or broadcast per device at a time.
    status, refused = await rig.post(f"/api/channels/{rig.channel(0)}/broadcast")
    assert status == 409 and session["session"] in refused["error"], refused
    status, queued = await rig.post(session["audio"], {"frequency": 1000, "seconds": 0.4})
    assert status == 202, queued
    reception = await _heard_by_camera(device, 0.4 * 8000 - 160)
    assert _pitch(np.array(reception.samples), 8000)[0] == pytest.approx(1000, abs=20)
    assert await device.hang_up_talk() == 1
    async with asyncio.timeout(5):
        while (await rig.get(f"/api/broadcast/{session['session']}"))[0] != 404:
            await rig.sleep_briefly()
    assert reception.ended_by == "device"


@pytest.mark.parametrize("refusal", [488, 415, 501])
async def test_a_camera_without_talk_gets_an_error_naming_broadcast(
    rig: LiveRig, refusal: int
) -> None:
    device = rig.fleet.devices[0]
    device.talk.settings = TalkSettings(supported=False, refusal=refusal)
    status, refused = await rig.post(f"/api/channels/{rig.channel(0)}/broadcast",
                                     {"mode": "talk"})  # fmt: skip
    assert status == 501, refused
    assert str(refusal) in refused["error"] and '"broadcast"' in refused["error"]
    assert device.talk.refused[-1] == refusal
    # Nothing was left open: a talk starts once the camera takes it.
    device.talk.settings = TalkSettings()
    session = await _talk(rig, rig.channel(0))
    assert await rig.delete(f"/api/broadcast/{session['session']}") == 204


async def test_a_bad_mode_or_transport_is_a_400(rig: LiveRig) -> None:
    path = f"/api/channels/{rig.channel(0)}/broadcast"
    for body in ({"mode": "shout"}, {"mode": "talk", "transport": "carrier-pigeon"},
                 {"transport": "udp"}):  # fmt: skip
        status, refused = await rig.post(path, body)
        assert status == 400, (body, refused)


async def test_the_page_leaving_ends_the_talk_and_hangs_up_the_camera(rig: LiveRig) -> None:
    device = rig.fleet.devices[0]
    device.talk.settings = TalkSettings()
    session = await _talk(rig, rig.channel(1), transport="tcp-passive")
    browser = _Browser()
    await browser.connect(rig, session)
    await browser.heard(10, within=15)
    call = device.talk.last
    assert call is not None
    await browser.close()
    async with asyncio.timeout(10):
        await device.wait_for(lambda d: call.reception.ended_by == "platform")
    assert (await rig.get(f"/api/broadcast/{session['session']}"))[0] == 404
