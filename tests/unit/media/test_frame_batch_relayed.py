"""Relayed streams: each frame's PS bytes come out as received, asleep or awake, without
waking the demuxer; a new relay gets the kept GOP; a loss shows as the bytes before the gap
(no marker) and the bytes after it (`after_loss`)."""

from __future__ import annotations

from farmwatch.media.frame_batch import FrameBatch
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import is_keyframe
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.ps_frame import PsFrame, PsGopCache
from farmwatch.media.ps_mux import PsMuxer
from tests.unit.media.ps_samples import encoded_access_units


def _frames() -> list[tuple[bytes, int, bool]]:
    """(PS bytes, timestamp, is key) of the H.264 sample clip (a key frame every 10)."""
    muxer = PsMuxer()
    out = []
    for index, unit in enumerate(encoded_access_units("libx264")):
        key = is_keyframe(Codec.H264, unit)
        out.append((muxer.mux_video(unit, index * 3600, is_keyframe=key).data, index * 3600, key))
    return out


def _feed(batch: FrameBatch, frames: list[tuple[bytes, int, bool]]) -> list[EsFrame | PsFrame]:
    out: list[EsFrame | PsFrame] = []
    for data, timestamp, _ in frames:
        parts = [data[at : at + 1400] for at in range(0, len(data), 1400)]
        for index, part in enumerate(parts):
            out += batch.take(part, timestamp, index == len(parts) - 1)
    return out


def _started_batch(frames: list[tuple[bytes, int, bool]]) -> FrameBatch:
    """A batch past the stream's first key frame, with nobody watching."""
    batch = FrameBatch(lambda: PsDemuxer(), max_parts=8, units_per_part=1024)
    _feed(batch, frames[:1])
    assert batch.set_codec(Codec.H264) == ()  # not relayed: no PS comes out
    batch.sleep()
    return batch


def test_asleep_and_relayed_each_frame_comes_out_as_received_and_nothing_is_demuxed() -> None:
    frames = _frames()
    batch = _started_batch(frames)
    fed = batch.demuxer.stats.bytes_fed
    assert batch.set_relayed(True) == [PsFrame(frames[0][0], 0, is_keyframe=True)]
    out = _feed(batch, frames[1:])
    assert out == [PsFrame(data, ts, key) for data, ts, key in frames[1:]]
    assert batch.demuxer.stats.bytes_fed == fed  # a relay is no viewer
    assert batch.is_asleep and batch.is_relayed


def test_a_new_relay_gets_the_gop_since_the_last_key_frame() -> None:
    frames = _frames()
    batch = _started_batch(frames)
    _feed(batch, frames[1:25])  # key frames at 0, 10, 20
    start = batch.set_relayed(True)
    assert [(ps.timestamp // 3600, ps.is_keyframe) for ps in start] == [
        (index, index == 20) for index in range(20, 25)
    ]
    assert [ps.data for ps in start] == [data for data, _, _ in frames[20:25]]
    assert batch.set_relayed(False) == []
    assert _feed(batch, frames[25:]) == []


def test_awake_and_relayed_the_ps_comes_beside_the_demuxed_frames() -> None:
    frames = _frames()
    batch = _started_batch(frames)
    batch.set_relayed(True)
    assert [frame.pts for frame in batch.wake()] == [0]  # a viewer came: the kept GOP
    out = _feed(batch, frames[1:12])
    ps = [item for item in out if isinstance(item, PsFrame)]
    es = [item for item in out if isinstance(item, EsFrame)]
    assert [item.data for item in ps] == [data for data, _, _ in frames[1:12]]
    assert [item.is_keyframe for item in ps] == [key for _, _, key in frames[1:12]]
    assert [frame.pts // 3600 for frame in es] == list(range(1, 12))


def test_a_loss_gives_the_bytes_before_the_gap_then_those_after_it() -> None:
    frames = _frames()
    batch = _started_batch(frames)
    batch.set_relayed(True)
    data, timestamp, _ = frames[1]
    head, tail = data[: len(data) // 3], data[2 * len(data) // 3 :]
    assert batch.take(head, timestamp, False) == ()
    assert list(batch.loss()) == [PsFrame(head, timestamp, False, is_complete=False)]
    assert list(batch.take(tail, timestamp, True)) == [
        PsFrame(tail, timestamp, False, after_loss=True)
    ]
    next_data, next_timestamp, _ = frames[2]
    assert _feed(batch, [frames[2]]) == [PsFrame(next_data, next_timestamp, False)]


def test_the_gop_cache_starts_at_a_key_frame_and_forgets_a_gop_too_long() -> None:
    cache = PsGopCache(max_frames=3, max_bytes=1000)
    cache.add(PsFrame(b"p", 0, False))  # no key frame yet: nothing to start from
    assert cache.frames == []
    key = PsFrame(b"k", 3600, True)
    cache.add(key)
    cache.add(PsFrame(b"p", 7200, False))
    assert [ps.timestamp for ps in cache.frames] == [3600, 7200]
    cache.add(key)
    assert cache.frames == [key]
    for number in range(3):
        cache.add(PsFrame(b"p", number, False))
    assert cache.frames == []  # 4 frames > 3: the next relay waits for a key frame
