"""A stream's relays (PS sinks): counted like viewers, never making the stream demultiplex,
started on the PS GOP, isolated from each other, ended with the stream."""

from __future__ import annotations

import asyncio

from farmwatch.media.events import MediaStarted
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import VideoSize
from farmwatch.media.ps_frame import PsFrame, video_pts
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType
from farmwatch.media.queue_sink import QueuedSink
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import Stream
from farmwatch.media.stream_core import StreamState

STARTED = MediaStarted(Codec.H264, VideoSize(320, 180), 1, ("127.0.0.1", 5000))


class Relay:
    """A PS sink that keeps what it is offered (`fails`: raises on the second frame)."""

    def __init__(self, *, fails: bool = False) -> None:
        self.frames: list[PsFrame] = []
        self.ended: str | None = None
        self.closed = False
        self.fails = fails
        self.is_waiting_for_keyframe = False

    def offer_ps(self, frame: PsFrame) -> None:
        if self.fails and self.frames:
            raise RuntimeError("broken relay")
        self.frames.append(frame)

    def end(self, reason: str) -> None:
        self.ended = reason

    async def close(self) -> None:
        self.closed = True

    @property
    def is_closed(self) -> bool:
        return self.closed


def ps(number: int, *, key: bool = False) -> PsFrame:
    return PsFrame(bytes([number]) * 10, number * 3600, key)


class Source:
    """What the stream tells its receiver (watched, relayed), and the GOP it kept."""

    def __init__(self, stream: Stream, kept: list[PsFrame]) -> None:
        self.calls: list[str] = []
        self._stream, self._kept = stream, kept
        stream.on_watched = lambda watched: self.calls.append(f"watched={watched}")
        stream.on_relayed = self.relayed

    def relayed(self, relayed: bool) -> None:
        self.calls.append(f"relayed={relayed}")
        for frame in self._kept if relayed else []:
            self._stream.receiver_ps_frame(frame)  # as `RtpIngest.set_relayed` hands it over


async def test_a_relay_keeps_the_stream_live_without_making_it_demultiplex() -> None:
    stream = Stream("k", MediaSettings(idle_close=0.05))
    source = Source(stream, [ps(5, key=True), ps(6)])
    stream.receiver_event(STARTED)
    assert stream.state is StreamState.DRAINING
    relay = Relay()
    subscription = stream.attach_ps(relay)
    assert source.calls == ["relayed=True"]  # never watched: no demultiplexing
    assert stream.state is StreamState.LIVE and stream.has_ps_source
    assert [frame.timestamp for frame in relay.frames] == [5 * 3600, 6 * 3600]  # the GOP
    await asyncio.sleep(0.1)  # past idle_close
    assert stream.state is StreamState.LIVE
    stream.detach_ps(subscription)
    assert source.calls == ["relayed=True", "relayed=False"]
    assert stream.state is StreamState.DRAINING


async def test_relays_get_live_frames_and_a_late_one_starts_at_the_last_key_frame() -> None:
    stream = Stream("k", MediaSettings())
    Source(stream, [])
    stream.receiver_event(STARTED)
    early = Relay()
    stream.attach_ps(early)
    for number in range(1, 8):
        stream.receiver_ps_frame(ps(number, key=number in (1, 5)))
    late = Relay()
    stream.attach_ps(late)
    stream.receiver_ps_frame(ps(8))
    assert [frame.timestamp // 3600 for frame in early.frames] == list(range(1, 9))
    assert [frame.timestamp // 3600 for frame in late.frames] == [5, 6, 7, 8]
    assert stream.ps_sink_count == 2 and stream.sink_count == 0


async def test_a_failing_relay_is_detached_and_closed_alone() -> None:
    stream = Stream("k", MediaSettings())
    Source(stream, [])
    stream.receiver_event(STARTED)
    broken, good = Relay(fails=True), Relay()
    stream.attach_ps(broken)
    stream.attach_ps(good)
    for number in range(1, 4):
        stream.receiver_ps_frame(ps(number, key=number == 1))
    await asyncio.sleep(0)
    assert broken.closed and len(broken.frames) == 1
    assert [frame.timestamp // 3600 for frame in good.frames] == [1, 2, 3]
    assert stream.ps_sink_count == 1


async def test_relays_end_with_their_stream() -> None:
    stream = Stream("k", MediaSettings())
    Source(stream, [])
    relay = Relay()
    stream.attach_ps(relay)
    stream.close()
    assert relay.ended == "requested" and stream.ps_sink_count == 0


async def test_without_a_ps_source_a_relay_still_holds_the_stream() -> None:
    requests: list[str] = []
    stream = Stream(
        "k", MediaSettings(idle_close=0.05), on_keyframe_needed=lambda: requests.append("k")
    )
    stream.receiver_event(STARTED)
    stream.attach_ps(Relay())
    assert not stream.has_ps_source and requests == []  # a recording brings its key frames
    await asyncio.sleep(0.1)
    assert stream.state is StreamState.LIVE


def muxed(number: int, *, key: bool = False) -> PsFrame:
    """A real PS frame (pack header, PES with the PTS) of a tiny picture."""
    packet = PsMuxer().mux_video(b"\x00\x00\x00\x01\x41" + bytes([number]), number * 3600,
                                 is_keyframe=key)  # fmt: skip
    return PsFrame(packet.data, number * 3600, key)


def test_a_frames_pts_is_read_from_its_first_video_pes_only() -> None:
    muxer = PsMuxer(PsMuxerConfig(audio=StreamType.G711A))
    key = muxer.mux_video(b"\x00\x00\x00\x01\x65" * 100, (1 << 33) + 7, is_keyframe=True)
    assert video_pts(key.data) == 7  # after the system header and the PSM; 33 bits
    assert video_pts(muxer.mux_video(b"\x01" * 70_000, 3600, is_keyframe=False).data) == 3600
    assert video_pts(muxer.mux_audio(b"\xd5" * 160, 3600).data) is None  # sound
    assert video_pts(key.data[40:]) is None  # the tail of a frame after a loss


async def test_a_relayed_stream_tells_its_progress_without_a_viewer() -> None:
    stream = Stream("k", MediaSettings())
    source = Source(stream, [])
    stream.receiver_event(STARTED)
    stream.attach_ps(Relay())
    for number in range(10):
        stream.receiver_ps_frame(muxed(number, key=number == 0))
    progress = stream.progress()
    assert (progress.video_frames, progress.keyframes) == (10, 1)
    assert (progress.first_pts, progress.latest_pts) == (0, 9 * 3600)

    # A viewer comes: the kept GOP it wakes was counted already; live frames count once.
    def wake(watched: bool) -> None:
        source.calls.append(f"watched={watched}")
        for number in range(10):
            data = b"\x00\x00\x00\x01" + (b"\x65" if number == 0 else b"\x41")
            stream.receiver_frame(EsFrame(Codec.H264, data, number * 3600, number * 3600,
                                          number == 0, 0xE0))  # fmt: skip

    stream.on_watched = wake
    stream.attach(QueuedSink(max_frames=100))
    stream.receiver_ps_frame(muxed(10))  # demultiplexed now: the PS no longer counts
    stream.receiver_frame(EsFrame(Codec.H264, b"\x00\x00\x00\x01\x41", 36000, 36000, False, 0xE0))
    progress = stream.progress()
    assert (progress.video_frames, progress.keyframes, progress.latest_pts) == (11, 1, 36000)
