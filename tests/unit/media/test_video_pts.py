"""`video_pts`'s short way for the usual P-frame agrees with the general walk on any bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.media.ps_frame import video_pts, walk_to_video_pts
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType

PTS = st.integers(min_value=0, max_value=(1 << 33) - 1)


def _muxed(pts: int, size: int, key: bool, audio_first: bool) -> bytes:
    muxer = PsMuxer(PsMuxerConfig(audio=StreamType.G711A))
    video = muxer.mux_video(b"\x00\x00\x00\x01" + b"\x41" * size, pts, is_keyframe=key).data
    if audio_first:  # some devices put the frame's sound first: the walk must find the video
        return muxer.mux_audio(b"\xd5" * 160, pts).data + video[14:]
    return video


@given(PTS, st.integers(1, 3000), st.booleans(), st.booleans())
def test_a_muxed_frame_gives_its_pts_either_way(
    pts: int, size: int, key: bool, audio_first: bool
) -> None:
    data = _muxed(pts, size, key, audio_first)
    assert video_pts(data) == walk_to_video_pts(data, min(len(data), 4096)) == pts


@settings(max_examples=500)
@given(
    PTS,
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=4),
    st.integers(0, 60),
    st.integers(20, 4096),
)
def test_damaged_bytes_read_the_same_both_ways(
    pts: int, key: bool, changes: list[tuple[int, int]], cut: int, limit: int
) -> None:
    """Bytes changed in the headers (stuffing, flags, lengths, stream IDs), a tail cut off,
    a small limit: the short way returns what the walk returns, never something else."""
    data = bytearray(_muxed(pts, 200, key, audio_first=False))
    for position, value in changes:
        data[position] = value
    damaged = bytes(data[: len(data) - cut])
    assert video_pts(damaged, limit) == (
        walk_to_video_pts(damaged, min(len(damaged), limit))
        if damaged.startswith(b"\x00\x00\x01\xba")
        else None
    )


@given(PTS, st.integers(0, 7), st.integers(0, 7))
def test_a_pes_shorter_than_its_own_header_has_no_pts(pts: int, stuffing: int, length: int) -> None:
    data = bytearray(_muxed(pts, 200, key=False, audio_first=False))
    data[13] = (data[13] & 0xF8) | stuffing  # pack stuffing: the PES moves back
    data[14:14] = b"\xff" * stuffing
    at = 14 + stuffing
    data[at + 4 : at + 6] = length.to_bytes(2, "big")  # 0 is "unbounded": the PTS counts
    expected = pts if length == 0 else None
    assert video_pts(bytes(data)) == walk_to_video_pts(bytes(data), len(data)) == expected
