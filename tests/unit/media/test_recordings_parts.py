"""The pure parts of recorded video in the media layer: the playback clock told of a seek, the
stream core ended by a recording's end, and what crosses the worker boundary (segments,
download results, recording specs) coming back as it left."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from farmwatch.media.events import MediaStarted, RecordingEnded
from farmwatch.media.frames import Codec
from farmwatch.media.node import DownloadResult, RecordingSpec
from farmwatch.media.playback_clock import PlaybackClock
from farmwatch.media.sinks.segment_recorder import RecordedSegment
from farmwatch.media.stream_core import CloseReason, StreamClosed, StreamCore, StreamState
from farmwatch.media.worker.wire import (
    download_from_json,
    download_to_json,
    recording_spec_from_json,
    segment_from_json,
    segment_to_json,
)

TICKS = 3600


def test_a_rebase_places_the_next_frame_one_interval_after_the_last_output() -> None:
    clock = PlaybackClock()
    outputs = [clock.stamp(dts, dts)[1] for dts in (0, TICKS, 2 * TICKS)]
    clock.rebase()  # the recording sought an hour ahead
    jump = 3600 * 90_000
    outputs += [clock.stamp(dts, dts)[1] for dts in (jump, jump + TICKS)]

    assert outputs == [0, TICKS, 2 * TICKS, 3 * TICKS, 4 * TICKS]
    assert clock.is_engaged and clock.scale == 1.0


def test_a_rebase_at_a_scale_keeps_the_scaled_interval() -> None:
    clock = PlaybackClock()
    clock.stamp(0, 0)
    clock.set_scale(4)
    outputs = [clock.stamp(dts, dts)[1] for dts in (TICKS, 2 * TICKS)]
    clock.rebase()
    outputs += [clock.stamp(dts, dts)[1] for dts in (-50 * TICKS, -49 * TICKS)]  # back

    assert outputs == [900, 1800, 2700, 3600]


def test_the_end_of_a_recording_closes_the_stream_with_its_own_reason() -> None:
    core = StreamCore(now=0.0, idle_close=30.0)
    core.sink_attached(0.0)
    core.receiver_event(MediaStarted(Codec.H264, None, 0, None), 0.1)
    assert core.state is StreamState.LIVE

    outputs = core.receiver_event(RecordingEnded(250), 10.0)

    assert outputs == [StreamClosed(CloseReason.END_OF_RECORDING)]
    assert core.close_cause == RecordingEnded(250) and core.state is StreamState.CLOSED


def test_a_segment_crosses_the_worker_boundary_as_itself() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    segment = RecordedSegment(
        path=Path("/srv/recordings/F1/34020000001320000001/2024-05-01/235958-000008.mp4"),
        start=datetime(2024, 5, 1, 23, 59, 58, 120_000, tzinfo=zone),
        end=datetime(2024, 5, 2, 0, 0, 8, tzinfo=zone),
        frame_count=250, byte_count=1_234_567, codec=Codec.H265, width=1920, height=1080,
    )  # fmt: skip

    back = segment_from_json(segment_to_json(segment))

    assert back == segment  # aware datetimes compare by instant
    assert back.start.utcoffset() == timedelta(hours=8)
    assert back.end.tzinfo == timezone(timedelta(hours=8))
    assert isinstance(back.path, Path) and back.codec is Codec.H265


def test_download_results_and_recording_specs_cross_as_themselves() -> None:
    result = DownloadResult("/srv/downloads/a.mp4", 59.96, 1499, 15_000_000, 1280, 720)

    assert download_from_json(download_to_json(result)) == result
    assert download_from_json(download_to_json(None)) is None
    spec = RecordingSpec("/srv/recordings/F1/c", "Asia/Shanghai", 600.0)
    assert recording_spec_from_json({"directory": spec.directory, "zone": spec.zone,
                                     "segment_seconds": 600}) == spec  # fmt: skip
