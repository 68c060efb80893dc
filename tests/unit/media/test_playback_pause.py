"""A paused playback keeps its stream: the idle close and the receiver's timeouts wait while
paused and count again from the resume (field-notes §1.3 pitfall 8), in virtual time."""

from __future__ import annotations

from farmwatch.media.events import MediaStarted, MediaStartTimedOut, MediaStopped
from farmwatch.media.frames import Codec
from farmwatch.media.ingest import RtpIngest
from farmwatch.media.nal import VideoSize, is_keyframe
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream_core import CloseReason, StreamClosed, StreamCore, StreamState
from tests.unit.media.ps_samples import encoded_access_units

SETTINGS = MediaSettings(media_timeout=2.0, start_timeout=10.0)
STARTED = MediaStarted(Codec.H264, VideoSize(320, 180), 1, None)


def _packets(ssrc: int) -> list[bytes]:
    muxer, packetizer = PsMuxer(PsMuxerConfig()), RtpPacketizer(ssrc)
    packets: list[bytes] = []
    for index, unit in enumerate(encoded_access_units("libx264")):
        ps = muxer.mux_video(unit, index * 3600, is_keyframe=is_keyframe(Codec.H264, unit))
        packets += packetizer.packetize(ps.data, index * 3600)
    return packets


def _started_ingest() -> RtpIngest:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, ordered=True)  # TCP: no RTCP timer
    outputs = [out for packet in _packets(7) for out in ingest.receive(packet, None, 1.0)]
    assert any(isinstance(out, MediaStarted) for out in outputs)
    assert ingest.next_deadline() == 3.0  # silence after the last packet
    return ingest


def test_a_pause_longer_than_the_media_timeout_stops_nothing() -> None:
    ingest = _started_ingest()
    ingest.set_paused(True, 1.5)
    assert ingest.is_paused and ingest.next_deadline() is None
    assert ingest.tick(3.0) == [] and ingest.tick(600.0) == []  # ten minutes of pause
    ingest.set_paused(False, 600.0)
    assert ingest.next_deadline() == 602.0  # re-armed from the resume
    assert ingest.tick(601.9) == []
    assert ingest.tick(602.0) == [MediaStopped(2.0)]


def test_media_after_the_resume_counts_from_the_packet() -> None:
    ingest = _started_ingest()
    ingest.set_paused(True, 2.0)
    ingest.set_paused(False, 50.0)
    assert ingest.next_deadline() == 52.0
    ingest.receive(_packets(7)[0], None, 51.0)  # the device plays again
    assert ingest.next_deadline() == 53.0


def test_the_start_timeout_waits_while_paused_too() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, ordered=True)
    ingest.set_paused(True, 1.0)
    assert ingest.next_deadline() is None and ingest.tick(30.0) == []
    ingest.set_paused(False, 30.0)
    assert ingest.next_deadline() == 40.0
    assert ingest.tick(40.0) == [MediaStartTimedOut(10.0, 0, 0)]


def test_without_a_pause_the_media_timeout_fires() -> None:
    """The control: the same ingest, not paused, stops at the timeout."""
    ingest = _started_ingest()
    assert ingest.tick(3.0) == [MediaStopped(2.0)]


def test_a_paused_stream_without_viewers_is_not_closed_as_idle() -> None:
    core = StreamCore(now=0.0, idle_close=30.0)
    core.receiver_event(STARTED, 1.0)
    assert core.state is StreamState.DRAINING and core.next_deadline() == 30.0
    core.set_paused(True, 5.0)
    assert core.is_paused and core.next_deadline() is None
    assert core.tick(30.0) == [] and core.tick(3600.0) == []
    core.set_paused(False, 3600.0)
    assert core.next_deadline() == 3630.0
    assert core.tick(3629.0) == []
    assert core.tick(3630.0) == [StreamClosed(CloseReason.IDLE)]


def test_the_last_viewer_leaving_a_paused_stream_closes_it_only_after_the_resume() -> None:
    core = StreamCore(now=0.0, idle_close=30.0)
    core.sink_attached(0.5)
    core.receiver_event(STARTED, 1.0)
    core.set_paused(True, 2.0)
    core.sink_detached(3.0)
    assert core.state is StreamState.DRAINING and core.next_deadline() is None
    core.set_paused(False, 100.0)
    assert core.next_deadline() == 130.0


def test_resuming_a_watched_stream_arms_nothing() -> None:
    core = StreamCore(now=0.0, idle_close=30.0)
    core.sink_attached(0.5)
    core.receiver_event(STARTED, 1.0)
    core.set_paused(True, 2.0)
    core.set_paused(False, 100.0)
    assert core.state is StreamState.LIVE and core.next_deadline() is None
