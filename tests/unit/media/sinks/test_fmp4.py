"""fMP4 output: PyAV (an independent demuxer/decoder) reads back what the fMP4 sink wrote."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
import pytest

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks import Fmp4Muxer, Fmp4Sink, InitSegment, MediaFragment, codecs_string
from tests.unit.media.sinks.pattern import (
    HEIGHT,
    WIDTH,
    gop_length,
    pattern_frames,
    restamped,
)
from tests.unit.media.sps_samples import sps_bomb


def top_level_boxes(data: bytes) -> list[str]:
    boxes, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("ascii"))
        assert size >= 8
        offset += size
    assert offset == len(data)
    return boxes


def decode_mp4(data: bytes) -> tuple[list[tuple[int, int]], str]:
    """(width, height) of every decoded picture, and the sample entry's codec tag."""
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        stream = container.streams.video[0]
        tag = stream.codec_context.codec_tag
        sizes = [(frame.width, frame.height) for frame in container.decode(stream)]
    return sizes, tag


async def read_all(sink: Fmp4Sink, frames: Sequence[EsFrame]) -> list[bytes]:
    for frame in frames:
        sink.offer(frame)
    sink.end("test over")
    return [chunk async for chunk in sink.chunks()]


@pytest.mark.parametrize(("codec", "tag"), [(Codec.H264, "avc1"), (Codec.H265, "hvc1")])
async def test_sixty_frames_play_back_in_pyav(codec: Codec, tag: str) -> None:
    sink = Fmp4Sink(name="test")
    chunks = await read_all(sink, pattern_frames(codec, 60))

    assert top_level_boxes(chunks[0]) == ["ftyp", "moov"]
    assert len(chunks) >= 3
    for fragment in chunks[1:]:
        assert top_level_boxes(fragment) == ["moof", "mdat"]
    sizes, sample_entry = decode_mp4(b"".join(chunks))
    assert len(sizes) >= 50
    assert set(sizes) == {(WIDTH, HEIGHT)}
    assert sample_entry == tag


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_gop_fragments_each_start_with_a_keyframe_and_decode_alone(codec: Codec) -> None:
    """What HLS cuts its segments from: one fragment per GOP."""
    muxer = Fmp4Muxer()
    chunks = [c for frame in pattern_frames(codec, 60) for c in muxer.feed(frame)]
    chunks += muxer.finish()
    init = chunks[0].data
    fragments = [chunk.data for chunk in chunks[1:]]
    assert len(fragments) >= 2
    for fragment in fragments:
        with av.open(io.BytesIO(init + fragment), "r", format="mp4") as container:
            packets = [p for p in container.demux(video=0) if p.size]
        assert packets[0].is_keyframe
        sizes, _ = decode_mp4(init + fragment)  # decodes alone: needs nothing before it
        assert len(sizes) == len(packets) > 1


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
async def test_the_sink_sends_a_fragment_per_frame_starting_with_a_keyframe(
    codec: Codec,
) -> None:
    """A player starts from the first fragment at once (issue 14: first frame fast)."""
    sink = Fmp4Sink()
    frames = pattern_frames(codec, 60)
    chunks = await read_all(sink, frames)
    init, fragments = chunks[0], chunks[1:]
    assert len(fragments) == len(frames)
    with av.open(io.BytesIO(init + fragments[0]), "r", format="mp4") as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert len(packets) == 1 and packets[0].is_keyframe
    assert len(decode_mp4(init + fragments[0])[0]) == 1  # the first frame decodes alone
    assert len(decode_mp4(b"".join(chunks))[0]) == len(frames)


async def test_a_sink_joining_mid_stream_starts_at_the_next_keyframe() -> None:
    gop = gop_length(Codec.H264)
    late = pattern_frames(Codec.H264, 2 * gop + 5, first=7)  # joins 7 frames into a GOP
    sink = Fmp4Sink()
    chunks = await read_all(sink, late)

    with av.open(io.BytesIO(b"".join(chunks)), "r", format="mp4") as container:
        packets = [p for p in container.demux(video=0) if p.size]
        assert packets[0].is_keyframe
        assert packets[0].dts == 0
    sizes, _ = decode_mp4(b"".join(chunks))
    assert len(sizes) == len(late) - (gop - 7)


def test_fragments_carry_their_time_span() -> None:
    muxer = Fmp4Muxer()
    frames = pattern_frames(Codec.H264, 60)
    chunks = [chunk for frame in frames for chunk in muxer.feed(frame)] + muxer.finish()

    init, *fragments = chunks
    assert isinstance(init, InitSegment)
    assert (init.size.width, init.size.height, init.codec) == (WIDTH, HEIGHT, Codec.H264)
    assert all(isinstance(fragment, MediaFragment) for fragment in fragments)
    spans = [
        (f.start, f.duration, f.frame_count) for f in fragments if isinstance(f, MediaFragment)
    ]
    assert sum(count for _, _, count in spans) == 60
    assert spans[0][0] == 0
    for (start, duration, _), (next_start, _, _) in zip(spans, spans[1:], strict=False):
        assert start + duration == next_start
    assert spans[-1][0] + spans[-1][1] == 60 * 3600


