"""Unwatched streams: frames kept from the last key frame undemultiplexed, given back on
wake exactly as demultiplexing them all along would have (issue 14)."""

from __future__ import annotations

import pytest

from farmwatch.media.frame_batch import FrameBatch
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import is_keyframe
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.ps_keyframe import starts_keyframe
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType
from tests.unit.media.ps_samples import encoded_access_units

ENCODERS = {Codec.H264: ("libx264", StreamType.H264), Codec.H265: ("libx265", StreamType.H265)}


def _ps_frames(codec: Codec) -> list[tuple[bytes, int, bool]]:
    """(PS bytes, 90 kHz timestamp, is key) of every frame of the sample clip."""
    encoder, stream_type = ENCODERS[codec]
    muxer = PsMuxer(PsMuxerConfig(video=stream_type))
    out = []
    for index, unit in enumerate(encoded_access_units(encoder)):
        key = is_keyframe(codec, unit)
        out.append((muxer.mux_video(unit, index * 3600, is_keyframe=key).data, index * 3600, key))
    return out


def _packets(frame: bytes) -> list[bytes]:
    return [frame[at : at + 1400] for at in range(0, len(frame), 1400)]


def _batch() -> FrameBatch:
    return FrameBatch(lambda: PsDemuxer(), max_parts=8, units_per_part=1024)


def _feed(batch: FrameBatch, frames: list[tuple[bytes, int, bool]]) -> list[EsFrame]:
    out: list[EsFrame] = []
    for data, timestamp, _ in frames:
        parts = _packets(data)
        for index, part in enumerate(parts):
            out += batch.take(part, timestamp, index == len(parts) - 1)
    return out


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_key_frames_are_told_from_their_first_bytes(codec: Codec) -> None:
    frames = _ps_frames(codec)
    assert any(key for _, _, key in frames) and not all(key for _, _, key in frames)
    assert [starts_keyframe(codec, data) for data, _, _ in frames] == [k for _, _, k in frames]


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_asleep_nothing_is_demultiplexed_and_wake_gives_the_gop_since_the_last_key(
    codec: Codec,
) -> None:
    frames = _ps_frames(codec)
    keys = [index for index, (_, _, key) in enumerate(frames) if key]
    last_key = keys[-1]
    eager = _feed(_batch(), frames)

    batch = _batch()
    first = _feed(batch, frames[: keys[0] + 1])  # the stream started: its first key frame
    batch.set_codec(codec)
    batch.sleep()
    assert _feed(batch, frames[keys[0] + 1 :]) == []  # nobody watches: nothing demuxed
    woken = batch.wake()
    # The GOP since the last key frame, as demuxing everything would have given it.
    tail = [frame for frame in eager if frame.pts >= last_key * 3600]
    assert [(f.pts, f.data, f.is_keyframe) for f in woken] == [
        (f.pts, f.data, f.is_keyframe) for f in tail
    ]
    assert first and first[0].is_keyframe
    more = _feed(batch, frames[:3])  # awake: demultiplexing goes on
    assert more


def test_a_loss_while_asleep_comes_back_as_a_damaged_frame() -> None:
    frames = _ps_frames(Codec.H264)
    keys = [index for index, (_, _, key) in enumerate(frames) if key]
    batch = _batch()
    _feed(batch, frames[: keys[0] + 1])
    batch.set_codec(Codec.H264)
    batch.sleep()
    hit = keys[1] + 2  # a P-frame of the second GOP, kept while asleep
    _feed(batch, frames[keys[0] + 1 : hit])
    data, timestamp, _ = frames[hit]
    batch.take(data[: len(data) // 2], timestamp, False)
    batch.loss()  # the rest of that frame never came
    _feed(batch, frames[hit + 1 : hit + 4])
    woken = batch.wake()
    assert woken[0].is_keyframe and woken[0].pts == keys[1] * 3600
    assert [frame.pts // 3600 for frame in woken if frame.is_damaged] == [hit]
    assert [frame.pts // 3600 for frame in woken] == list(range(keys[1], hit + 4))
