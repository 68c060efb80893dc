"""The demuxer's output does not depend on how the PS bytes are cut (STYLE B10 property)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farmwatch.media import EsFrame, PsDemuxer
from tests.unit.media.ps_samples import (
    AUDIO_ID,
    SYSTEM_HEADER,
    VIDEO_ID,
    encoded_access_units,
    ffmpeg_program_stream,
    pack_header,
    pes,
    program_stream_map,
)


def kitchen_sink() -> bytes:
    """A small stream touching every parser state: MPEG-1 and MPEG-2 packs, system header,
    PSM, split and unbounded video PES, audio, private stream, padding, garbage."""
    units = encoded_access_units("libx264")
    key, delta = units[0], units[1]
    psm = program_stream_map([(0x1B, VIDEO_ID, b"\x05\x04HEVC"), (0x90, AUDIO_ID, b"")])
    return b"".join(
        [
            b"\x00\x00garbage\x00\x00\x01",
            pack_header(0, stuffing=2),
            SYSTEM_HEADER,
            psm,
            pes(VIDEO_ID, key[:1000], 0),
            pes(VIDEO_ID, key[1000:3000]),
            pes(VIDEO_ID, key[3000:], 0),
            pes(AUDIO_ID, b"\xd5" * 80, 0),
            b"\x00\x00\x01\xbd\x00\x03abc",
            bytes.fromhex("000001BA2100010001800001"),
            pes(VIDEO_ID, delta, 3600, length=0),
            b"\x00\x00\x01\xbe\x00\x02\xff\xff",
            pack_header(7200),
            pes(VIDEO_ID, units[2], 7200),
            pes(AUDIO_ID, b"\x55" * 80),
            b"\x00\x00\x01\xb9",
        ]
    )


def run(data: bytes, cuts: list[int]) -> list[EsFrame]:
    demuxer = PsDemuxer()
    frames: list[EsFrame] = []
    previous = 0
    for cut in [*sorted(cuts), len(data)]:
        frames += demuxer.feed(data[previous:cut])
        previous = cut
    return frames + demuxer.flush()


def test_kitchen_sink_gives_the_same_frames_for_every_split_point() -> None:
    data = kitchen_sink()
    reference = run(data, [])
    units = encoded_access_units("libx264")
    assert [f.data for f in reference if f.stream_id == VIDEO_ID] == list(units[:3])
    assert len([f for f in reference if f.stream_id == AUDIO_ID]) == 2
    for cut in range(1, len(data)):
        assert run(data, [cut]) == reference, f"split at {cut}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=10_000), max_size=40))
def test_kitchen_sink_any_chunking(cuts: list[int]) -> None:
    data = kitchen_sink()
    assert run(data, [c % len(data) for c in cuts]) == run(data, [])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=1 << 20), min_size=1, max_size=120))
def test_ffmpeg_stream_any_chunking(cuts: list[int]) -> None:
    data = ffmpeg_program_stream("vob", "libx265")
    frames = run(data, [c % len(data) for c in cuts])
    assert frames == run(data, [])
    assert len(frames) == 30
