"""Playing recordings in virtual time: start, gaps, end, speed, pause, seek, reverse, timestamps."""

from __future__ import annotations

import io
from itertools import pairwise

import av
import pytest

from farmwatch.media.ps_mux import PsMuxer
from farmwatch.simulator import (
    EncodedFrame,
    EncodedLoop,
    MediaCache,
    PlayedFrame,
    PlayerState,
    RecordFile,
    RecordPlayer,
    TestPatternSpec,
    read_recorded_time,
)

CHANNEL = "34020000001310000001"
FPS, GOP = 25, 50  # a key frame every 2 s, a frame every 40 ms
F0 = 1_704_067_200  # 2024-01-01T08:00:00 Beijing
FILES = (RecordFile(F0, F0 + 60), RecordFile(F0 + 100, F0 + 130))
"""One minute, a 40 s gap, half a minute."""
STEP = 0.01


def _loop() -> EncodedLoop:
    spec = TestPatternSpec(CHANNEL, fps=FPS, gop=GOP, loop_seconds=4)
    muxer = PsMuxer()
    frames = []
    for index in range(spec.frame_count):
        is_key = index % GOP == 0
        data = bytes([0, 0, 0, 1, 0x65 if is_key else 0x41, index])
        pts = spec.pts_of(index)
        frames.append(
            EncodedFrame(data, pts, spec.pts_of(index + 1) - pts, is_key,
                         muxer.mux_video(data, pts, is_keyframe=is_key))
        )  # fmt: skip
    return EncodedLoop(spec, tuple(frames))


LOOP = _loop()


def _player(start: int, end: int, *, scale: float = 1.0) -> RecordPlayer:
    return RecordPlayer(LOOP, FILES, start, end, scale=scale)


def _run(player: RecordPlayer, start: float, stop: float) -> list[tuple[float, PlayedFrame]]:
    """Call `due` every 10 ms of virtual time in [start, stop)."""
    out = []
    steps = round((stop - start) / STEP)
    for number in range(steps):
        now = start + number * STEP
        out += [(now, frame) for frame in player.due(now)]
    return out


def _seconds(frame: PlayedFrame) -> float:
    return frame.recorded_ms / 1000 - F0


def test_playing_starts_at_the_key_frame_at_or_before_the_start() -> None:
    player = _player(F0 + 11, F0 + 50).start(0.0)
    played = _run(player, 0.0, 1.0)
    first = played[0][1]
    assert played[0][0] == 0.0 and first.is_keyframe
    assert _seconds(first) == 10.0
    assert first.pts == 0
    assert [round(_seconds(f), 2) for _, f in played[:3]] == [10.0, 10.04, 10.08]


def test_recorded_time_advances_with_wall_time_and_timestamps_with_recorded_time() -> None:
    played = _run(_player(F0 + 10, F0 + 50).start(0.0), 0.0, 2.0)
    for now, frame in played:
        assert _seconds(frame) - 10 == pytest.approx(now, abs=STEP + 1e-9)
        assert frame.pts == round((_seconds(frame) - 10) * 90_000)
    assert len(played) == 50


def test_a_start_in_a_gap_starts_at_the_next_file() -> None:
    played = _run(_player(F0 + 70, F0 + 120).start(0.0), 0.0, 0.1)
    assert _seconds(played[0][1]) == 100.0 and played[0][0] == 0.0


def test_a_gap_is_skipped_without_waiting() -> None:
    played = _run(_player(F0 + 58, F0 + 120).start(0.0), 0.0, 2.5)
    times = [round(_seconds(f), 2) for _, f in played]
    last_of_first = times.index(59.96)
    assert times[last_of_first + 1] == 100.0
    gap_wall = played[last_of_first + 1][0] - played[last_of_first][0]
    assert gap_wall == pytest.approx(0.04, abs=STEP + 1e-9)
    jump = played[last_of_first + 1][1].pts - played[last_of_first][1].pts
    assert jump == round((100 - 59.96) * 90_000)  # timestamps follow the recorded time


def test_playing_ends_before_the_range_end() -> None:
    player = _player(F0 + 18, F0 + 20).start(0.0)
    played = _run(player, 0.0, 3.0)
    assert round(_seconds(played[-1][1]), 2) == 19.96
    assert len(played) == 50
    assert player.state is PlayerState.FINISHED and player.is_finished
    assert player.next_deadline is None and player.position_ms is None
    assert player.due(10.0) == []


def test_playing_ends_when_no_file_is_left() -> None:
    player = _player(F0 + 128, F0 + 200).start(0.0)
    played = _run(player, 0.0, 3.0)
    assert round(_seconds(played[-1][1]), 2) == 129.96
    assert player.is_finished


def test_a_range_without_recordings_finishes_at_once() -> None:
    player = _player(F0 + 65, F0 + 95).start(0.0)
    assert player.is_finished and player.due(0.0) == []


def test_download_speed_sends_faster_with_the_same_timestamps() -> None:
    player = _player(F0 + 10, F0 + 50, scale=4).start(0.0)
    played = _run(player, 0.0, 1.0)
    assert _seconds(played[-1][1]) - 10 == pytest.approx(4.0, abs=0.05)
    steps = {b.pts - a.pts for (_, a), (_, b) in pairwise(played)}
    assert steps == {3600}


