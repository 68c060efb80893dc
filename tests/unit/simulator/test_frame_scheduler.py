"""Pacing a stream over a cached loop, in virtual time; and the whole send path, decoded."""

from __future__ import annotations

import io

import av
import pytest
from aiortc.rtp import RtpPacket

from farmwatch.media.ps_mux import PsMuxer
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.simulator import (
    EncodedFrame,
    EncodedLoop,
    FrameScheduler,
    MediaCache,
    TestPatternSpec,
)

CHANNEL = "34020000001320000001"
START = 1000.0


def _synthetic_loop(fps: int = 25, seconds: int = 2, gop: int = 25) -> EncodedLoop:
    spec = TestPatternSpec(CHANNEL, fps=fps, gop=gop, loop_seconds=seconds)
    muxer = PsMuxer()
    frames = []
    for index in range(spec.frame_count):
        is_key = index % gop == 0
        data = bytes([0, 0, 0, 1, 0x65 if is_key else 0x41, index])
        pts = spec.pts_of(index)
        frames.append(
            EncodedFrame(
                data=data,
                pts=pts,
                duration=spec.pts_of(index + 1) - pts,
                is_keyframe=is_key,
                ps=muxer.mux_video(data, pts, is_keyframe=is_key),
            )
        )
    return EncodedLoop(spec=spec, frames=tuple(frames))


def _scr(ps: bytes) -> int:
    b = ps[4:10]
    return (
        ((b[0] >> 3) & 7) << 30
        | (b[0] & 3) << 28
        | b[1] << 20
        | (b[2] >> 3) << 15
        | (b[2] & 3) << 13
        | b[3] << 5
        | b[4] >> 3
    )


def test_frames_become_due_at_their_pts() -> None:
    scheduler = FrameScheduler(_synthetic_loop(), START)
    assert [d.number for d in scheduler.due(START)] == [0]
    assert scheduler.due(START + 0.039) == []
    assert scheduler.next_deadline == pytest.approx(START + 0.04)
    assert [d.number for d in scheduler.due(START + 0.04)] == [1]
    assert [d.number for d in scheduler.due(START + 0.2)] == [2, 3, 4, 5]
    assert scheduler.due(START + 0.2) == []
    assert scheduler.due(START - 5) == []


def test_pts_keeps_increasing_across_passes_of_the_loop() -> None:
    loop = _synthetic_loop()
    scheduler = FrameScheduler(loop, START, first_pts=12345)
    sent = []
    for step in range(0, 5 * 25 + 1):
        sent += scheduler.due(START + step * 0.04)
    assert [d.number for d in sent] == list(range(126))
    assert [d.pts for d in sent] == [12345 + 3600 * n for n in range(126)]
    wrapped = sent[50]
    assert wrapped.frame is loop.frames[0]
    assert _scr(wrapped.ps_packet()) == 12345 + 2 * 90000
    assert wrapped.ps_packet().endswith(loop.frames[0].data)
    assert scheduler.skipped_frames == 0


def test_a_stalled_sender_jumps_to_the_latest_due_key_frame() -> None:
    scheduler = FrameScheduler(_synthetic_loop(), START, max_lag=1.0)
    scheduler.due(START)
    due = scheduler.due(START + 10.5)  # 10.5 s later: frames 1..262 are due
    assert [d.number for d in due] == list(range(250, 263))
    assert due[0].frame.is_keyframe
    assert scheduler.skipped_frames == 249
    assert [d.number for d in scheduler.due(START + 10.51)] == []
    assert [d.number for d in scheduler.due(START + 10.59)] == [263, 264]