def test_a_new_sps_starts_a_new_init_segment() -> None:
    muxer = Fmp4Muxer()
    h264 = pattern_frames(Codec.H264, 30)
    chunks = [chunk for frame in h264 for chunk in muxer.feed(frame)]
    other_sps = bytes(h264[0].data).replace(b"\x67\x42", b"\x67\x4d", 1)  # profile 66 → 77
    changed = EsFrame(Codec.H264, other_sps, 40 * 3600, 40 * 3600, True, 0xE0)
    chunks += muxer.feed(changed) + muxer.finish()

    inits = [chunk for chunk in chunks if isinstance(chunk, InitSegment)]
    assert [init.index for init in inits] == [0, 1]
    assert inits[1].codecs != inits[0].codecs
    last = chunks[-1]
    assert isinstance(last, MediaFragment) and last.init_index == 1


def test_a_damaged_keyframe_starts_the_output_but_never_replaces_it() -> None:
    h264 = pattern_frames(Codec.H264, 30)
    cut_short = bytes(h264[0].data).replace(b"\x67\x42", b"\x67\x4d", 1)[:-100]
    damaged = EsFrame(Codec.H264, cut_short, 40 * 3600, 40 * 3600, True, 0xE0, is_damaged=True)
    muxer = Fmp4Muxer()
    chunks = [chunk for frame in h264 for chunk in muxer.feed(frame)]
    chunks += muxer.feed(damaged) + muxer.finish()
    assert [c.index for c in chunks if isinstance(c, InitSegment)] == [0]
    assert muxer.frames_muxed == 31  # muxed as a frame of the running output
    late = Fmp4Muxer()  # a viewer joining at a damaged keyframe starts there
    assert isinstance(late.feed(damaged)[0], InitSegment)


def test_a_keyframe_whose_sps_does_not_parse_is_skipped() -> None:
    h264 = pattern_frames(Codec.H264, 30)
    key = h264[0].data
    pps_at = key.find(b"\x00\x00\x01\x68")
    assert pps_at > 0
    refused = EsFrame(Codec.H264, b"\x00\x00\x01" + sps_bomb(2000) + key[pps_at:], 0, 0, True, 0xE0)
    muxer = Fmp4Muxer()
    assert muxer.feed(refused) == [] and muxer.frames_skipped == 1
    assert isinstance(muxer.feed(h264[0])[0], InitSegment)


def test_codecs_strings_follow_rfc_6381() -> None:
    muxer = Fmp4Muxer()
    for codec, prefix in ((Codec.H264, "avc1.42C0"), (Codec.H265, "hvc1.1.6.L")):
        init = next(
            chunk
            for frame in pattern_frames(codec, 1)
            for chunk in Fmp4Muxer().feed(frame)
            if isinstance(chunk, InitSegment)
        )
        assert init.codecs.startswith(prefix)
    assert muxer.frames_muxed == 0
    sps = bytes.fromhex("42010101600000030090000003000003005aa0")  # Main, L90, tier L
    assert codecs_string(Codec.H265, sps) == "hvc1.1.6.L90.90"


async def test_close_ends_the_byte_stream_at_once() -> None:
    sink = Fmp4Sink()
    for frame in pattern_frames(Codec.H264, 10):
        sink.offer(frame)
    await sink.close()
    assert [chunk async for chunk in sink.chunks()] == []


async def test_the_sink_closes_when_its_reader_stops() -> None:
    sink = Fmp4Sink()
    for frame in pattern_frames(Codec.H264, 60):
        sink.offer(frame)
    reader = sink.chunks()
    first = await anext(reader)
    assert top_level_boxes(first) == ["ftyp", "moov"]
    assert not sink.is_closed
    await reader.aclose()  # the HTTP client went away
    assert sink.is_closed


def decoded_timestamps(data: bytes) -> list[int]:
    """The 90 kHz decode times PyAV reads from an fMP4 byte stream, in file order."""
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        stream = container.streams.video[0]
        scale = stream.time_base * 90_000
        return [int(p.dts * scale) for p in container.demux(stream) if p.size and p.dts is not None]


@pytest.mark.parametrize(
    "jump",
    [
        pytest.param(-10 * 90_000, id="restart-at-zero"),  # a device looping its file
        pytest.param(3 * 3600 * 90_000, id="three-hours-forward"),
        pytest.param(-90_000, id="one-second-back"),
    ],
)
async def test_timestamps_stay_monotonic_and_paced_through_a_jump(jump: int) -> None:
    before = restamped(pattern_frames(Codec.H264, 60), 10 * 90_000)
    after = restamped(pattern_frames(Codec.H264, 60), before[-1].dts + jump)
    sink = Fmp4Sink(max_frames=200)
    data = b"".join(await read_all(sink, before + after))

    times = decoded_timestamps(data)
    assert len(times) == 120
    steps = {later - earlier for earlier, later in zip(times, times[1:], strict=False)}
    assert steps == {3600}  # one 25 fps frame each, across the jump too
    sizes, _ = decode_mp4(data)
    assert len(sizes) == 120
