"""A real `Stream` feeds the fMP4 and HLS sinks: a sink attached mid-GOP starts from the
stream's cached start, and what it produces decodes in PyAV."""

from __future__ import annotations

import asyncio
import io

import av

from farmwatch.media.frames import Codec
from farmwatch.media.settings import MediaSettings
from farmwatch.media.sinks import Fmp4Sink, HlsSink
from farmwatch.media.stream import Stream
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, gop_length, pattern_frames


async def test_sinks_attached_mid_gop_start_at_the_cached_keyframe() -> None:
    stream = Stream("34020000001320000001", MediaSettings())
    frames = pattern_frames(Codec.H264, 100)
    gop = gop_length(Codec.H264)
    join_at = gop + 7  # seven frames into the second GOP
    for frame in frames[:join_at]:
        stream.receiver_frame(frame)

    fmp4, hls = Fmp4Sink(name="fmp4"), HlsSink(name="hls")
    await hls.start()
    stream.attach(fmp4)
    stream.attach(hls)
    reader = asyncio.create_task(collect(fmp4))
    for frame in frames[join_at:]:
        stream.receiver_frame(frame)
        await asyncio.sleep(0)  # let the sinks' consumers run, as between datagrams
    await stream.aclose()
    async with asyncio.timeout(10):
        data = await reader
        await hls.wait_ended()

    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        pictures = [(f.width, f.height) for f in container.decode(video=0)]
    assert pictures == [(WIDTH, HEIGHT)] * (len(frames) - gop)  # from the cached keyframe on
    assert fmp4.is_closed  # its reader finished: the sink closed itself
    playlist = hls.resource("index.m3u8")
    assert playlist is not None and playlist.data.decode().count("#EXTINF") == 3
    await hls.close()


async def collect(sink: Fmp4Sink) -> bytes:
    return b"".join([chunk async for chunk in sink.chunks()])
