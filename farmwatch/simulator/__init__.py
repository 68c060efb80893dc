"""Device simulator: simulated GB/T 28181 cameras that register, answer and stream PS.

This package re-exports the media side (gb28181.md §8): the generated test picture encoded once
per spec (`MediaCache`, `TestPatternSpec`, `EncodedLoop`) and the pure pacing of one stream over
the cached loop (`FrameScheduler`). The platform never imports this package (import-linter).

The signalling side (gb28181.md §3-§5): `SimulatedDevice` (registration, keepalives,
query answers, catalog subscriptions, misbehaviour controls), `SimulatorFleet` and the
test helper `running_simulator`; `farmwatch simulate` is `farmwatch.simulator.cli`.

Live video (gb28181.md §6, §8): each device's `CallHandler` answers INVITEs and streams the
cached loop through a `MediaSender` (UDP, TCP connecting or listening) as `StreamSettings` say.

Recordings (gb28181.md §4.7, §6.8-§7): each channel's `RecordIndex` (per `RecordSettings`)
answers RecordInfo; Playback and Download stream it through a `RecordPlayer`, every frame
carrying its recorded time in an SEI that `read_recorded_time` reads back (`PlaybackInfo` in
`CallInfo.playback` says where a session is; `PlaybackQuirks` make it misbehave).
"""

from __future__ import annotations

from farmwatch.simulator.call_handler import CallHandler, CallInfo, CallKey
from farmwatch.simulator.channels import ChannelTable, DeviceType, build_channels, channel_id
from farmwatch.simulator.device import DeviceSettings, SimulatedDevice
from farmwatch.simulator.fleet import FleetSettings, SimulatorFleet, running_simulator
from farmwatch.simulator.frame_scheduler import DueFrame, FrameScheduler
from farmwatch.simulator.malformed import MalformedKind
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.media_sender import MediaRoute, MediaSender, SenderRole, SenderState
from farmwatch.simulator.packet_shaper import PacketShaper
from farmwatch.simulator.playback_control import PlaybackInfo
from farmwatch.simulator.record_index import RecordFile, RecordIndex
from farmwatch.simulator.record_player import PlayedFrame, PlayerState, RecordPlayer
from farmwatch.simulator.record_settings import PlaybackQuirks, RecordSettings
from farmwatch.simulator.recorded_time import (
    RECORDED_TIME_UUID,
    insert_recorded_time,
    read_recorded_time,
)
from farmwatch.simulator.session import SessionState, SessionTimers
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.test_pattern import (
    EncodedFrame,
    EncodedLoop,
    PictureMode,
    TestPatternError,
    TestPatternSpec,
    VideoCodec,
    encode_test_pattern,
)
from farmwatch.sipserver.register_client import FailureKind, RegisterFailure

__all__ = [
    "RECORDED_TIME_UUID",
    "CallHandler",
    "CallInfo",
    "CallKey",
    "ChannelTable",
    "DeviceSettings",
    "DeviceType",
    "DueFrame",
    "EncodedFrame",
    "EncodedLoop",
    "FailureKind",
    "FleetSettings",
    "FrameScheduler",
    "MalformedKind",
    "MediaCache",
    "MediaRoute",
    "MediaSender",
    "PacketShaper",
    "PictureMode",
    "PlaybackInfo",
    "PlaybackQuirks",
    "PlayedFrame",
    "PlayerState",
    "RecordFile",
    "RecordIndex",
    "RecordPlayer",
    "RecordSettings",
    "RegisterFailure",
    "SenderRole",
    "SenderState",
    "SessionState",
    "SessionTimers",
    "SimulatedDevice",
    "SimulatorFleet",
    "StreamSettings",
    "TestPatternError",
    "TestPatternSpec",
    "VideoCodec",
    "build_channels",
    "channel_id",
    "encode_test_pattern",
    "insert_recorded_time",
    "read_recorded_time",
    "running_simulator",
]