def test_pause_keeps_the_position_and_resume_goes_on_from_it() -> None:
    player = _player(F0 + 10, F0 + 50).start(0.0)
    before = _run(player, 0.0, 1.0)
    player.pause(1.0)
    assert player.state is PlayerState.PAUSED and player.next_deadline is None
    assert _run(player, 1.0, 5.0) == []
    player.resume(5.0)
    after = _run(player, 5.0, 5.5)
    assert after[0][0] == 5.0
    assert after[0][1].recorded_ms - before[-1][1].recorded_ms == 40


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(5.5, 16.0), (6.0, 16.0), (0.0, 10.0), (70.0, 100.0)],  # from t= start F0 + 11
)
def test_a_seek_goes_to_the_key_frame_at_or_before_it(offset: float, expected: float) -> None:
    player = _player(F0 + 11, F0 + 120).start(0.0)
    _run(player, 0.0, 1.0)
    player.seek(offset, 1.0)
    played = _run(player, 1.0, 1.1)
    assert played[0][0] == 1.0 and _seconds(played[0][1]) == expected
    assert played[0][1].pts == round((expected - 10) * 90_000)


def test_a_seek_while_paused_plays_and_past_the_end_finishes() -> None:
    player = _player(F0 + 10, F0 + 40).start(0.0)
    player.pause(0.5)
    player.seek(3.0, 1.0)
    assert player.state is PlayerState.PLAYING
    assert _seconds(_run(player, 1.0, 1.05)[0][1]) == 12.0
    player.seek(30.0, 2.0)
    assert player.state is PlayerState.FINISHED


def test_a_scale_change_keeps_the_position_and_changes_the_pace() -> None:
    player = _player(F0 + 10, F0 + 50).start(0.0)
    before = _run(player, 0.0, 1.0)
    player.set_scale(2.0, 1.0)
    after = _run(player, 1.0, 2.0)
    assert after[0][1].recorded_ms - before[-1][1].recorded_ms == 40
    assert _seconds(after[-1][1]) - _seconds(after[0][1]) == pytest.approx(2.0, abs=0.1)


def test_reverse_sends_only_key_frames_going_back_at_the_scale() -> None:
    player = _player(F0 + 10, F0 + 50).start(0.0)
    _run(player, 0.0, 5.0)  # at recorded +15 s
    player.set_scale(-2.0, 5.0)
    played = _run(player, 5.0, 10.0)
    assert all(frame.is_keyframe for _, frame in played)
    assert [_seconds(f) for _, f in played] == [14.0, 12.0, 10.0]
    assert [round(now - 5.0, 2) for now, _ in played] == [0.0, 1.0, 2.0]
    assert player.state is PlayerState.FINISHED  # before the t= start comes next


def test_reverse_crosses_a_gap_to_the_previous_file() -> None:
    player = _player(F0 + 30, F0 + 110, scale=-2).start(0.0)
    player.seek(72.0, 0.0)  # F0 + 102: key frame at F0 + 102
    played = _run(player, 0.0, 3.5)
    assert [_seconds(f) for _, f in played] == [102.0, 100.0, 58.0, 56.0]
    assert [now for now, _ in played] == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_turning_forward_again_starts_at_the_last_key_frame_sent() -> None:
    player = _player(F0 + 10, F0 + 50, scale=-1).start(0.0)
    player.seek(10.0, 0.0)
    _run(player, 0.0, 2.5)  # keys at +20 s and +18 s
    player.set_scale(1.0, 2.5)
    played = _run(player, 2.5, 2.6)
    assert [round(_seconds(f), 2) for _, f in played] == [18.0, 18.04, 18.08]


def test_teardown_stops_for_good() -> None:
    player = _player(F0 + 10, F0 + 50).start(0.0)
    _run(player, 0.0, 0.5)
    player.stop()
    player.resume(1.0)
    player.seek(1.0, 1.0)
    assert player.state is PlayerState.STOPPED and player.is_finished
    assert _run(player, 1.0, 2.0) == []


def test_a_control_before_the_start_waits_for_it() -> None:
    player = _player(F0 + 10, F0 + 50)
    player.seek(4.0, 0.0)
    assert player.state is PlayerState.READY and player.due(0.0) == []
    player.start(3.0)
    assert _seconds(player.due(3.0)[0]) == 14.0


def test_a_stalled_sender_goes_on_from_where_it_was_without_a_burst() -> None:
    player = _player(F0 + 10, F0 + 50).start(0.0)
    last = _run(player, 0.0, 1.0)[-1][1]
    late = player.due(6.0)
    assert len(late) == 1 and late[0].recorded_ms - last.recorded_ms == 40


def test_bad_ranges_and_scales_are_refused() -> None:
    with pytest.raises(ValueError, match="start < end"):
        _player(F0 + 10, F0 + 10)
    with pytest.raises(ValueError, match="scale"):
        _player(F0 + 10, F0 + 20, scale=0.0)
    with pytest.raises(ValueError, match="scale"):
        _player(F0 + 10, F0 + 20).set_scale(100.0, 0.0)


def test_every_frame_carries_its_recorded_time_in_a_decodable_ps_stream() -> None:
    spec = TestPatternSpec(CHANNEL, width=64, height=64, fps=FPS, gop=GOP, bitrate=50_000)
    player = RecordPlayer(MediaCache().get(spec), FILES, F0 + 58, F0 + 102).start(0.0)
    played = _run(player, 0.0, 3.0)
    ps = b"".join(frame.ps_packet() for _, frame in played)
    with av.open(io.BytesIO(ps), format="mpeg") as container:
        stream = container.streams.video[0]
        read = [
            (packet.pts, read_recorded_time(bytes(packet), length_prefixed=False))
            for packet in container.demux(stream)
            if packet.size
        ]
    assert read == [(frame.pts, frame.recorded_ms) for _, frame in played]
    assert len(read) == 75 and read[50][1] == (F0 + 100) * 1000
    with av.open(io.BytesIO(ps), format="mpeg") as container:
        assert sum(1 for _ in container.decode(video=0)) == 75
