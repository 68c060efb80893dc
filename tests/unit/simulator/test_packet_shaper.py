"""Deliberate loss and reordering of simulated streams, and their settings (gb28181.md §8.1)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.simulator import PacketShaper, StreamSettings, VideoCodec


def _packets(count: int, start: int = 0) -> list[bytes]:
    return [index.to_bytes(4, "big") for index in range(start, start + count)]


def test_without_misbehaviour_every_packet_passes_in_order() -> None:
    shaper = PacketShaper(loss=0.0, reorder=0.0, rng=random.Random(1))
    assert shaper.shape(_packets(10)) == _packets(10)
    assert shaper.flush() == []
    assert shaper.dropped == 0


def test_loss_drops_about_the_asked_fraction_and_counts_it() -> None:
    shaper = PacketShaper(loss=0.25, reorder=0.0, rng=random.Random(3))
    sent = [p for start in range(0, 4000, 40) for p in shaper.shape(_packets(40, start))]
    assert len(sent) + shaper.dropped == 4000
    assert 900 < shaper.dropped < 1100
    assert sent == sorted(sent)


def test_the_same_seed_gives_the_same_pattern() -> None:
    runs = [
        PacketShaper(loss=0.1, reorder=0.1, rng=random.Random(42)).shape(_packets(500))
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_a_reordered_packet_goes_out_right_after_the_next_one() -> None:
    shaper = PacketShaper(loss=0.0, reorder=0.3, rng=random.Random(5))
    sent = shaper.shape(_packets(200)) + shaper.flush()
    numbers = [int.from_bytes(p, "big") for p in sent]
    assert sorted(numbers) == list(range(200))
    swaps = [i for i in range(len(numbers) - 1) if numbers[i] > numbers[i + 1]]
    assert len(swaps) == shaper.reordered > 20
    for i in swaps:
        assert numbers[i] == numbers[i + 1] + 1  # swapped with its neighbour only


def test_a_packet_held_at_the_end_of_a_frame_follows_the_next_frames_first() -> None:
    class AlwaysLast(random.Random):
        def random(self) -> float:
            return 0.0

    shaper = PacketShaper(loss=0.0, reorder=0.5, rng=AlwaysLast())
    assert shaper.shape([b"a"]) == []
    assert shaper.shape([b"b", b"c"]) == [b"b", b"a"]  # c is held in turn
    assert shaper.flush() == [b"c"]


@settings(max_examples=50, deadline=None)
@given(
    loss=st.floats(0.0, 0.9),
    reorder=st.floats(0.0, 0.9),
    seed=st.integers(0, 1000),
    sizes=st.lists(st.integers(0, 10), max_size=30),
)
def test_nothing_is_duplicated_or_invented(
    loss: float, reorder: float, seed: int, sizes: list[int]
) -> None:
    shaper = PacketShaper(loss=loss, reorder=reorder, rng=random.Random(seed))
    given_packets: list[bytes] = []
    sent: list[bytes] = []
    for size in sizes:
        batch = _packets(size, len(given_packets))
        given_packets += batch
        sent += shaper.shape(batch)
    sent += shaper.flush()
    assert len(sent) == len(set(sent)) == len(given_packets) - shaper.dropped
    assert set(sent) <= set(given_packets)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loss": 1.0}, "loss"),
        ({"reorder": -0.1}, "reorder"),
        ({"stop_after": -1.0}, "stop_after"),
        ({"connect_attempts": 0}, "connect_attempts"),
        ({"connect_interval": 0.0}, "connect_interval"),
        ({"width": 161}, "even"),
        ({"fps": 0}, "fps"),
        ({"bitrate": 1}, "bitrate"),
    ],
)
def test_invalid_stream_settings_are_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StreamSettings(**changes)  # type: ignore[arg-type]


def test_the_f_line_describes_the_stream() -> None:
    assert StreamSettings().media_format == "v/2/4/25/1/1000a///"
    hd = StreamSettings(codec=VideoCodec.H265, width=1920, height=1080, fps=30, bitrate=4_000_000)
    assert hd.media_format == "v/5/6/30/1/4000a///"
    assert StreamSettings(width=176, height=144).media_format.startswith("v/2/1/")


def test_the_spec_takes_the_channel_and_a_one_second_gop_by_default() -> None:
    spec = StreamSettings(fps=30).spec_for("34020000001310000001")
    assert spec.channel_id == "34020000001310000001"
    assert spec.gop == 30
    assert StreamSettings(gop=10).spec_for("34020000001310000001").gop == 10
