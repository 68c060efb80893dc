"""Download writer: one MP4 file that PyAV opens with the duration of the frames fed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest

from farmwatch.media.errors import MediaError
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks.mp4_download import DOWNLOAD_QUEUE_FRAMES, Mp4FileSink
from farmwatch.media.sinks.mp4_file import Mp4FileWriter
from farmwatch.simulator.test_pattern import TestPatternSpec, encode_test_pattern
from tests.unit.media.sinks.pattern import CHANNEL_ID, HEIGHT, WIDTH, pattern_frames, restamped
from tests.unit.media.sinks.test_segment_recorder import FRAME_SECONDS, decode

GOP_SECONDS = 1.0


def top_level_boxes(path: Path) -> list[str]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset < len(data):
        boxes.append(data[offset + 4 : offset + 8].decode())
        offset += int.from_bytes(data[offset : offset + 4], "big")
    return boxes


async def download(
    path: Path, frames: list[EsFrame], max_frames: int = DOWNLOAD_QUEUE_FRAMES
) -> Mp4FileSink:
    sink = Mp4FileSink(path, max_frames=max_frames, name="test")
    await sink.start()
    for frame in frames:
        sink.offer(frame)
    return sink


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
async def test_the_download_is_one_file_with_the_duration_of_the_frames(
    tmp_path: Path, codec: Codec
) -> None:
    sink = await download(tmp_path / "download.mp4", pattern_frames(codec, 130))
    async with asyncio.timeout(30):
        info = await sink.finish()

    decoded = decode(info.path)
    assert decoded.frame_count == 130
    assert decoded.duration == pytest.approx(130 * FRAME_SECONDS, abs=GOP_SECONDS)
    assert info.duration.total_seconds() == pytest.approx(130 * FRAME_SECONDS)
    assert (info.frame_count, info.codec, info.width, info.height) == (130, codec, WIDTH, HEIGHT)
    assert info.byte_count == info.path.stat().st_size
    boxes = top_level_boxes(info.path)
    assert boxes[:2] == ["ftyp", "moov"] and set(boxes[2:]) == {"moof", "mdat"}
    assert sink.is_closed


async def test_the_stream_ending_finishes_the_file(tmp_path: Path) -> None:
    sink = await download(tmp_path / "download.mp4", pattern_frames(Codec.H264, 60))
    sink.end("MediaStatus 121")
    async with asyncio.timeout(30):
        info = await sink.wait_finished()

    assert decode(info.path).frame_count == 60


async def test_progress_is_the_media_time_received_and_a_jump_is_not_time(tmp_path: Path) -> None:
    frames = pattern_frames(Codec.H264, 60)
    frames += restamped(pattern_frames(Codec.H264, 40, first=60), 90_000 * 3600)
    sink = await download(tmp_path / "download.mp4", frames[:30])
    assert sink.received_seconds == pytest.approx(29 * FRAME_SECONDS)
    for frame in frames[30:]:
        sink.offer(frame)
    assert sink.received_seconds == pytest.approx(99 * FRAME_SECONDS)
    async with asyncio.timeout(30):
        info = await sink.finish()

    assert decode(info.path).duration == pytest.approx(100 * FRAME_SECONDS, abs=GOP_SECONDS)


async def test_a_queue_overflow_fails_the_download_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "download.mp4"
    sink = await download(path, pattern_frames(Codec.H264, 100), max_frames=10)

    with pytest.raises(MediaError, match="overflow"):
        async with asyncio.timeout(30):
            await sink.wait_finished()
    assert sink.frames_lost > 0
    assert not path.exists()
    assert sink.is_closed


async def test_closing_abandons_the_download(tmp_path: Path) -> None:
    path = tmp_path / "download.mp4"
    sink = await download(path, pattern_frames(Codec.H264, 60))
    await sink.close()

    with pytest.raises(MediaError):
        async with asyncio.timeout(30):
            await sink.wait_finished()
    assert not path.exists()


def test_the_writer_refuses_new_parameter_sets_within_one_file(tmp_path: Path) -> None:
    small = encode_test_pattern(TestPatternSpec(CHANNEL_ID, width=160, height=96, loop_seconds=1))
    resized = [
        EsFrame(Codec.H264, frame.data, 90_000 * 4 + frame.pts, 90_000 * 4 + frame.pts,
                frame.is_keyframe, 0xE0)
        for frame in small.frames
    ]  # fmt: skip
    writer = Mp4FileWriter(tmp_path / "one.mp4")
    for frame in pattern_frames(Codec.H264, 100):
        writer.write(frame)

    with pytest.raises(MediaError, match="parameter sets changed"):
        for frame in resized:
            writer.write(frame)
    writer.abort()
    assert decode(tmp_path / "one.mp4").frame_count == 100


def test_each_gop_is_one_fragment_that_decodes_alone(tmp_path: Path) -> None:
    frames = pattern_frames(Codec.H264, 133, first=22)  # 3 P-frames, then 5 GOPs and 5 frames
    writer = Mp4FileWriter(tmp_path / "gops.mp4")
    for frame in frames:
        writer.write(frame)
    info = writer.close()

    assert info is not None and writer.frames_skipped == 3
    data = info.path.read_bytes()
    spans = []
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        spans.append((data[offset + 4 : offset + 8], offset, offset + size))
        offset += size
    assert [name for name, _, _ in spans] == [b"ftyp", b"moov"] + [b"moof", b"mdat"] * 6
    init = data[: spans[1][2]]
    counts = []
    for (_, start, _), (_, _, end) in zip(spans[2::2], spans[3::2], strict=True):
        alone = tmp_path / f"fragment-{start}.mp4"
        alone.write_bytes(init + data[start:end])
        decoded = decode(alone)
        assert decoded.starts_with_keyframe
        counts.append(decoded.frame_count)
    assert counts == [25] * 5 + [5]


def test_composition_offsets_are_kept(tmp_path: Path) -> None:
    """A stream whose pictures are presented a frame after they are decoded (B-frames)."""
    writer = Mp4FileWriter(tmp_path / "offsets.mp4")
    for frame in pattern_frames(Codec.H264, 50):
        writer.write(frame, (frame.pts + 3600, frame.dts))
    info = writer.close()

    assert info is not None
    with av.open(str(info.path)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    assert [int(packet.pts or 0) - int(packet.dts or 0) for packet in packets] == [3600] * 50
    assert decode(info.path).frame_count == 50
