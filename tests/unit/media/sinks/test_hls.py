"""HLS output: the live playlist is well-formed and PyAV decodes the segments it lists."""

from __future__ import annotations

import asyncio
import io
import re

import av
import pytest

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import VideoSize
from farmwatch.media.sinks import (
    Fmp4Muxer,
    HlsPlaylist,
    HlsSink,
    InitSegment,
    MediaFragment,
)
from tests.unit.media.sinks.pattern import (
    HEIGHT,
    WIDTH,
    gop_length,
    pattern_frames,
    restamped,
)

TAG = re.compile(r"#EXT(M3U|INF:\d+\.\d{3},|-X-[A-Z-]+(:.+)?)")


def parse_playlist(text: str) -> tuple[dict[str, str], list[tuple[str, float, str]]]:
    """Tags (last value wins) and the segments as (map URI, EXTINF, URI), checking syntax."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags: dict[str, str] = {}
    segments: list[tuple[str, float, str]] = []
    current_map, duration = "", None
    for line in lines:
        if line.startswith("#"):
            assert TAG.fullmatch(line), line
            name, _, value = line.partition(":")
            tags[name] = value
            if name == "#EXT-X-MAP":
                current_map = value.removeprefix('URI="').removesuffix('"')
            if name == "#EXTINF":
                duration = float(value.rstrip(","))
        else:
            assert duration is not None and current_map, line
            segments.append((current_map, duration, line))
            duration = None
    return tags, segments


async def run_sink(frames: list[EsFrame], **options: float) -> HlsSink:
    sink = HlsSink(name="test", **options)  # type: ignore[arg-type]
    await sink.start()
    for frame in frames:
        sink.offer(frame)
    sink.end("test over")
    async with asyncio.timeout(10):
        await sink.wait_ended()
    return sink


def fetch(sink: HlsSink, name: str) -> bytes:
    resource = sink.resource(name)
    assert resource is not None, name
    return resource.data


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
async def test_playlist_segments_decode_in_pyav(codec: Codec) -> None:
    sink = await run_sink(pattern_frames(codec, 150))  # 6 s, GOP 1 s
    playlist = sink.resource("index.m3u8")
    assert playlist is not None and playlist.content_type == "application/vnd.apple.mpegurl"
    tags, segments = parse_playlist(playlist.data.decode())

    assert tags["#EXT-X-VERSION"] == "7"
    assert "#EXT-X-ENDLIST" in tags
    assert len(segments) == 6
    target = int(tags["#EXT-X-TARGETDURATION"])
    assert all(round(duration) <= target for _, duration, _ in segments)
    assert sum(duration for _, duration, _ in segments) == pytest.approx(6.0)
    decoded = 0
    for map_uri, _, uri in segments:
        with av.open(
            io.BytesIO(fetch(sink, map_uri) + fetch(sink, uri)), "r", format="mp4"
        ) as media:
            packets = [p for p in media.demux(video=0) if p.size]
            assert packets[0].is_keyframe
        with av.open(
            io.BytesIO(fetch(sink, map_uri) + fetch(sink, uri)), "r", format="mp4"
        ) as media:
            frames = list(media.decode(video=0))
        assert {(f.width, f.height) for f in frames} == {(WIDTH, HEIGHT)}
        decoded += len(frames)
    assert decoded == 150
    await sink.close()


async def test_the_live_window_slides_and_keeps_sequence_numbers() -> None:
    sink = await run_sink(pattern_frames(Codec.H264, 250), window=3, max_frames=300)  # 10 GOPs
    tags, segments = parse_playlist(fetch(sink, "index.m3u8").decode())

    assert tags["#EXT-X-MEDIA-SEQUENCE"] == "7"
    assert [uri for _, _, uri in segments] == [f"segment-{n}.m4s" for n in (7, 8, 9)]
    assert sink.resource("segment-4.m4s") is not None  # a few stay for late readers
    assert sink.resource("segment-0.m4s") is None
    assert sink.resource("nothing.m4s") is None
    await sink.close()


async def test_segments_group_short_gops_up_to_the_target() -> None:
    sink = await run_sink(pattern_frames(Codec.H264, 100), segment_seconds=2.0)
    _, segments = parse_playlist(fetch(sink, "index.m3u8").decode())
    assert [duration for _, duration, _ in segments] == [2.0, 2.0]
    await sink.close()


async def test_wait_segments_returns_once_the_first_segment_is_listed() -> None:
    sink = HlsSink()
    await sink.start()
    for frame in pattern_frames(Codec.H264, 30):  # one GOP closed by the next keyframe
        sink.offer(frame)
    async with asyncio.timeout(10):
        assert await sink.wait_segments(1)
    assert sink.playlist.segment_count == 1
    sink.end("device left")
    async with asyncio.timeout(10):
        assert await sink.wait_segments(2)  # the open GOP became the last segment
        assert not await sink.wait_segments(3)  # ended: no wait for what never comes
    await sink.close()
    assert sink.is_closed


def test_a_parameter_set_change_is_a_discontinuity_with_a_new_map() -> None:
    muxer, playlist = Fmp4Muxer(), HlsPlaylist(window=10)
    frames = pattern_frames(Codec.H264, 50)
    changed_sps = frames[0].data.replace(b"\x67\x42", b"\x67\x4d", 1)
    frames.append(EsFrame(Codec.H264, changed_sps, 50 * 3600, 50 * 3600, True, 0xE0))
    frames += pattern_frames(Codec.H264, 24, first=51)
    chunks = [chunk for frame in frames for chunk in muxer.feed(frame)] + muxer.finish()
    for chunk in chunks:
        playlist.add(chunk)
    playlist.finish()

    text = playlist.render()
    assert [isinstance(c, InitSegment) for c in chunks].count(True) == 2
    assert all(isinstance(c, InitSegment | MediaFragment) for c in chunks)
    assert text.count("#EXT-X-MAP") == 2
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index('#EXT-X-MAP:URI="init-1.mp4"')
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:0" in text


async def test_requests_are_timestamped_with_the_injected_clock() -> None:
    now = [100.0]
    sink = HlsSink(clock=lambda: now[0])
    assert sink.last_request_at == 100.0
    now[0] = 130.0
    assert sink.resource("index.m3u8") is not None
    assert sink.last_request_at == 130.0
    await sink.close()


async def test_the_playlist_keeps_growing_when_the_device_restarts_its_timestamps() -> None:
    # A device looping a file starts it again at PTS 0 every 2 s (issue 13).
    frames = [
        frame
        for start in range(4)
        for frame in restamped(pattern_frames(Codec.H264, 50, first=50 * start), 0)
    ]
    sink = await run_sink(frames, window=10, max_frames=300)
    tags, segments = parse_playlist(fetch(sink, "index.m3u8").decode())

    assert [duration for _, duration, _ in segments] == [1.0] * 8
    data = fetch(sink, segments[0][0]) + b"".join(fetch(sink, uri) for _, _, uri in segments)
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        times = [packet.pts for packet in container.demux(video=0) if packet.size]
    assert len(times) == 200 and times == sorted(set(times))
    await sink.close()


def test_pending_fragments_are_bounded_even_when_they_never_add_up_to_a_segment() -> None:
    playlist = HlsPlaylist(segment_seconds=1.0, window=3)
    init = InitSegment(b"init", 0, Codec.H264, VideoSize(WIDTH, HEIGHT), "avc1.42C01E")
    playlist.add(init)
    for _ in range(3000):  # timestamps that no longer advance: fragments of no duration
        playlist.add(MediaFragment(b"x" * 100, 0, 0, 0, 1, starts_with_keyframe=False))
    assert playlist.segment_count == 3
    assert playlist.pending_fragments < 1000


def _fragment(start: int, *, keyframe: bool) -> MediaFragment:
    return MediaFragment(b"f", 0, start * 3600, 3600, 1, starts_with_keyframe=keyframe)


def test_segments_are_cut_at_key_frames_and_a_long_gop_at_ten_seconds() -> None:
    playlist = HlsPlaylist(segment_seconds=1.0, window=10)
    playlist.add(InitSegment(b"init", 0, Codec.H264, VideoSize(WIDTH, HEIGHT), "avc1.42C01E"))
    for index in range(75):  # GOP 1.2 s: 30 frames
        playlist.add(_fragment(index, keyframe=index % 30 == 0))
    for index in range(75, 75 + 300):  # then no key frame for 12 s
        playlist.add(_fragment(index, keyframe=index == 90))
    playlist.finish()
    tags, segments = parse_playlist(playlist.render())

    assert [duration for _, duration, _ in segments] == [1.2, 1.2, 1.2, 10.0, 1.4]
    assert "#EXT-X-INDEPENDENT-SEGMENTS" not in tags  # the last starts without a key frame


def test_cut_first_lists_the_joined_gop_at_once_and_marks_what_follows() -> None:
    playlist = HlsPlaylist(segment_seconds=1.0, window=2)
    playlist.add(InitSegment(b"init", 0, Codec.H264, VideoSize(WIDTH, HEIGHT), "avc1.42C01E"))
    playlist.add(_fragment(0, keyframe=True))
    playlist.add(_fragment(1, keyframe=False))
    assert playlist.cut_first()
    assert not playlist.cut_first()  # once only
    tags, segments = parse_playlist(playlist.render())
    assert [duration for _, duration, _ in segments] == [0.08]
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in tags

    for index in range(2, 26):  # the rest of the GOP (shorter than a segment), a key frame
        playlist.add(_fragment(index, keyframe=index == 25))
    tags, segments = parse_playlist(playlist.render())
    assert [duration for _, duration, _ in segments] == [0.08, 0.92]
    assert "#EXT-X-INDEPENDENT-SEGMENTS" not in tags  # the second began mid-GOP

    for index in range(26, 76):  # GOPs of 1 s
        playlist.add(_fragment(index, keyframe=index % 25 == 0))
    tags, segments = parse_playlist(playlist.render())
    assert [uri for _, _, uri in segments] == ["segment-2.m4s", "segment-3.m4s"]
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in tags  # it slid out of the window


async def test_a_new_output_lists_the_kept_gop_without_waiting_for_the_next_key_frame() -> None:
    # What a stream offers a new output: its last key frame and the frames since, at once.
    frames = pattern_frames(Codec.H264, gop_length(Codec.H264) * 2)
    sink = HlsSink(name="test")
    await sink.start()
    for frame in frames[:12]:
        sink.offer(frame)
    async with asyncio.timeout(10):
        assert await sink.wait_segments(1)  # no key frame has followed
    tags, segments = parse_playlist(fetch(sink, "index.m3u8").decode())
    assert len(segments) == 1 and segments[0][1] < 1.0
    first = fetch(sink, segments[0][0]) + fetch(sink, segments[0][2])
    with av.open(io.BytesIO(first), "r", format="mp4") as media:
        packets = [packet for packet in media.demux(video=0) if packet.size]
    assert packets[0].is_keyframe and 1 <= len(packets) <= 12

    for frame in frames[12:]:  # live frames: the rest of that GOP, the next one
        sink.offer(frame)
    sink.end("test over")
    async with asyncio.timeout(10):
        await sink.wait_ended()
    tags, segments = parse_playlist(fetch(sink, "index.m3u8").decode())
    assert "#EXT-X-INDEPENDENT-SEGMENTS" not in tags
    data = fetch(sink, segments[0][0]) + b"".join(fetch(sink, uri) for _, _, uri in segments)
    with av.open(io.BytesIO(data), "r", format="mp4") as media:
        decoded = list(media.decode(video=0))
    assert len(decoded) == len(frames)  # played in order, every frame decodes
    await sink.close()
