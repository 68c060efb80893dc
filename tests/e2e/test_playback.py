"""Playback of a device's recordings end to end, checked on the decoded output.

The simulated device writes the recorded time into every frame (an SEI, which the platform
passes through untouched), so where a playback starts, where a seek lands and how fast
recorded time runs are read from what PyAV demuxes out of the platform's fMP4 output.
"""

from __future__ import annotations

import asyncio
import bisect
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import av
import pytest
import pytest_asyncio

from farmwatch.simulator import read_recorded_time
from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.live_helpers import LiveRig, live_rig

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOP = 1.0  # the simulator's default: a key frame a second
RECORDS = RecordSettings(missing_fraction=0.0)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveRig]:
    env = {"FARMWATCH_MEDIA_MEDIA_TIMEOUT": "3"}
    async with live_rig(tmp_path_factory.mktemp("playback"), env=env, records=RECORDS) as rig:
        yield rig


@pytest.fixture(autouse=True)
def _ordinary_device(rig: LiveRig) -> None:
    rig.fleet.devices[0].set_playback_quirks(
        ignores_scale=False, refuses_control=False, omits_media_status=False,
        one_playback_per_channel=False,
    )  # fmt: skip


def local(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def yesterday_at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    day = datetime.now(SHANGHAI) - timedelta(days=1)
    return day.replace(hour=hour, minute=minute, second=second, microsecond=0)


@dataclass(frozen=True)
class Frame:
    recorded: float
    """Recorded time (Unix seconds) the device wrote into the frame."""
    pts: float
    """Output presentation time (seconds)."""
    arrived: float
    """Loop time the bytes holding it arrived."""


@dataclass
class Fmp4Reader:
    """Reads a session's fMP4 in the background, noting when each byte arrived."""

    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def run(self, rig: LiveRig, path: str) -> None:
        loop = asyncio.get_running_loop()
        async with rig.http.get(rig.base + path) as response:
            assert response.status == 200, await response.text()
            async for chunk in response.content.iter_any():
                self.chunks.append((loop.time(), chunk))

    def frames(self) -> list[Frame]:
        data = b"".join(chunk for _, chunk in self.chunks)
        offsets, total = [], 0
        for _, chunk in self.chunks:
            total += len(chunk)
            offsets.append(total)
        found = []
        with av.open(io.BytesIO(data), format="mp4") as container:
            try:
                for packet in container.demux(video=0):
                    if packet.pts is None or packet.pos is None or packet.size == 0:
                        continue
                    recorded = read_recorded_time(bytes(packet), length_prefixed=True)
                    if recorded is None:
                        continue
                    index = min(bisect.bisect_right(offsets, packet.pos), len(offsets) - 1)
                    pts = float(packet.pts * packet.time_base)
                    found.append(Frame(recorded / 1000, pts, self.chunks[index][0]))
            except av.error.FFmpegError:
                pass  # the stream was cut mid-fragment when reading stopped
        return found


@pytest_asyncio.fixture(loop_scope="module")
async def reading() -> AsyncIterator[list[Fmp4Reader]]:
    readers: list[Fmp4Reader] = []
    yield readers
    for reader in readers:
        if reader.task is not None:
            reader.task.cancel()
            await asyncio.gather(reader.task, return_exceptions=True)


async def start_reading(rig: LiveRig, session: dict, readers: list[Fmp4Reader]) -> Fmp4Reader:
    reader = Fmp4Reader()
    reader.task = asyncio.create_task(reader.run(rig, session["fmp4"]))
    readers.append(reader)
    return reader


async def open_playback(
    rig: LiveRig, start: datetime, end: datetime, transport: str = "udp", channel: int = 0
) -> dict:
    body = {"start": local(start), "end": local(end), "transport": transport}
    status, session = await rig.post(f"/api/channels/{rig.channel(channel)}/playback", body)
    assert status == 201, session
    return session


async def control(rig: LiveRig, session: dict, **body: object) -> dict:
    status, answer = await rig.post(session["control"], body)
    assert status == 200, answer
    return answer


async def status_of(rig: LiveRig, session: dict) -> dict:
    status, body = await rig.get(session["status"])
    assert status == 200, body
    return body


async def wait_for(rig: LiveRig, session: dict, predicate, seconds: float = 15.0) -> dict:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while True:
            body = await status_of(rig, session)
            if predicate(body):
                return body
            await asyncio.sleep(0.1)


async def settle(seconds: float) -> None:
    """Let media flow for a while (the test measures what arrives meanwhile)."""
    await asyncio.sleep(seconds)


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
async def test_playback_starts_where_asked_and_ends_with_its_dialog(
    rig: LiveRig, reading: list[Fmp4Reader], transport: str
) -> None:
    start = yesterday_at(10, 0, 7)
    device = rig.fleet.devices[0]
    session = await open_playback(rig, start, start + timedelta(minutes=10), transport)
    assert session["start"] == local(start) and session["codec"] == "h264"
    reader = await start_reading(rig, session, reading)
    await settle(2.0)
    frames = reader.frames()
    assert len(frames) >= 25
    first = frames[0].recorded
    assert start.timestamp() - GOP - 0.05 <= first <= start.timestamp() + 0.05
    recorded = [f.recorded for f in frames]
    assert recorded == sorted(recorded)
    (call,) = [c for c in device.calls if c.playback is not None]
    assert (await status_of(rig, session))["call_id"] == call.call_id  # kept by its Call-ID
    assert await rig.delete(session["status"]) == 204
    async with asyncio.timeout(5):
        while any(c.playback is not None for c in device.calls):
            await asyncio.sleep(0.05)  # the device got its BYE


async def test_seek_speed_and_a_long_pause_play_as_the_viewer_expects(
    rig: LiveRig, reading: list[Fmp4Reader]
) -> None:
    start = yesterday_at(14)
    session = await open_playback(rig, start, start + timedelta(hours=1))
    reader = await start_reading(rig, session, reading)
    await settle(1.5)

    # Seek +30 min: the next frames show 14:30, within a GOP.
    answer = await control(rig, session, action="seek", position=1800)
    assert answer["seek_by_reinvite"] is False
    await settle(2.0)
    target = start.timestamp() + 1800
    after = [f for f in reader.frames() if f.recorded >= target - GOP - 0.05]
    assert after and after[0].recorded <= target + 0.05
    position = (await status_of(rig, session))["position_seconds"]
    assert 1800 - GOP <= position <= 1800 + 3

    # 4×: recorded time runs ≥ 3.5 s per wall second, and per second of output time.
    changed_at = asyncio.get_running_loop().time()
    await control(rig, session, action="speed", scale=4)
    await settle(3.0)
    fast = [f for f in reader.frames() if f.arrived > changed_at + 0.5]
    assert len(fast) > 50
    wall = fast[-1].arrived - fast[0].arrived
    recorded = fast[-1].recorded - fast[0].recorded
    output = fast[-1].pts - fast[0].pts
    assert recorded / wall >= 3.5, (recorded, wall)
    assert recorded / output >= 3.5, (recorded, output)  # a player pacing by pts shows 4×

    # 0.5×: at most 0.6 s of recorded time per wall second.
    changed_at = asyncio.get_running_loop().time()
    await control(rig, session, action="speed", scale=0.5)
    await settle(3.0)
    slow = [f for f in reader.frames() if f.arrived > changed_at + 0.5]
    wall = slow[-1].arrived - slow[0].arrived
    assert (slow[-1].recorded - slow[0].recorded) / wall <= 0.6
    assert (await status_of(rig, session))["scale"] == 0.5

    # A pause longer than the media timeout (3 s here), then resume: the same session goes on.
    call_id = (await status_of(rig, session))["call_id"]
    paused = await control(rig, session, action="pause")
    assert paused["state"] == "paused"
    await settle(4.5)
    assert (await status_of(rig, session))["state"] == "paused"
    resumed = await control(rig, session, action="resume")
    assert resumed["state"] == "playing" and resumed["call_id"] == call_id
    resumed_at = asyncio.get_running_loop().time()
    await settle(1.5)
    assert [f for f in reader.frames() if f.arrived > resumed_at]
    await rig.delete(session["status"])


async def test_the_end_of_the_range_ends_the_playback_with_or_without_mediastatus(
    rig: LiveRig,
) -> None:
    device = rig.fleet.devices[0]
    start = yesterday_at(9)
    session = await open_playback(rig, start, start + timedelta(seconds=3))
    ended = await wait_for(rig, session, lambda body: body["state"] == "ended")
    assert "MediaStatus 121" in ended["end_reason"]
    async with asyncio.timeout(5):
        while any(c.playback is not None for c in device.calls):
            await asyncio.sleep(0.05)
    async with asyncio.timeout(10):  # its RTP port is back in the pool
        while "farmwatch_media_ports_in_use 0.0" not in await rig.get_text("/metrics"):
            await asyncio.sleep(0.2)

    device.set_playback_quirks(omits_media_status=True)
    session = await open_playback(rig, start, start + timedelta(seconds=3))
    ended = await wait_for(rig, session, lambda body: body["state"] == "ended", seconds=20)
    assert "media stopped at the end" in ended["end_reason"]


async def test_a_device_allowing_one_playback_refuses_the_second_at_once(rig: LiveRig) -> None:
    rig.fleet.devices[0].set_playback_quirks(one_playback_per_channel=True)
    start = yesterday_at(11)
    first = await open_playback(rig, start, start + timedelta(minutes=5))
    loop = asyncio.get_running_loop()
    began = loop.time()
    body = {"start": local(start), "end": local(start + timedelta(minutes=5))}
    status, refused = await rig.post(f"/api/channels/{rig.channel(0)}/playback", body)
    assert status == 502 and "503" in refused["error"]
    assert loop.time() - began < 2  # a clear refusal, not a hang
    await rig.delete(first["status"])


async def test_a_device_refusing_control_is_seeked_by_a_new_invite(
    rig: LiveRig, reading: list[Fmp4Reader]
) -> None:
    rig.fleet.devices[0].set_playback_quirks(refuses_control=True)
    start = yesterday_at(16)
    session = await open_playback(rig, start, start + timedelta(hours=1))
    reader = await start_reading(rig, session, reading)
    await settle(1.0)
    before = (await status_of(rig, session))["call_id"]
    target = start + timedelta(minutes=20)
    answer = await control(rig, session, action="seek", position=local(target))
    assert answer["seek_by_reinvite"] is True and answer["call_id"] != before
    await settle(2.0)
    landed = [f for f in reader.frames() if f.recorded >= target.timestamp() - GOP - 0.05]
    assert landed and landed[0].recorded <= target.timestamp() + 0.05
    status, refused = await rig.post(session["control"], {"action": "speed", "scale": 2})
    assert status == 502 and "400" in refused["error"]
    await rig.delete(session["status"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "fly"}, "action"),
        ({"action": "speed", "scale": 3}, "scale"),
        ({"action": "speed"}, "scale"),
        ({"action": "seek", "position": "tomorrow"}, "position"),
        ({"action": "seek", "position": 99999}, "position"),
    ],
)
async def test_bad_controls_get_a_clear_error(rig: LiveRig, body: dict, message: str) -> None:
    start = yesterday_at(12)
    session = await open_playback(rig, start, start + timedelta(minutes=10))
    status, answer = await rig.post(session["control"], body)
    assert status == 400 and message in answer["error"]
    await rig.delete(session["status"])