def test_a_key_frame_request_makes_the_next_frame_a_key_frame_on_the_same_timeline() -> None:
    loop = _synthetic_loop()  # key frames at 0 and 25 of 50
    scheduler = FrameScheduler(loop, START)
    sent = scheduler.due(START + 0.2)  # frames 0..5
    scheduler.key_frame_next()
    after = scheduler.due(START + 0.28)  # frames 6 and 7 of the stream
    assert [d.number for d in after] == [6, 7]
    assert after[0].frame is loop.frames[25] and after[0].frame.is_keyframe
    assert after[1].frame is loop.frames[26]
    assert [d.pts for d in sent + after] == [3600 * n for n in range(8)]  # no jump in time
    assert _scr(after[0].ps_packet()) == 6 * 3600
    # The next request, past the last key frame of the loop, wraps to frame 0.
    assert scheduler.due(START + 0.6)[-1].frame is loop.frames[34]
    scheduler.key_frame_next()
    [next_frame] = scheduler.due(START + 0.64)
    assert next_frame.frame is loop.frames[0] and next_frame.pts == 16 * 3600


def test_a_short_lag_is_caught_up_without_skipping() -> None:
    scheduler = FrameScheduler(_synthetic_loop(), START, max_lag=1.0)
    assert len(scheduler.due(START + 0.9)) == 23
    assert scheduler.skipped_frames == 0


def test_streamed_rtp_reassembles_into_ps_that_ffmpeg_decodes_across_loops() -> None:
    spec = TestPatternSpec(CHANNEL, width=160, height=96, fps=10, gop=5, loop_seconds=1)
    loop = MediaCache().get(spec)
    scheduler = FrameScheduler(loop, START, first_pts=90000)
    packetizer = RtpPacketizer(ssrc=200000001, first_sequence=65500)
    wire = []
    for step in range(25):  # 2.5 passes of the loop
        for due in scheduler.due(START + step * 0.1):
            wire += packetizer.packetize(due.ps_packet(), due.pts)
    packets = [RtpPacket.parse(data) for data in wire]
    assert sum(p.marker for p in packets) == 25
    stream = b"".join(p.payload for p in packets)
    container = av.open(io.BytesIO(stream), format="mpeg", mode="r")
    pictures = [f for packet in container.demux(video=0) for f in packet.decode()]
    assert len(pictures) == 25
    assert [f.pts for f in pictures] == [90000 + 9000 * n for n in range(25)]


def test_a_device_looping_its_file_restarts_its_timestamps_at_zero() -> None:
    loop = _synthetic_loop()  # 2 s
    scheduler = FrameScheduler(loop, START, restart_every=3 * 90_000)
    sent = []
    for step in range(0, 7 * 25 + 1):  # 7 s
        sent += scheduler.due(START + step * 0.04)
    assert [d.number for d in sent] == list(range(176))  # paced as before
    assert [d.pts for d in sent] == [3600 * (n % 75) for n in range(176)]
    assert _scr(sent[75].ps_packet()) == 0
    assert sent[75].frame is loop.frames[25]  # the picture goes on; only the clock restarts


def test_switch_loop_shows_the_other_picture_from_the_next_key_frame() -> None:
    from dataclasses import replace as replace_spec

    from farmwatch.simulator.test_pattern import PictureMode, encode_test_pattern

    spec = TestPatternSpec("34020000001310000001", width=64, height=36, fps=10, gop=5,
                           loop_seconds=1)  # fmt: skip
    normal = encode_test_pattern(spec)
    black = encode_test_pattern(replace_spec(spec, picture=PictureMode.BLACK))
    scheduler = FrameScheduler(normal, start=0.0)
    sent = scheduler.due(0.25)  # frames 0, 1, 2 of the normal loop
    assert [due.frame for due in sent] == list(normal.frames[:3])
    scheduler.switch_loop(black)
    switched = scheduler.due(0.45)
    assert switched[0].frame is black.frames[5] and switched[0].frame.is_keyframe
    assert all(due.frame in black.frames for due in switched)
    assert [due.pts for due in sent + switched] == [n * 9000 for n in range(len(sent + switched))]
    with pytest.raises(ValueError, match="timed differently"):
        scheduler.switch_loop(encode_test_pattern(replace_spec(spec, gop=2)))
