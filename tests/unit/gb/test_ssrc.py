"""GB SSRC value object and allocator (farmwatch.sipserver.gb.ssrc; gb28181.md §6.3)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.gb.ssrc import (
    MAX_SSRC,
    Ssrc,
    SsrcAllocator,
    SsrcError,
    SsrcExhausted,
    SsrcKind,
    ssrc_prefix,
)

DOMAIN = "3402000000"
PLATFORM_ID = "34020000002000000001"


def test_example_of_the_reference_live_ssrc() -> None:
    ssrc = Ssrc.parse("0200000001")
    assert ssrc.value == 200_000_001 == 0x0BEBC201
    assert ssrc.hex == "0BEBC201"
    assert ssrc.text == "0200000001"
    assert ssrc.kind is SsrcKind.LIVE
    assert ssrc.tail == 1


@pytest.mark.parametrize(
    ("identifier", "prefix"),
    [(DOMAIN, "20000"), (PLATFORM_ID, "20000"), ("13010000002000000001", "10000")],
)
def test_prefix_is_digits_4_to_8(identifier: str, prefix: str) -> None:
    assert ssrc_prefix(identifier) == prefix


@pytest.mark.parametrize("identifier", ["", "3402", "34020000ab", "domain.example"])
def test_prefix_needs_a_numeric_id(identifier: str) -> None:
    with pytest.raises(SsrcError):
        SsrcAllocator(identifier)


def test_allocations_follow_the_layout() -> None:
    allocator = SsrcAllocator(DOMAIN)
    live = allocator.allocate(SsrcKind.LIVE)
    history = allocator.allocate(SsrcKind.HISTORY)
    assert live.text[:6] == "020000" and history.text[:6] == "120000"
    assert live.kind is SsrcKind.LIVE and history.kind is SsrcKind.HISTORY
    assert 0 < live.tail != history.tail > 0
    assert len(allocator) == 2


def test_tails_cannot_be_guessed_from_the_previous_ones() -> None:
    """A stranger who guesses the port and the SSRC could inject video (issue 13 item 5):
    the tail is drawn at random from the free ones (it was 0001, 0002... before)."""
    tails = [SsrcAllocator(DOMAIN).allocate(SsrcKind.LIVE).tail for _ in range(20)]
    assert len(set(tails)) > 10  # twenty fresh platforms do not all start at the same tail
    allocator = SsrcAllocator(DOMAIN)
    run = [allocator.allocate(SsrcKind.LIVE).tail for _ in range(20)]
    assert run != sorted(run) and len(set(run)) == 20
    seeded = [SsrcAllocator(DOMAIN, rng=random.Random(5)).allocate(SsrcKind.LIVE) for _ in "ab"]
    assert seeded[0] == seeded[1]  # tests can make it repeatable


def test_tails_are_unique_while_in_use_and_zero_padded() -> None:
    allocator = SsrcAllocator(PLATFORM_ID)
    ssrcs = [allocator.allocate(SsrcKind(i % 2)) for i in range(9999)]
    tails = {s.tail for s in ssrcs}
    assert len(tails) == 9999 and 0 not in tails
    assert all(len(s.text) == 10 and s.text[1:6] == "20000" for s in ssrcs)
    low = next(s for s in ssrcs if s.tail < 10)
    assert low.text[6:] == f"000{low.tail}"  # padded to four digits
    with pytest.raises(SsrcExhausted):
        allocator.allocate(SsrcKind.LIVE)
    assert allocator.release(ssrcs[41])
    assert allocator.allocate(SsrcKind.HISTORY).tail == ssrcs[41].tail


def test_released_tail_is_not_reused_while_others_are_free() -> None:
    allocator = SsrcAllocator(DOMAIN)
    first = allocator.allocate(SsrcKind.LIVE)
    assert allocator.release(first)
    others = [allocator.allocate(SsrcKind.LIVE) for _ in range(2000)]
    assert first.tail not in {s.tail for s in others}


def test_release_and_reserve_of_foreign_or_unknown_ssrcs() -> None:
    allocator = SsrcAllocator(DOMAIN)
    foreign = Ssrc.parse("0703001718")  # a Hikvision platform's own choice (wvp #127)
    assert not allocator.release(foreign)
    assert not allocator.reserve(foreign)
    ours = Ssrc.parse("0200000005")
    assert not allocator.release(ours)  # never allocated
    assert allocator.reserve(ours)
    assert not allocator.reserve(Ssrc.parse("1200000005"))  # same tail already in use
    assert 5 not in {allocator.allocate(SsrcKind.LIVE).tail for _ in range(9998)}
    assert allocator.release(ours)
    assert not allocator.release(ours)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0200000001", 200_000_001), ("200000001", 200_000_001), ("1", 1), (" 4294967295 ", MAX_SSRC)],
)
def test_parse_accepts_short_and_maximal_decimals(text: str, value: int) -> None:
    assert Ssrc.parse(text).value == value


@pytest.mark.parametrize(
    "text", ["", "4294967296", "9999999999", "02000000011", "0x0BEBC201", "-1", "12a4", "１２"]
)
def test_parse_rejects_others(text: str) -> None:
    with pytest.raises(SsrcError):
        Ssrc.parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0703001718", Ssrc(703_001_718)),
        (None, None),
        ("", None),
        ("0000000000", None),
        ("garbage", None),
    ],
)
def test_from_sdp_keeps_ours_when_the_answer_has_no_usable_ssrc(
    text: str | None, expected: Ssrc | None
) -> None:
    assert Ssrc.from_sdp(text) == expected


def test_non_gb_values_have_no_kind() -> None:
    assert Ssrc(3_000_000_000).kind is None
    assert Ssrc(1_999_999_999).kind is SsrcKind.HISTORY
    with pytest.raises(SsrcError):
        Ssrc(MAX_SSRC + 1)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=MAX_SSRC))
def test_text_round_trips(value: int) -> None:
    ssrc = Ssrc(value)
    assert len(ssrc.text) == 10
    assert Ssrc.parse(ssrc.text) == ssrc
    assert int(ssrc.hex, 16) == value


@settings(max_examples=200)
@given(st.text(max_size=15))
def test_parse_raises_only_ssrc_error(text: str) -> None:
    try:
        ssrc = Ssrc.parse(text)
    except SsrcError:
        return
    assert 0 <= ssrc.value <= MAX_SSRC
