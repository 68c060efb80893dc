"""The video quality sampler on a real database (SQLite and PostgreSQL): samples stored with
a bounded history, each camera's state, unavailable cameras, the frozen confirmation and the
fault port. The pictures are keyframes of the simulator's H.264 turned into JPEGs by the
media snapshot path, served by a scripted stand-in for `LiveService.snapshot` (the end-to-end
test runs the real one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks.snapshot import snapshot_jpeg
from farmwatch.platform.db import Database
from farmwatch.platform.errors import StreamFailed
from farmwatch.platform.records import ChannelData, Transport
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.supervision.diagnosis import (
    SAMPLE_WIDTH,
    DiagnosisRepository,
    DiagnosisSampler,
    DiagnosisThresholds,
    PictureFault,
    SampleOutcome,
    SamplerSettings,
)
from farmwatch.simulator.test_pattern import PictureMode, TestPatternSpec, encode_test_pattern
from tests.integration.db.conftest import T0
from tests.integration.db.test_channel_repository import camera

NVR = "34020000001180000001"
CAMERA_A = "34020000001310000001"
CAMERA_B = "34020000001310000002"
ALARM_INPUT = "34020000001340000003"


async def _keyframe_jpegs(mode: PictureMode) -> list[bytes]:
    spec = TestPatternSpec(CAMERA_A, width=640, height=360, picture=mode)
    loop = await asyncio.to_thread(encode_test_pattern, spec)
    return [
        await snapshot_jpeg(
            EsFrame(Codec.H264, f.data, f.pts, f.pts, True, 0xE0), max_width=SAMPLE_WIDTH
        )  # fmt: skip
        for f in loop.frames
        if f.is_keyframe
    ]


@dataclass
class ScriptedCameras:
    """Each channel's keyframes: `position` is the latest, the ones after it follow; a
    channel without a script does not answer."""

    keyframes: dict[str, list[bytes]] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def snapshots(self, channel_id: str, *, max_width: int, count: int) -> list[bytes]:
        assert max_width == SAMPLE_WIDTH
        self.asked.append((channel_id, count))
        frames = self.keyframes.get(channel_id)
        if frames is None:
            raise StreamFailed(f"channel {channel_id} did not answer")
        first = self.position.get(channel_id, 0)
        return [frames[(first + step) % len(frames)] for step in range(count)]


@dataclass
class RecordedFaults:
    calls: list[tuple[str, str, PictureFault | None]] = field(default_factory=list)

    async def picture_failed(self, channel_id: str, kind: PictureFault, detail: str) -> None:
        assert detail
        self.calls.append(("failed", channel_id, kind))

    async def picture_passed(self, channel_id: str) -> None:
        self.calls.append(("passed", channel_id, None))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=10)
        return self.now


Rig = tuple[DiagnosisSampler, ScriptedCameras, RecordedFaults, DiagnosisRepository]


@pytest.fixture
async def rig(database: Database) -> AsyncIterator[Rig]:
    devices = DeviceRepository(database.sessions)
    await devices.upsert_registration(
        NVR, transport=Transport.UDP, remote_host="192.0.2.1", remote_port=5060,
        contact_uri=f"sip:{NVR}@192.0.2.1:5060", expires=3600, gb_version="3.0", at=T0,
    )  # fmt: skip
    channels = ChannelRepository(database.sessions)
    items = [camera(1), camera(2), ChannelData(ALARM_INPUT, parent_id=NVR, status="ON")]
    await channels.replace_catalog(NVR, items, at=T0)
    cameras, faults = ScriptedCameras(), RecordedFaults()
    repository = DiagnosisRepository(database.sessions)
    settings = SamplerSettings(interval=3600, workers=2, history=3,
                               thresholds=DiagnosisThresholds())  # fmt: skip
    sampler = DiagnosisSampler(cameras, channels, lambda device: device == NVR, repository,
                               settings, faults, clock=Clock())  # fmt: skip
    await sampler.start()
    try:
        yield sampler, cameras, faults, repository
    finally:
        await sampler.close()


async def test_only_cameras_of_online_devices_are_sampled(rig: Rig) -> None:
    sampler = rig[0]
    assert await sampler.online_cameras() == [CAMERA_A, CAMERA_B]


async def test_a_black_camera_fails_and_recovers_and_its_history_is_bounded(rig: Rig) -> None:
    sampler, cameras, faults, repository = rig
    cameras.keyframes[CAMERA_A] = await _keyframe_jpegs(PictureMode.BLACK)
    sample = await sampler.sample_now(CAMERA_A)
    assert sample.outcome is SampleOutcome.FAILED
    assert set(sample.failures) == {PictureFault.BLACK, PictureFault.LOW_CONTRAST}
    assert faults.calls == [("failed", CAMERA_A, PictureFault.BLACK),
                            ("failed", CAMERA_A, PictureFault.LOW_CONTRAST)]  # fmt: skip
    state = await repository.state(CAMERA_A)
    assert state is not None and state.is_failed
    assert [s.channel_id for s in await repository.states(failed_only=True)] == [CAMERA_A]

    cameras.keyframes[CAMERA_A] = await _keyframe_jpegs(PictureMode.NORMAL)
    for _ in range(3):
        cameras.position[CAMERA_A] = cameras.position.get(CAMERA_A, 0) + 1
        assert (await sampler.sample_now(CAMERA_A)).outcome is SampleOutcome.PASSED
    assert faults.calls[-1] == ("passed", CAMERA_A, None)
    history = await repository.history(CAMERA_A, limit=100)
    assert [s.outcome for s in history] == [SampleOutcome.PASSED] * 3  # the black one dropped
    assert history[0].sampled_at > history[1].sampled_at
    assert history[0].measurements is not None and history[0].measurements.difference
    assert await repository.states(failed_only=True) == []


async def test_an_unavailable_camera_keeps_its_state_and_does_not_stop_the_others(rig: Rig) -> None:
    sampler, cameras, faults, repository = rig
    cameras.keyframes[CAMERA_A] = await _keyframe_jpegs(PictureMode.BLURRED)
    assert (await sampler.sample_now(CAMERA_A)).failures == (PictureFault.BLURRED,)
    del cameras.keyframes[CAMERA_A]
    cameras.keyframes[CAMERA_B] = await _keyframe_jpegs(PictureMode.NORMAL)
    gone, fine = await asyncio.gather(sampler.sample_now(CAMERA_A), sampler.sample_now(CAMERA_B))
    assert gone.outcome is SampleOutcome.UNAVAILABLE and "did not answer" in (gone.detail or "")
    assert fine.outcome is SampleOutcome.PASSED
    state = await repository.state(CAMERA_A)
    assert state is not None
    assert (state.outcome, state.is_failed, state.failures) == (
        SampleOutcome.UNAVAILABLE,
        True,
        (PictureFault.BLURRED,),
    )
    assert [call for call in faults.calls if call[1] == CAMERA_A] == [
        ("failed", CAMERA_A, PictureFault.BLURRED)
    ]  # nothing for the unavailable sample


async def test_frozen_needs_the_same_picture_at_two_samples_and_on_the_next_keyframe(
    rig: Rig,
) -> None:
    sampler, cameras, _, _ = rig
    # A looping clip sampled at the loop's period shows the same keyframe again, but the
    # next keyframe differs: not frozen.
    cameras.keyframes[CAMERA_A] = await _keyframe_jpegs(PictureMode.NORMAL)
    first = await sampler.sample_now(CAMERA_A)
    again = await sampler.sample_now(CAMERA_A)  # position unchanged: the same keyframe
    assert first.outcome is again.outcome is SampleOutcome.PASSED
    assert (CAMERA_A, 2) in cameras.asked  # confirmed on two consecutive keyframes
    cameras.keyframes[CAMERA_B] = await _keyframe_jpegs(PictureMode.FROZEN)
    assert (await sampler.sample_now(CAMERA_B)).outcome is SampleOutcome.PASSED
    frozen = await sampler.sample_now(CAMERA_B)
    assert frozen.failures == (PictureFault.FROZEN,)
    assert frozen.measurements is not None and frozen.measurements.difference is not None
