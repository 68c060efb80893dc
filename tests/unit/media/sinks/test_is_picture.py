"""`is_picture`'s short way for the usual frame agrees with `classify_frame` on any bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType
from farmwatch.media.sinks.ps_scan import FrameKind, classify_frame, is_picture


def _muxed(size: int, key: bool, audio_first: bool) -> bytes:
    muxer = PsMuxer(PsMuxerConfig(audio=StreamType.G711A))
    video = muxer.mux_video(b"\x00\x00\x00\x01" + b"\x41" * size, 90_000, is_keyframe=key).data
    if audio_first:  # sound first: not where a picture starts
        return muxer.mux_audio(b"\xd5" * 160, 90_000).data + video[14:]
    return video


@given(st.integers(1, 3000), st.booleans(), st.booleans())
def test_a_muxed_frame_reads_the_same_both_ways(size: int, key: bool, audio_first: bool) -> None:
    data = _muxed(size, key, audio_first)
    assert is_picture(data) is (classify_frame(data) is FrameKind.PICTURE) is (not audio_first)


@settings(max_examples=1000)
@given(
    st.booleans(),
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=4),
    st.one_of(st.none(), st.integers(0, 40)),
)
def test_damaged_bytes_read_the_same_both_ways(
    key: bool, audio_first: bool, changes: list[tuple[int, int]], kept: int | None
) -> None:
    """Header bytes changed (stuffing, the MPEG version bits, start codes, stream IDs), or
    only the first few bytes kept: the short way says what the general one says."""
    data = bytearray(_muxed(200, key, audio_first))
    for position, value in changes:
        data[position] = value
    damaged = bytes(data if kept is None else data[:kept])
    assert is_picture(damaged) is (classify_frame(damaged) is FrameKind.PICTURE)
