"""PortPool: even RTP ports with RTCP on port + 1, drawn at random, released ones kept out for
a while, exhaustion."""

from __future__ import annotations

import random

import pytest

from farmwatch.media.ports import PortPool, PortsExhausted
from farmwatch.media.settings import MediaSettings, parse_port_range


def test_allocates_even_ports_whose_rtcp_neighbour_is_in_range() -> None:
    pool = PortPool(30001, 30008)
    ports = [pool.allocate() for _ in range(pool.capacity)]
    assert sorted(ports) == [30002, 30004, 30006]
    assert all(port % 2 == 0 and port + 1 <= 30008 for port in ports)


def test_exhaustion_raises_and_release_makes_room() -> None:
    pool = PortPool(30000, 30003)
    first, second = pool.allocate(), pool.allocate()
    with pytest.raises(PortsExhausted):
        pool.allocate()
    pool.release(first)
    assert pool.allocate() == first
    assert pool.in_use == 2 and pool.is_in_use(second)


def test_ports_cannot_be_guessed_from_the_previous_ones() -> None:
    """A stranger who guesses the port and the SSRC could inject video (issue 13 item 5):
    ports are drawn at random (they were handed out in order before)."""
    firsts = {PortPool(30000, 30499).allocate() for _ in range(20)}
    assert len(firsts) > 10
    pool = PortPool(30000, 30499)
    run = [pool.allocate() for _ in range(20)]
    assert run != sorted(run) and len(set(run)) == 20
    seeded = [PortPool(30000, 30499, rng=random.Random(5)).allocate() for _ in "ab"]
    assert seeded[0] == seeded[1]  # tests can make it repeatable


def test_a_released_port_stays_out_of_the_draw_while_it_is_among_the_last_released() -> None:
    pool = PortPool(30000, 30099)  # 50 ports: the last 12 released stay out
    held = [pool.allocate() for _ in range(20)]
    first, others = held[0], held[1:12]
    for port in [first, *others]:
        pool.release(port)
    assert first not in [pool.allocate() for _ in range(30)]  # the never-used ones first
    assert pool.allocate() == first  # then the least recently released
    again = PortPool(30000, 30099)
    ports = [again.allocate() for _ in range(13)]
    for port in ports:  # the 13th release lets the first back into the draw
        again.release(port)
    assert ports[0] in [again.allocate() for _ in range(again.capacity - 12)]


def test_released_port_is_reused_last() -> None:
    pool = PortPool(30000, 30009)
    first = pool.allocate()
    pool.release(first)
    again = [pool.allocate() for _ in range(pool.capacity)]
    assert again[-1] == first and len(set(again)) == pool.capacity


def test_release_of_unknown_port_is_harmless_and_set_aside_removes() -> None:
    pool = PortPool(30000, 30003)
    pool.release(30000)
    pool.release(12345)
    assert pool.available == 2
    port = pool.allocate()
    pool.set_aside(port)
    pool.release(port)
    assert pool.available == 1 and pool.in_use == 0


def test_range_without_a_pair_is_rejected() -> None:
    with pytest.raises(ValueError):
        PortPool(30001, 30001)


def test_settings_parse_and_validate() -> None:
    assert parse_port_range("30000-30499") == (30000, 30499)
    assert MediaSettings().port_bounds == (30000, 30499)
    assert MediaSettings().validate() == []
    errors = MediaSettings(port_range="30500-30000", start_timeout=0).validate()
    assert any("port_range" in e for e in errors) and any("start_timeout" in e for e in errors)
    with pytest.raises(ValueError):
        parse_port_range("30000")
